// bbc_task.h: the Bigram-Backcopy task of Guo et al. 2024 ("Active-dormant attention heads").
//
// Token 0 is BOS and starts every sequence; tokens 1..V-1 are ordinary, and the first
// n_triggers of them (1..n_triggers) are triggers. Each next token is drawn from a fixed random
// bigram table given the current token, except right after a trigger, where it repeats the
// token before the trigger:  ... a  trigger  a ...   Only trigger positions need attention
// (to look one token back); everywhere else the current token alone predicts the next one, and
// an attention head has nothing to do.
#ifndef BBC_TASK_H
#define BBC_TASK_H

#include <stdint.h>

#include "error.h"
#include "rng.h"

#define BBC_BOS 0

typedef struct {
    int vocab_size;   // V, BOS included
    int n_triggers;   // tokens 1..n_triggers are triggers
    double *cdf;      // [V, V] cumulative next-token probabilities per current token (BOS never drawn)
} BbcTask;

// The bigram table is drawn from `seed`: row a is softmax(2 z), z ~ N(0, 1) per ordinary token.
int bbc_init(BbcTask *t, int vocab_size, int n_triggers, uint64_t seed, Error *err);
void bbc_free(BbcTask *t);
int bbc_is_trigger(const BbcTask *t, int token);
// seq[n]: BOS, then tokens by the rule above.
void bbc_sample(const BbcTask *t, Rng *r, int *seq, int n);

#endif
