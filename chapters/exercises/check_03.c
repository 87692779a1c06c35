// make exercise-03: your softmax and RMSNorm against ref_cpu/ops.c.
#include "checks.h"
#include "exercises.h"

int main(void) {
    char msg[512];
    int failed = check_report("softmax", check_softmax(exercise_softmax, msg, sizeof msg), msg);
    failed |= check_report("rmsnorm", check_rmsnorm(exercise_rmsnorm, msg, sizeof msg), msg);
    return failed;
}
