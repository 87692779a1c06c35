// kvcache.h: the key/value cache, allocated once with a fixed number of slots per layer.
//
// Keys are stored BEFORE rotary embedding, as the StreamingLLM authors do: a key's position is
// its slot in the cache, not its place in the stream, so when old tokens are evicted and the
// survivors move down, their positions change with them. A second copy of the keys, rotated at
// their current slot positions, is kept valid lazily: appending rotates only the new slots, and
// an eviction invalidates the slots that moved. Every rotation starts from the unrotated key, so
// no rounding error accumulates however long the stream runs.
#ifndef KVCACHE_H
#define KVCACHE_H

#include "error.h"
#include "model.h"
#include "ops.h"

typedef struct {
    int n_layers, capacity, kv_dim;
    int len;           // slots in use, 0..capacity, the same in every layer
    float *k;          // [L, C, kv_dim] keys before rotary
    float *v;          // [L, C, kv_dim] values
    float *k_rot;      // [L, C, kv_dim] keys rotated at their slot position
    int *rot_valid;    // [L] slots 0..rot_valid[l]-1 of k_rot are up to date
} KVCache;

int kvcache_init(KVCache *c, const Config *cfg, int capacity, Error *err);
void kvcache_free(KVCache *c);
void kvcache_reset(KVCache *c);
// Writes k[T, kv_dim], v[T, kv_dim] of layer l into slots slot0..slot0+T-1.
void kvcache_store(KVCache *c, int l, int slot0, const float *k, const float *v, int T);
// Keys of layer l rotated at their slot positions, valid for slots 0..n-1.
const float *kvcache_rotated_keys(KVCache *c, int l, int n, const RopeTable *rope, int n_kv_heads,
                                  int head_dim, RopeStyle style);
// Evicts: keeps slots[n] (increasing, each < len) and moves them down to slots 0..n-1 in order;
// the cache policy (policy.h) decides which.
void kvcache_keep(KVCache *c, const int *slots, int n);

#endif
