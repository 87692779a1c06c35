// stream.cu: the cache policies of ref_cpu/stream.c on the GPU model. The host keeps the
// cache's length and the ring's turn; each block sends them (GpuStep) with its tokens.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.cuh"

extern "C" {
#include "gpu_stream.h"
}

struct GpuStream {
    GpuModel model;
    GpuRun run;
    Policy pol;
    int len, ring_off;         // slots in use; the ring's turn (GpuStep)
    int n_sink, window;        // the attention view of the policy
    GpuStep *h_step;           // pinned host copies the graph reads from and writes to
    int *h_tokens;             // [max_T]
    float *h_logits;           // [max_T, V]
    int use_graph;
    cudaGraphExec_t graph;     // one decode step, captured on first use
    int *recent, n_recent;     // recompute: the last W tokens
    char device[160];
};

#define CUDA_OK(call)                                                                                            \
    do {                                                                                                         \
        cudaError_t e_ = (call);                                                                                 \
        if (e_ != cudaSuccess) return err_set(err, "--device cuda: %s (%s)", cudaGetErrorString(e_), #call);  \
    } while (0)

int gpu_stream_init(GpuStream **out, const Model *m, const Policy *p, int max_tokens, Error *err) {
    *out = NULL;
    char why[256];
    if (gpu_device_ok(why, sizeof why)) return err_set(err, "--device cuda: %s", why);
    int S = p->n_sink, W = p->window, slots, block;
    stream_sizes(p, max_tokens, &slots, &block);
    if (slots <= 0 || block <= 0) return err_set(err, "cache size must be positive");
    GpuStream *g = (GpuStream *)calloc(1, sizeof *g);
    if (!g) return err_set(err, "out of memory");
    g->pol = *p;
    g->use_graph = 1;
    if (p->kind == POLICY_WINDOW || p->kind == POLICY_SINKS) g->n_sink = S, g->window = W;
    int V = m->cfg.vocab_size, rows = p->kind == POLICY_RECOMPUTE ? 1 : block;
    cudaDeviceProp prop;
    int driver = 0;
    cudaGetDeviceProperties(&prop, 0);
    cudaDriverGetVersion(&driver);
    snprintf(g->device, sizeof g->device, "%s (CUDA driver %d.%d, %d SMs)", prop.name, driver / 1000,
             driver % 1000 / 10, prop.multiProcessorCount);
    if (gpu_model_upload(&g->model, m, err) ||
        gpu_run_init(&g->run, &m->cfg, block, slots, p->kind == POLICY_SINKS ? S : 0, err)) {
        gpu_stream_free(g);
        return -1;
    }
    if (cudaMallocHost(&g->h_step, sizeof(GpuStep)) != cudaSuccess ||
        cudaMallocHost(&g->h_tokens, (size_t)block * sizeof(int)) != cudaSuccess ||
        cudaMallocHost(&g->h_logits, (size_t)rows * V * sizeof(float)) != cudaSuccess ||
        (p->kind == POLICY_RECOMPUTE && !(g->recent = (int *)malloc((size_t)W * sizeof(int))))) {
        gpu_stream_free(g);
        return err_set(err, "--device cuda: out of pinned host memory");
    }
    *out = g;
    return 0;
}

void gpu_stream_free(GpuStream *g) {
    if (!g) return;
    if (g->graph) cudaGraphExecDestroy(g->graph);
    gpu_run_free(&g->run);
    gpu_model_free(&g->model);
    cudaFreeHost(g->h_step);
    cudaFreeHost(g->h_tokens);
    cudaFreeHost(g->h_logits);
    free(g->recent);
    free(g);
}

void gpu_stream_reset(GpuStream *g) { g->len = 0, g->ring_off = 0, g->n_recent = 0; }
int gpu_stream_len(const GpuStream *g) { return g->len; }
void gpu_stream_prime_recent(GpuStream *g, const int *toks, int n) {
    memcpy(g->recent, toks, (size_t)n * sizeof(int));
    g->n_recent = n;
}
int gpu_stream_capacity(const GpuStream *g) { return g->run.capacity; }
void gpu_stream_use_graph(GpuStream *g, int on) { g->use_graph = on; }
const char *gpu_stream_device(const GpuStream *g) { return g->device; }
size_t gpu_stream_device_bytes(const GpuStream *g) { return g->model.arena_bytes + g->run.bytes; }

// The work of one block, from the pinned inputs to the pinned logits, queued on the stream.
static void enqueue_block(GpuStream *g, int T, int want) {
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
static int capture_decode_graph(GpuStream *g, Error *err) {
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
static int run_block(GpuStream *g, const int *tokens, int T, int want, float *logits, Error *err) {
    int V = g->model.cfg.vocab_size;
    *g->h_step = (GpuStep){g->len, g->ring_off, g->n_sink, g->window};
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
    g->len += T;
    return 0;
}

// ref_cpu's model_forward: blocks of at most max_T tokens, logits for all or the last.
static int forward(GpuStream *g, const int *tokens, int T, float *logits, int all, Error *err) {
    int V = g->model.cfg.vocab_size, max_T = g->run.max_T;
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= V)
            return err_set(err, "token id %d out of range (vocabulary has %d tokens)", tokens[t], V);
    if (g->len + T > g->run.capacity)
        return err_set(err, "KV cache full: %d cached + %d new tokens > %d slots", g->len, T, g->run.capacity);
    for (int t0 = 0; t0 < T; t0 += max_T) {
        int n = T - t0 < max_T ? T - t0 : max_T;
        int want = all ? GPU_LOGITS_ALL : (t0 + n == T ? GPU_LOGITS_LAST : GPU_LOGITS_NONE);
        if (run_block(g, tokens + t0, n, want, all ? logits + (size_t)t0 * V : logits, err)) return -1;
    }
    return 0;
}

// ANCHOR: gpu_evict
// Keep the first S tokens and the last W: the ring turns past the dropped ones.
static void evict(GpuStream *g) {
    int S = g->pol.n_sink, W = g->pol.window;
    if (g->len <= S + W) return;
    g->ring_off = (g->ring_off + g->len - S - W) % g->run.ring.size;
    g->len = S + W;
}
// END: gpu_evict

int gpu_stream_feed(GpuStream *g, const int *tokens, int n, float *logits, int all, Error *err) {
    const Policy *p = &g->pol;
    int V = g->model.cfg.vocab_size;
    if (n <= 0) return err_set(err, "no tokens to feed");
    if (p->kind == POLICY_RECOMPUTE) {
        int W = p->window;
        for (int i = 0; i < n; i++) {
            recent_push(g->recent, &g->n_recent, W, tokens[i]);
            g->len = 0;
            float *out = all ? logits + (size_t)i * V : logits; // the last write is the last token's
            if (forward(g, g->recent, g->n_recent, out, 0, err)) return -1;
        }
        return 0;
    }
    if (p->kind == POLICY_DENSE) {
        if (g->len + n > g->run.capacity)
            return err_set(err, "dense cache full: %d + %d tokens > %d (raise --max-tokens)", g->len, n,
                           g->run.capacity);
        return forward(g, tokens, n, logits, all, err);
    }
    if (p->reference_prefill && n > 1) {
        if (g->len + n > g->run.capacity)
            return err_set(err, "reference prefill of %d tokens does not fit the %d-slot cache", n, g->run.capacity);
        g->n_sink = 0, g->window = 0;
        int rc = forward(g, tokens, n, logits, all, err);
        g->n_sink = p->n_sink, g->window = p->window;
        if (!rc) evict(g);
        return rc;
    }
    for (int i = 0; i < n; i += p->chunk) {
        int m = n - i < p->chunk ? n - i : p->chunk;
        if (forward(g, tokens + i, m, all ? logits + (size_t)i * V : logits, all, err)) return -1;
        evict(g);
    }
    return 0;
}
