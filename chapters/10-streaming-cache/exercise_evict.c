// Exercise 10: evict like a sink cache, then `make exercise-10` streams tokens through your
// function and through the real sinks policy (policy.c) and prints PASS or the first difference.
#include "exercises.h"

// pos[*len] holds the stream positions of the tokens in the cache, oldest first; a new token has
// just been appended. Keep the first n_sink entries and the last `window` ones (when there are
// more than n_sink + window), moved down so they follow the sinks, and update *len.
void exercise_evict(long *pos, int *len, int n_sink, int window) {
    (void)pos, (void)len, (void)n_sink, (void)window; // TODO: your code here
}
