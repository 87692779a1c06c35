// make exercise-10: your eviction against the real policy's (policy.c, what both devices run).
#include "checks.h"
#include "exercises.h"

int main(void) {
    char msg[512];
    return check_report("sink-cache eviction", check_evict(exercise_evict, msg, sizeof msg), msg);
}
