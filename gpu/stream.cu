// stream.cu: the GPU as a stream device (stream.h). The policies are ref_cpu's (stream.c,
// policy.c); this file runs blocks of tokens and keeps the slots a policy names. The host keeps
// the cache's length and the ring's turn; each block sends them (GpuStep) with its tokens.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.cuh"

extern "C" {
#include "gpu_stream.h"
}

typedef struct {
    GpuModel model;
    GpuRun run;
    int len, ring_off;         // slots in use; the ring's turn (GpuStep)
    GpuStep *h_step;           // pinned host copies the graph reads from and writes to
    int *h_tokens;             // [max_T]
    float *h_logits;           // [max_T, V]
    int *h_from, *d_from;      // [capacity] rows a scattered eviction keeps (host, device)
    float *d_gather;           // [capacity, Hkv*hd] its scratch
    int use_graph;
    cudaGraphExec_t graph;     // one decode step, captured on first use
    AttentionFn watch;         // pictures: called with each layer's probabilities after a block
    void *watch_ctx;
    float *h_att;              // [L, Hq, max_T, C] their host copy (run.att on the device)
    char device[160];
} CudaDevice;

#define CUDA_OK(call)                                                                                            \
    do {                                                                                                         \
        cudaError_t e_ = (call);                                                                                 \
        if (e_ != cudaSuccess) return err_set(err, "--device cuda: %s (%s)", cudaGetErrorString(e_), #call);  \
    } while (0)

static void cuda_free(void *dev) {
    CudaDevice *g = (CudaDevice *)dev;
    if (!g) return;
    if (g->graph) cudaGraphExecDestroy(g->graph);
    cudaFree(g->run.att); // not gpu_run_free's: only a watched stream has it
    gpu_run_free(&g->run);
    gpu_model_free(&g->model);
    cudaFreeHost(g->h_step);
    cudaFreeHost(g->h_tokens);
    cudaFreeHost(g->h_logits);
    free(g->h_from);
    cudaFree(g->d_from);
    cudaFree(g->d_gather);
    cudaFreeHost(g->h_att);
    free(g);
}

static void cuda_reset(void *dev) {
    CudaDevice *g = (CudaDevice *)dev;
    g->len = 0, g->ring_off = 0;
}

// The work of one block, from the pinned inputs to the pinned logits, queued on the stream.
static void enqueue_block(CudaDevice *g, int T, int want) {
    GpuRun *r = &g->run;
    int V = g->model.cfg.vocab_size, rows = want == GPU_LOGITS_ALL ? T : 1;
    cudaMemcpyAsync(r->step, g->h_step, sizeof(GpuStep), cudaMemcpyHostToDevice, cudaStreamPerThread);
    cudaMemcpyAsync(r->tokens, g->h_tokens, (size_t)T * sizeof(int), cudaMemcpyHostToDevice, cudaStreamPerThread);
    gpu_block_forward(&g->model, r, T, want);
    if (want != GPU_LOGITS_NONE)
        cudaMemcpyAsync(g->h_logits, r->logits, (size_t)rows * V * sizeof(float), cudaMemcpyDeviceToHost,
                        cudaStreamPerThread);
}

// ANCHOR: decode_graph
// A decode step is ~7 small kernels per layer: launching them one by one costs more than they
// take to run. Captured once into a graph, a step is one launch; the graph reads the step's
// token and place from the pinned buffers at each replay.
static int capture_decode_graph(CudaDevice *g, Error *err) {
    cudaGraph_t graph;
    CUDA_OK(cudaStreamBeginCapture(cudaStreamPerThread, cudaStreamCaptureModeThreadLocal));
    enqueue_block(g, 1, GPU_LOGITS_LAST);
    CUDA_OK(cudaStreamEndCapture(cudaStreamPerThread, &graph));
    cudaError_t e = cudaGraphInstantiate(&g->graph, graph, 0);
    cudaGraphDestroy(graph);
    CUDA_OK(e);
    return 0;
}
// END: decode_graph

// Runs tokens[T] (T <= max_T) at the end of the cache; copies the wanted logits to `logits`.
static int run_block(CudaDevice *g, const int *tokens, int T, int want, AttnView view, float *logits, Error *err) {
    int V = g->model.cfg.vocab_size;
    *g->h_step = (GpuStep){g->len, g->ring_off, view.n_sink, view.window};
    memcpy(g->h_tokens, tokens, (size_t)T * sizeof(int));
    if (T == 1 && want == GPU_LOGITS_LAST && g->use_graph) {
        if (!g->graph && capture_decode_graph(g, err)) return -1;
        CUDA_OK(cudaGraphLaunch(g->graph, cudaStreamPerThread));
    } else {
        enqueue_block(g, T, want);
    }
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaStreamSynchronize(cudaStreamPerThread));
    if (want != GPU_LOGITS_NONE) memcpy(logits, g->h_logits, (size_t)(want == GPU_LOGITS_ALL ? T : 1) * V * 4);
    if (g->watch) {
        const Config *c = &g->model.cfg;
        size_t layer = (size_t)c->n_heads * g->run.max_T * g->run.capacity;
        CUDA_OK(cudaMemcpy(g->h_att, g->run.att, c->n_layers * layer * sizeof(float), cudaMemcpyDeviceToHost));
        for (int l = 0; l < c->n_layers; l++) g->watch(g->watch_ctx, l, g->h_att + l * layer, T, g->len + T, g->run.capacity);
    }
    g->len += T;
    return 0;
}

// ref_cpu's model_forward: blocks of at most max_T tokens, logits for all or the last.
static int cuda_forward(void *dev, float *logits, const int *tokens, int T, int all, AttnView view, Error *err) {
    CudaDevice *g = (CudaDevice *)dev;
    int V = g->model.cfg.vocab_size, max_T = g->run.max_T;
    if (g->len + T > g->run.capacity)
        return err_set(err, "KV cache full: %d cached + %d new tokens > %d slots", g->len, T, g->run.capacity);
    for (int t0 = 0; t0 < T; t0 += max_T) {
        int n = T - t0 < max_T ? T - t0 : max_T;
        int want = all ? GPU_LOGITS_ALL : (logits && t0 + n == T ? GPU_LOGITS_LAST : GPU_LOGITS_NONE);
        if (run_block(g, tokens + t0, n, want, view, all ? logits + (size_t)t0 * V : logits, err)) return -1;
    }
    return 0;
}

// Where logical slot j lives (common.cuh's ring_slot, on the host).
static int ring_slot_host(int j, GpuRing r, int ring_off) {
    return j < r.sinks ? j : r.sinks + (ring_off + j - r.sinks) % r.size;
}

// ANCHOR: gpu_evict
// Keep the slots the policy names. The sinks and one unbroken run after them (what sinks and
// window keep): the ring turns past the dropped slots, no key moves. Anything else: the kept
// rows are gathered down to slots 0..n-1 and the ring starts again unturned.
static int cuda_keep(void *dev, const int *slots, int n, Error *err) {
    CudaDevice *g = (CudaDevice *)dev;
    GpuRing ring = g->run.ring;
    int S = ring.sinks, run = n >= S;
    for (int i = 0; run && i < n; i++)
        run = i < S ? slots[i] == i : slots[i] == slots[S] + (i - S);
    if (run) {
        if (n > S) g->ring_off = (g->ring_off + slots[S] - S) % ring.size;
        g->len = n;
        return 0;
    }
    for (int i = 0; i < n; i++) g->h_from[i] = ring_slot_host(slots[i], ring, g->ring_off);
    CUDA_OK(cudaMemcpy(g->d_from, g->h_from, (size_t)n * sizeof(int), cudaMemcpyHostToDevice));
    const Config *c = &g->model.cfg;
    int kvd = c->n_kv_heads * c->head_dim;
    size_t layer = (size_t)g->run.capacity * kvd;
    for (int l = 0; l < c->n_layers; l++) {
        gpu_cache_gather(g->run.k + l * layer, g->d_gather, g->d_from, n, kvd);
        gpu_cache_gather(g->run.v + l * layer, g->d_gather, g->d_from, n, kvd);
    }
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaStreamSynchronize(cudaStreamPerThread));
    g->ring_off = 0;
    g->len = n;
    return 0;
}
// END: gpu_evict

// Pictures: the probabilities are written only from now on, and decode steps leave the graph
// (captured without them) for the launch-by-launch path.
static int cuda_watch_attention(void *dev, AttentionFn fn, void *ctx, Error *err) {
    CudaDevice *g = (CudaDevice *)dev;
    const Config *c = &g->model.cfg;
    size_t bytes = (size_t)c->n_layers * c->n_heads * g->run.max_T * g->run.capacity * sizeof(float);
    if (!g->run.att) {
        CUDA_OK(cudaMalloc(&g->run.att, bytes));
        CUDA_OK(cudaMallocHost(&g->h_att, bytes));
    }
    g->watch = fn, g->watch_ctx = ctx;
    g->use_graph = 0;
    return 0;
}

static const char *cuda_describe(const void *dev) { return ((const CudaDevice *)dev)->device; }

static size_t cuda_cache_bytes(const void *dev) {
    const CudaDevice *g = (const CudaDevice *)dev;
    const Config *c = &g->model.cfg;
    return (size_t)2 * c->n_layers * g->run.capacity * c->n_kv_heads * c->head_dim * sizeof(float); // k and v
}

static const StreamDeviceOps CUDA_OPS = {"cuda", cuda_forward, cuda_keep, cuda_reset, cuda_free, cuda_watch_attention,
                                         cuda_describe, cuda_cache_bytes};

extern "C" int stream_cuda_open(const StreamDeviceOps **ops, void **dev, const Model *m, int slots, int block,
                                int ring_sinks, Error *err) {
    *ops = NULL, *dev = NULL;
    char why[256];
    if (gpu_device_ok(why, sizeof why)) return err_set(err, "--device cuda: %s", why);
    CudaDevice *g = (CudaDevice *)calloc(1, sizeof *g);
    if (!g) return err_set(err, "out of memory");
    g->use_graph = 1;
    int V = m->cfg.vocab_size, kvd = m->cfg.n_kv_heads * m->cfg.head_dim;
    cudaDeviceProp prop;
    int driver = 0;
    cudaGetDeviceProperties(&prop, 0);
    cudaDriverGetVersion(&driver);
    snprintf(g->device, sizeof g->device, "%s (CUDA driver %d.%d, %d SMs)", prop.name, driver / 1000,
             driver % 1000 / 10, prop.multiProcessorCount);
    if (gpu_model_upload(&g->model, m, err) || gpu_run_init(&g->run, &m->cfg, block, slots, ring_sinks, err)) {
        cuda_free(g);
        return -1;
    }
    if (cudaMallocHost(&g->h_step, sizeof(GpuStep)) != cudaSuccess ||
        cudaMallocHost(&g->h_tokens, (size_t)block * sizeof(int)) != cudaSuccess ||
        cudaMallocHost(&g->h_logits, (size_t)block * V * sizeof(float)) != cudaSuccess ||
        !(g->h_from = (int *)malloc((size_t)slots * sizeof(int))) ||
        cudaMalloc(&g->d_from, (size_t)slots * sizeof(int)) != cudaSuccess ||
        cudaMalloc(&g->d_gather, (size_t)slots * kvd * sizeof(float)) != cudaSuccess) {
        cuda_free(g);
        return err_set(err, "--device cuda: out of memory for the stream's buffers");
    }
    *ops = &CUDA_OPS;
    *dev = g;
    return 0;
}

extern "C" void gpu_stream_use_graph(Stream *s, int on) {
    if (s->ops == &CUDA_OPS) ((CudaDevice *)s->dev)->use_graph = on;
}

extern "C" size_t gpu_stream_device_bytes(const Stream *s) {
    if (s->ops != &CUDA_OPS) return 0;
    const CudaDevice *g = (const CudaDevice *)s->dev;
    size_t gather = (size_t)g->run.capacity * (sizeof(int) + g->model.cfg.n_kv_heads * g->model.cfg.head_dim * sizeof(float));
    return g->model.arena_bytes + g->model.wscratch_floats * sizeof(float) + g->run.bytes + gather;
}
