#include "kvcache.h"

#include <stdlib.h>
#include <string.h>

int kvcache_init(KVCache *c, const Config *cfg, int capacity, Error *err) {
    memset(c, 0, sizeof *c);
    if (capacity <= 0) return err_set(err, "cache size must be positive (got %d)", capacity);
    c->n_layers = cfg->n_layers;
    c->capacity = capacity;
    c->kv_dim = cfg->n_kv_heads * cfg->head_dim;
    size_t n = (size_t)c->n_layers * capacity * c->kv_dim;
    c->k = malloc(n * sizeof(float));
    c->v = malloc(n * sizeof(float));
    c->k_rot = malloc(n * sizeof(float));
    c->rot_valid = calloc((size_t)c->n_layers, sizeof(int));
    if (!c->k || !c->v || !c->k_rot || !c->rot_valid) {
        kvcache_free(c);
        return err_set(err, "out of memory for a KV cache of %d slots (%zu MB)", capacity, 3 * n * 4 >> 20);
    }
    return 0;
}

void kvcache_free(KVCache *c) {
    free(c->k);
    free(c->v);
    free(c->k_rot);
    free(c->rot_valid);
    memset(c, 0, sizeof *c);
}

void kvcache_reset(KVCache *c) {
    c->len = 0;
    memset(c->rot_valid, 0, (size_t)c->n_layers * sizeof(int));
}

static size_t at(const KVCache *c, int l, int slot) { return ((size_t)l * c->capacity + slot) * c->kv_dim; }

void kvcache_store(KVCache *c, int l, int slot0, const float *k, const float *v, int T) {
    memcpy(c->k + at(c, l, slot0), k, (size_t)T * c->kv_dim * sizeof(float));
    memcpy(c->v + at(c, l, slot0), v, (size_t)T * c->kv_dim * sizeof(float));
    if (c->rot_valid[l] > slot0) c->rot_valid[l] = slot0;
}

// ANCHOR: rotated_keys
const float *kvcache_rotated_keys(KVCache *c, int l, int n, const RopeTable *rope, int n_kv_heads,
                                  int head_dim, RopeStyle style) {
    int from = c->rot_valid[l];
    if (from < n) {
        float *dst = c->k_rot + at(c, l, from);
        memcpy(dst, c->k + at(c, l, from), (size_t)(n - from) * c->kv_dim * sizeof(float));
        int pos[256];
        for (int s0 = from; s0 < n; s0 += 256) { // positions are the slot indices themselves
            int m = n - s0 < 256 ? n - s0 : 256;
            for (int i = 0; i < m; i++) pos[i] = s0 + i;
            rope_forward(c->k_rot + at(c, l, s0), pos, rope, m, n_kv_heads, head_dim, style);
        }
        c->rot_valid[l] = n;
    }
    return c->k_rot + at(c, l, 0);
}
// END: rotated_keys

// ANCHOR: keep
void kvcache_keep(KVCache *c, const int *slots, int n) {
    // slots[] increases and slots[i] >= i: moving rows down in order never overwrites one still
    // to be moved. Runs of consecutive slots move as one block.
    int first_moved = n;
    for (int i = 0; i < n;) {
        int run = 1;
        while (i + run < n && slots[i + run] == slots[i] + run) run++;
        if (slots[i] != i) {
            if (first_moved == n) first_moved = i;
            for (int l = 0; l < c->n_layers; l++) {
                memmove(c->k + at(c, l, i), c->k + at(c, l, slots[i]), (size_t)run * c->kv_dim * sizeof(float));
                memmove(c->v + at(c, l, i), c->v + at(c, l, slots[i]), (size_t)run * c->kv_dim * sizeof(float));
            }
        }
        i += run;
    }
    // the moved keys now sit at new positions: their rotated copies must be redone
    for (int l = 0; l < c->n_layers; l++)
        if (c->rot_valid[l] > first_moved) c->rot_valid[l] = first_moved;
    c->len = n;
}
// END: keep
