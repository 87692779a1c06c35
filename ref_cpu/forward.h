// forward.h: the forward pass of both families over a block of T tokens that continues the
// sequence held in a KV cache. T > 1 is a prefill, T = 1 a decode step: one code path.
#ifndef FORWARD_H
#define FORWARD_H

#include "attn_view.h"
#include "kvcache.h"
#include "model.h"
#include "ops.h"

// Activations for blocks of up to max_T tokens, attending over up to `capacity` cached slots.
typedef struct {
    int max_T, capacity;
    float *x;        // [max_T, D] residual stream
    float *xb;       // [max_T, D] normed input of a sub-block
    float *xb2;      // [max_T, D] output of a sub-block
    float *q;        // [max_T, Hq*hd] queries rotated at their slot positions
    float *q_sink;   // [max_T, Hq*hd] queries rotated at their position as seen by the sinks
    float *k, *v;    // [max_T, Hkv*hd]
    float *att_out;  // [max_T, Hq*hd]
    float *hb, *hb2; // [max_T, F]
    Q8Block *xq;     // [max_T, max(D, F, Hq*hd) / 32] input of a quantized product, as 8-bit blocks
    float *att;      // [Hq, max_T, capacity] attention probabilities of the last layer run
    float *att_part; // attention_part_floats(max_T, capacity, Hq, head_dim): tiles' shares
    int *pos;        // [max_T] positions of the block's queries
    int n_sink;      // attention view: slots 0..n_sink-1 are sinks, always visible
    int window;      // each query sees the sinks and its last `window` predecessors; 0 = all
    RopeTable rope;  // positions 0..capacity-1
    // Optional: called after each layer's attention with its probabilities, for the pictures.
    void (*on_attention)(void *ctx, int layer, const float *att, int T, int n_keys, int capacity);
    void *on_attention_ctx;
} RunState;

int runstate_init(RunState *s, const Config *cfg, int max_T, int capacity, Error *err);
void runstate_free(RunState *s);

// Runs tokens[T] through the model, appending them to the cache (which must have room for
// them: eviction is the caller's policy). Writes logits[T, V] if all_logits, else logits[V]
// for the last token only (none when logits is NULL). Fails on out-of-range tokens or a full
// cache.
int model_forward(float *logits, const Model *m, KVCache *c, RunState *s, const int *tokens, int T,
                  int all_logits, Error *err);

// One block of at most s->max_T tokens (model_forward splits longer input into such blocks).
void llama_block_forward(float *x, const LayerWeights *lw, const Config *cfg, KVCache *c, RunState *s, int l,
                         int T, int n_past);
void neox_block_forward(float *x, const LayerWeights *lw, const Config *cfg, KVCache *c, RunState *s, int l,
                        int T, int n_past);
// The attention sub-block shared by both: out[T, D] from the normed input in[T, D].
void attention_block_forward(float *out, const float *in, const LayerWeights *lw, const Config *cfg, KVCache *c,
                             RunState *s, int l, int T, int n_past);
// Plain causal attention over a dense cache (the teaching version): the query at position
// n_past + t sees keys 0..n_past + t. att[n_heads, T, n_past + T] receives the probabilities.
void attention_causal_forward(float *out, float *att, const float *q, const float *k, const float *v, int T,
                              int n_past, int n_heads, int n_kv_heads, int head_dim);
// Scaled dot-product attention over the cache for the T queries of a block at slots
// n_past..n_past+T-1. A query at `slot` sees the sinks (slots < min(n_sink, slot)) and the
// slots from attention_window_start() up to itself (window 0: every earlier slot). Scores against window
// keys use q (rotated at the query's slot); scores against sinks use q_sink, rotated at the
// position the query would have had if the window slots before it had been evicted: exactly the
// numbers token-by-token decoding gives. att[Hq, T, capacity] receives the probabilities (zero
// outside the visible slots).
void attention_forward(float *out, float *att, const float *q, const float *q_sink, const float *k_rot,
                       const float *v, int T, int n_past, int n_sink, int window, int n_heads, int n_kv_heads,
                       int head_dim, int capacity);
// attention_forward in tiles of ATT_TILE visible keys, each tile one task that reads every key and
// value row once for all heads; the tiles are merged by rescaling to the largest score. Equal to
// attention_forward to float rounding, and a token's numbers do not depend on T. part: scratch of
// attention_part_floats(T, capacity, n_heads, head_dim) floats.
enum { ATT_TILE = 128 };
size_t attention_part_floats(int T, int capacity, int n_heads, int head_dim);
void attention_tiled_forward(float *out, float *att, float *part, const float *q, const float *q_sink,
                             const float *k_rot, const float *v, int T, int n_past, int n_sink, int window,
                             int n_heads, int n_kv_heads, int head_dim, int capacity);

#endif
