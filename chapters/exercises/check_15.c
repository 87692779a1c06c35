// make exercise-15: your softmax backward against finite differences.
#include "checks.h"
#include "checks_train.h"

int main(void) {
    char msg[512];
    return check_report("softmax backward", check_softmax_backward(exercise_softmax_backward, msg, sizeof msg), msg);
}
