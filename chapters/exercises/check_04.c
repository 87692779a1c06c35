// make exercise-04: your causal attention against attention_causal_forward.
#include "checks.h"
#include "exercises.h"

int main(void) {
    char msg[512];
    return check_report("causal attention", check_attention(exercise_attention, msg, sizeof msg), msg);
}
