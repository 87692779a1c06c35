// stream.h: a model reading an endless stream of tokens under a KV-cache policy.
//
//   dense      every token stays; positions grow with the stream (memory grows too)
//   window     the last W tokens only (S = 0)
//   sinks      the first S tokens of the stream ("attention sinks") + the last W: StreamingLLM
//   recompute  for each token, rerun the last L = W tokens from scratch at positions 0..L-1 and
//              keep the last logits: the quality oracle, O(L) forward work per token
//
// A step appends a block of tokens, then evicts back to S + W (sinks, window): the oldest
// non-sink tokens go first. The cache is allocated once, S + W slots plus room for the block
// in flight; nothing grows but the dense cache, which is sized for the whole run up front.
#ifndef STREAM_H
#define STREAM_H

#include "forward.h"

typedef enum { POLICY_DENSE, POLICY_WINDOW, POLICY_SINKS, POLICY_RECOMPUTE } PolicyKind;

typedef struct {
    PolicyKind kind;
    int n_sink;          // S: sinks kept (POLICY_SINKS); 0 otherwise
    int window;          // W: recent tokens kept (window, sinks) or re-run (recompute); dense: unused
    int chunk;           // tokens per forward block when a long input is fed (default W, at most W)
    int reference_prefill; // feed a long input as ONE dense pass, then evict (what the reference
                         // implementations do; breaks past the trained context), for comparison
} Policy;

typedef struct {
    const Model *model;
    Policy policy;
    KVCache cache;
    RunState state;
    int max_tokens;      // dense / reference prefill: the most tokens the cache can ever hold
    int *recent;         // recompute: [window] the last tokens of the stream
    int n_recent;
    float *scratch;      // recompute: [V] logits of the rerun
} Stream;

const char *policy_name(PolicyKind k);
// "dense", "window 1020", "sinks 4+1020": how the figures and reports name a policy.
void policy_label(char *buf, size_t n, const Policy *p);
int policy_parse(PolicyKind *k, const char *name, Error *err);
// Checks sizes against the model: S >= 0, W >= 1, S + W within the trained context (unless
// `force`), chunk within 1..W. Fills defaults (chunk = W).
int policy_validate(Policy *p, const Config *cfg, int force, Error *err);

// The cache a policy needs: *slots (kept tokens and the block in flight) and *block (tokens
// per forward block). Shared by the CPU stream and the GPU one (gpu/stream.cu).
void stream_sizes(const Policy *p, int max_tokens, int *slots, int *block);
// Recompute: appends tok to recent[*n] (at most W), dropping the oldest when full.
void recent_push(int *recent, int *n, int W, int tok);

// max_tokens bounds what a dense cache (or a reference prefill) must hold; other policies
// ignore it beyond that.
int stream_init(Stream *s, const Model *m, const Policy *p, int max_tokens, Error *err);
void stream_free(Stream *s);
void stream_reset(Stream *s);
// Feeds tokens[n] through the model under the policy. logits gets [n, V] if all_logits (one row
// per token, as token-by-token decoding would give) else [V] for the last token.
int stream_feed(Stream *s, const int *tokens, int n, float *logits, int all_logits, Error *err);
// Bytes the cache holds for one token, and the number of slots it has.
size_t stream_cache_bytes(const Stream *s);

#endif
