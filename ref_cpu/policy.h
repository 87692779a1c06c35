// policy.h: the KV-cache policies, each written once and run by the stream driver (stream.c) on
// either device.
//
//   dense      every token stays; positions grow with the stream (memory grows too)
//   window     the last W tokens only (S = 0)
//   sinks      the first S tokens of the stream ("attention sinks") + the last W: StreamingLLM
//   recompute  for each token, rerun the last L = W tokens from scratch at positions 0..L-1 and
//              keep the last logits: the quality oracle, O(L) forward work per token
//   strided    S sinks + W slots that reach further back: the newest half of W dense, the
//              older half only every K-th token (--stride K); K = 1 is exactly sinks
//
// A policy is a row of the table in policy.c: its name, what it takes, and an `evict` function
// that says which slots survive after a block. Adding one is a file with its evict function
// (declared below) and a row (policy_strided.c is the example).
#ifndef POLICY_H
#define POLICY_H

#include <stddef.h>

#include "attn_view.h"
#include "error.h"
#include "model.h"

// The paper's cache, 4 sinks + 1020 recent tokens, and the block sizes long inputs are fed in.
enum {
    POLICY_PAPER_SINKS = 4,
    POLICY_PAPER_WINDOW = 1020,
    POLICY_MAX_CHUNK = 256,  // bounds the attention scratch: [Hq, chunk, slots] floats
    POLICY_DENSE_CHUNK = 64, // dense has no W to bound its blocks
    POLICY_DEFAULT_STRIDE = 4,
};

typedef enum { POLICY_DENSE, POLICY_WINDOW, POLICY_SINKS, POLICY_RECOMPUTE, POLICY_STRIDED, POLICY_COUNT } PolicyKind;

typedef struct {
    PolicyKind kind;
    int n_sink;          // S: sinks kept (sinks, strided); 0 otherwise
    int window;          // W: recent tokens kept (window, sinks, strided) or re-run (recompute); dense: unused
    int chunk;           // tokens per forward block when a long input is fed (default W, at most W)
    int reference_prefill; // feed a long input as ONE dense pass, then evict (what the reference
                         // implementations do; breaks past the trained context), for comparison
    int stride;          // strided: K, keep every K-th older token (default 4); others: unused
} Policy;

// ANCHOR: policy_def
typedef struct {
    const char *name;    // as --policy spells it
    const char *summary; // one line for --help
    int takes_sinks;     // uses --sinks
    int bounded;         // a cache of S + W slots (+ the block in flight); else dense's max_tokens
    int rerun;           // recompute: every token reruns the recent window from an empty cache
    int lazy;            // the view (policy_view) hides exactly what evict drops: eviction can wait
                         // until the cache is full, and moves keys once per block, not per token
    // After a block: writes the slots to keep, increasing, to keep[] and returns their number.
    // pos[len] is the stream position of each slot's token. NULL: nothing is ever evicted.
    int (*evict)(int *keep, const long *pos, int len, const Policy *p);
} PolicyDef;
// END: policy_def

const PolicyDef *policy_def(PolicyKind k);
const char *policy_name(PolicyKind k);
// "dense", "window 1020", "sinks 4+1020", "strided 4+1020/4": how figures and reports name a policy.
void policy_label(char *buf, size_t n, const Policy *p);
int policy_parse(PolicyKind *k, const char *name, Error *err);
// "dense, window, sinks, recompute or strided", for messages and --help.
const char *policy_names(void);
// Checks sizes against the model: S >= 0, W >= 1, S + W within the trained context (unless
// `force`), chunk within 1..W. Fills defaults (chunk, stride).
int policy_validate(Policy *p, const Config *cfg, int force, Error *err);
// What a query sees while the policy runs a block (attn_view.h).
AttnView policy_view(const Policy *p);
// The cache a policy needs: *slots (kept tokens and the block in flight) and *block (tokens
// per forward block).
void policy_sizes(const Policy *p, int max_tokens, int *slots, int *block);

// The evict functions of the paper's policies, for tests and exercises: keep the first S slots
// and the last W (S = 0 for window).
int policy_keep_sinks_and_recent(int *keep, const long *pos, int len, const Policy *p);
// Sinks + stride (policy_strided.c).
int policy_keep_strided(int *keep, const long *pos, int len, const Policy *p);

#endif
