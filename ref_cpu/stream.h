// stream.h: a model reading an endless stream of tokens under a KV-cache policy (policy.h), on
// the CPU or the GPU. The policies are written once, here and in policy.c; a device only runs
// blocks of tokens and keeps the slots it is told to keep (StreamDeviceOps). The CPU device is
// stream_cpu.c, the CUDA one gpu/stream.cu.
//
// A step appends a block of tokens, then the policy's evict says which slots survive. The cache
// is allocated once, S + W slots plus room for the block in flight; nothing grows but the dense
// cache, which is sized for the whole run up front.
#ifndef STREAM_H
#define STREAM_H

#include "forward.h"
#include "policy.h"

// Called after each layer's attention with its probabilities att[Hq, T, capacity] for the T
// queries of the block (slots n_keys - T..n_keys - 1), for the pictures.
typedef void (*AttentionFn)(void *ctx, int layer, const float *att, int T, int n_keys, int capacity);

// ANCHOR: device_ops
// What a device does for the stream. Slots are logical: 0..len-1 in stream order.
typedef struct {
    const char *name; // "cpu", "cuda"
    // Runs tokens[T] into the next T slots (the caller checked they fit), each query seeing
    // `view`. logits gets [T, V] if all, else [V] for the last token; NULL: no logits (the
    // output head skipped, for blocks whose predictions nobody reads).
    int (*forward)(void *dev, float *logits, const int *tokens, int T, int all, AttnView view, Error *err);
    // Keeps slots[n] (increasing) and moves them down to slots 0..n-1.
    int (*keep)(void *dev, const int *slots, int n, Error *err);
    void (*reset)(void *dev); // empty cache
    void (*free)(void *dev);
    // Optional (NULL when the device cannot): report each layer's attention probabilities.
    int (*watch_attention)(void *dev, AttentionFn fn, void *ctx, Error *err);
    // "the CPU", "NVIDIA H100 80GB HBM3 (CUDA driver 12.8, 132 SMs)"
    const char *(*describe)(const void *dev);
    // Bytes the device holds for the cache (keys, values and any copies of them).
    size_t (*cache_bytes)(const void *dev);
} StreamDeviceOps;

// Opens a device for model m with `slots` cache slots and blocks of up to `block` tokens;
// ring_sinks: slots that never move (the GPU's ring keeps them out of its turn).
typedef int (*StreamDeviceOpen)(const StreamDeviceOps **ops, void **dev, const Model *m, int slots, int block,
                                int ring_sinks, Error *err);
// END: device_ops

int stream_cpu_open(const StreamDeviceOps **ops, void **dev, const Model *m, int slots, int block, int ring_sinks,
                    Error *err);

typedef struct {
    const Model *model;
    Policy policy;
    const PolicyDef *def;
    const StreamDeviceOps *ops;
    void *dev;
    int capacity;        // slots the device holds
    int block;           // the most tokens the device runs at once
    int len;             // slots in use
    long n_seen;         // tokens fed since the last reset (during a block: those before it)
    long *pos;           // [capacity] stream position of the token in each slot
    int *keep;           // [capacity] eviction scratch: the slots that survive
    int *recent;         // recompute: [W] the last tokens of the stream
    int n_recent;
} Stream;

// max_tokens bounds what a dense cache (or a reference prefill) must hold; other policies
// ignore it beyond that. stream_init runs on the CPU; stream_init_on on the device `open` opens.
int stream_init(Stream *s, const Model *m, const Policy *p, int max_tokens, Error *err);
int stream_init_on(Stream *s, const Model *m, const Policy *p, int max_tokens, StreamDeviceOpen open, Error *err);
void stream_free(Stream *s);
void stream_reset(Stream *s);
// Feeds tokens[n] through the model under the policy. logits gets [n, V] if all_logits (one row
// per token, as token-by-token decoding would give) else [V] for the last token.
int stream_feed(Stream *s, const int *tokens, int n, float *logits, int all_logits, Error *err);
// The slots the next token will see, in order (the sinks and the last W of a lazy policy's
// cache, which may hold up to a block more); returns their number. slots: [capacity].
int stream_view(const Stream *s, int *slots);
// Their number: what the cache holds for the model, as reports print it ("cache N of S+W").
int stream_visible(const Stream *s);
// recompute only: toks[n] (n < W) become the recent window without being run, so a timing can
// start from a full window.
void stream_prime_recent(Stream *s, const int *toks, int n);
// Each layer's attention goes to fn from now on; fails on a device that cannot report it.
int stream_watch_attention(Stream *s, AttentionFn fn, void *ctx, Error *err);
// Bytes the cache holds.
size_t stream_cache_bytes(const Stream *s);
const char *stream_device(const Stream *s);
// Recompute: appends tok to recent[*n] (at most W), dropping the oldest when full.
void recent_push(int *recent, int *n, int W, int tok);

#endif
