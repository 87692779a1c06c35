// stream_cpu.c: the CPU as a stream device: the model's forward pass (forward.c) over a KV
// cache that moves its survivors down when the policy evicts (kvcache.c).
#include <stdlib.h>

#include "stream.h"

typedef struct {
    const Model *model;
    KVCache cache;
    RunState state;
} CpuDevice;

static int cpu_forward(void *dev, float *logits, const int *tokens, int T, int all, AttnView view, Error *err) {
    CpuDevice *d = dev;
    d->state.n_sink = view.n_sink;
    d->state.window = view.window;
    return model_forward(logits, d->model, &d->cache, &d->state, tokens, T, all, err);
}

static int cpu_keep(void *dev, const int *slots, int n, Error *err) {
    (void)err;
    kvcache_keep(&((CpuDevice *)dev)->cache, slots, n);
    return 0;
}

static void cpu_reset(void *dev) { kvcache_reset(&((CpuDevice *)dev)->cache); }

static void cpu_free(void *dev) {
    CpuDevice *d = dev;
    if (!d) return;
    kvcache_free(&d->cache);
    runstate_free(&d->state);
    free(d);
}

static int cpu_watch_attention(void *dev, AttentionFn fn, void *ctx, Error *err) {
    (void)err;
    CpuDevice *d = dev;
    d->state.on_attention = fn;
    d->state.on_attention_ctx = ctx;
    return 0;
}

static const char *cpu_describe(const void *dev) { return (void)dev, "the CPU"; }

static size_t cpu_cache_bytes(const void *dev) {
    const KVCache *c = &((const CpuDevice *)dev)->cache;
    return (size_t)3 * c->n_layers * c->capacity * c->kv_dim * sizeof(float); // k, v and rotated k
}

static const StreamDeviceOps CPU_OPS = {"cpu", cpu_forward, cpu_keep, cpu_reset, cpu_free, cpu_watch_attention,
                                        cpu_describe, cpu_cache_bytes};

int stream_cpu_open(const StreamDeviceOps **ops, void **dev, const Model *m, int slots, int block, int ring_sinks,
                    Error *err) {
    (void)ring_sinks; // the CPU moves keys down instead of turning a ring
    CpuDevice *d = calloc(1, sizeof *d);
    if (!d) return err_set(err, "out of memory");
    d->model = m;
    if (kvcache_init(&d->cache, &m->cfg, slots, err) || runstate_init(&d->state, &m->cfg, block, slots, err)) {
        cpu_free(d);
        return -1;
    }
    *ops = &CPU_OPS;
    *dev = d;
    return 0;
}
