// bbc_task.c: the Bigram-Backcopy generator (see bbc_task.h).
#include "bbc_task.h"

#include <math.h>
#include <stdlib.h>

int bbc_init(BbcTask *t, int vocab_size, int n_triggers, uint64_t seed, Error *err) {
    t->cdf = NULL;
    if (vocab_size < 4 || vocab_size > 65536) return err_set(err, "--vocab: %d out of range (4..65536)", vocab_size);
    if (n_triggers < 0 || n_triggers > vocab_size - 3)
        return err_set(err, "--triggers: %d out of range (0..%d)", n_triggers, vocab_size - 3);
    t->vocab_size = vocab_size;
    t->n_triggers = n_triggers;
    t->cdf = malloc((size_t)vocab_size * vocab_size * sizeof(double));
    if (!t->cdf) return err_set(err, "out of memory for a %d x %d bigram table", vocab_size, vocab_size);
    Rng r;
    rng_seed(&r, seed);
    for (int a = 0; a < vocab_size; a++) {
        double *row = t->cdf + (size_t)a * vocab_size, sum = 0;
        row[BBC_BOS] = 0;
        for (int b = 1; b < vocab_size; b++) sum += row[b] = exp(2.0 * rng_normal(&r));
        double acc = 0;
        for (int b = 0; b < vocab_size; b++) row[b] = (acc += row[b]) / sum;
        row[vocab_size - 1] = 1.0;
    }
    return 0;
}

void bbc_free(BbcTask *t) {
    free(t->cdf);
    t->cdf = NULL;
}

int bbc_is_trigger(const BbcTask *t, int token) { return token >= 1 && token <= t->n_triggers; }

// ANCHOR: bbc_sample
void bbc_sample(const BbcTask *t, Rng *r, int *seq, int n) {
    if (n <= 0) return;
    seq[0] = BBC_BOS;
    for (int i = 1; i < n; i++) {
        int prev = seq[i - 1];
        if (i >= 3 && bbc_is_trigger(t, prev)) { // back-copy: the token before the trigger
            seq[i] = seq[i - 2];
            continue;
        }
        const double *row = t->cdf + (size_t)prev * t->vocab_size;
        double u = rng_uniform(r);
        int b = 1;
        while (b < t->vocab_size - 1 && row[b] <= u) b++;
        seq[i] = b;
    }
}
// END: bbc_sample
