// kernel_bench: every kernel version timed on the GPU at the default model's shapes (SmolLM2-
// 135M: D 576, F 1536, 9 query heads on 3 key/value heads of 64, vocabulary 49152), beside
// its floor: the bytes it must move (each input read once, each output written once) at the
// device-to-device copy bandwidth measured here. `make bench-kernels`; needs a GPU.
//
// Each time is the median of 7 trials of 50 back-to-back launches; inputs rotate over enough
// copies to exceed the 50 MB L2 cache, so the weights come from memory as in a real step.
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_stream.h"
#include "kernels.h"

typedef struct {
    int sets;             // copies of the inputs, rotated
    float *in[4], *w[4];  // per case: up to four input arrays, each `sets` copies
    size_t in_n[4];
    float *out;
    int *tok, *idx;
    GpuStep *step;
    int version, T, I, O, n;
} Case;

static float *dev_random(size_t n, unsigned seed) {
    float *h = malloc(n * sizeof(float)), *d = NULL;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        h[i] = ((seed >> 8) / 16777216.0f - 0.5f) * 0.2f + 1e-3f; // never zero
    }
    if (cudaMalloc((void **)&d, n * sizeof(float)) != cudaSuccess) {
        fprintf(stderr, "error: out of GPU memory\n");
        exit(1);
    }
    cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice);
    free(h);
    return d;
}

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// Median over 7 trials of the mean time of 50 launches, in microseconds.
static double time_us(void (*run)(Case *, int), Case *c) {
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    for (int i = 0; i < 10; i++) run(c, i);
    float ms[7];
    for (int t = 0; t < 7; t++) {
        cudaEventRecord(a, cudaStreamPerThread);
        for (int i = 0; i < 50; i++) run(c, t * 50 + i);
        cudaEventRecord(b, cudaStreamPerThread);
        cudaEventSynchronize(b);
        cudaEventElapsedTime(&ms[t], a, b);
    }
    qsort(ms, 7, sizeof(float), cmp_f);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    const char *e = gpu_last_error();
    if (e) {
        fprintf(stderr, "error: kernel failed: %s\n", e);
        exit(1);
    }
    return ms[3] * 1e3 / 50;
}

#define SET(c, k, r) ((c)->in[k] + (size_t)((r) % (c)->sets) * (c)->in_n[k])

static void run_matmul(Case *c, int r) { gpu_matmul_forward(c->version, c->out, SET(c, 0, r), SET(c, 1, r), NULL, c->T, c->I, c->O); }
static void run_matvec(Case *c, int r) {
    GpuMatvec op = {GPU_NORM_RMS, SET(c, 2, r), NULL, 1e-5f, GPU_EPI_NONE, NULL, NULL, NULL, NULL};
    gpu_matvec_forward(c->out, SET(c, 0, r), SET(c, 1, r), c->I, c->O, op);
}
static void run_matvec_swiglu(Case *c, int r) {
    GpuMatvec op = {GPU_NORM_RMS, SET(c, 2, r), NULL, 1e-5f, GPU_EPI_SWIGLU, SET(c, 3, r), NULL, NULL, NULL};
    gpu_matvec_forward(c->out, SET(c, 0, r), SET(c, 1, r), c->I, c->O, op);
}
static void run_rmsnorm(Case *c, int r) { gpu_rmsnorm_forward(c->version, c->out, SET(c, 0, r), SET(c, 1, r), c->T, c->I, 1e-5f); }
static void run_softmax(Case *c, int r) { gpu_softmax_forward(c->version, SET(c, 0, r), c->T, c->n); }
static void run_attention(Case *c, int r) {
    gpu_attention_forward(c->version, c->out, c->w[0], SET(c, 0, r), SET(c, 0, r), SET(c, 1, r), SET(c, 2, r), 1, 1023,
                          4, 1020, 9, 3, 64, 1024);
}
static void run_ring(Case *c, int r) {
    GpuRing ring = {4, 1276};
    gpu_attention_ring_forward(c->version, c->out, c->w[0], SET(c, 0, r), SET(c, 0, r), SET(c, 1, r), SET(c, 2, r), c->w[1],
                               c->w[2], c->step, ring, 32, 1, 1, 9, 3, 64, 1280);
}
static void run_argmax(Case *c, int r) { gpu_argmax(c->idx, SET(c, 0, r), c->n); }
static void run_embedding(Case *c, int r) { gpu_embedding_forward(c->out, SET(c, 0, r), c->tok, 1, 576); }

// Allocates `sets` copies of each input (sized n[k] floats) so that they exceed 128 MB.
static void inputs(Case *c, int k_count, const size_t *n) {
    size_t bytes = 0;
    for (int k = 0; k < k_count; k++) bytes += n[k] * 4;
    c->sets = (int)((128u << 20) / bytes + 1);
    for (int k = 0; k < k_count; k++) {
        c->in_n[k] = n[k];
        c->in[k] = dev_random(n[k] * c->sets, 17 + k);
    }
}

static void release(Case *c) {
    for (int k = 0; k < 4; k++) cudaFree(c->in[k]), cudaFree(c->w[k]);
    cudaFree(c->out);
}

static double bw; // GB/s, read + write

static void row(const char *name, const char *shape, double us, double bytes, double flops) {
    double floor_us = bytes / (bw * 1e3);
    char rate[32] = "";
    if (flops > 0) snprintf(rate, sizeof rate, "%.0f", flops / (us * 1e3));
    printf("| %s | %s | %.2f | %.2f | %.1fx | %.0f | %s |\n", name, shape, us, floor_us, us / floor_us,
           bytes / (us * 1e3), rate);
}

int main(void) {
    char why[256];
    if (gpu_device_ok(why, sizeof why)) {
        fprintf(stderr, "kernel_bench: %s\n", why);
        return 1;
    }
    struct cudaDeviceProp p;
    cudaGetDeviceProperties(&p, 0);
    bw = gpu_copy_bandwidth((size_t)1 << 30);
    printf("device: %s, %d SMs; copy bandwidth %.0f GB/s (read + write)\n\n", p.name, p.multiProcessorCount, bw);
    printf("| kernel | shape | us | floor us | / floor | GB/s | GFLOP/s |\n|---|---|---|---|---|---|---|\n");
    char shape[96];
    // decode's matrix-vector products: the MLP's up projection and the head
    int mv[][2] = {{576, 1536}, {576, 49152}};
    for (int s = 0; s < 2; s++) {
        int I = mv[s][0], O = mv[s][1];
        double bytes = 4.0 * ((double)O * I + I + O);
        snprintf(shape, sizeof shape, "T=1, %d -> %d", I, O);
        for (int v = 1; v <= 3; v++) {
            if (v == 1 && O > 10000) continue; // minutes, and nothing new to learn
            Case c = {0};
            size_t n[2] = {(size_t)I, (size_t)O * I};
            inputs(&c, 2, n);
            cudaMalloc((void **)&c.out, (size_t)O * 4);
            c.version = v, c.T = 1, c.I = I, c.O = O;
            char name[32];
            snprintf(name, sizeof name, "matmul v%d", v);
            row(name, shape, time_us(run_matmul, &c), bytes, 0);
            release(&c);
        }
        Case c = {0};
        size_t n[3] = {(size_t)I, (size_t)O * I, (size_t)I};
        inputs(&c, 3, n);
        cudaMalloc((void **)&c.out, (size_t)O * 4);
        c.I = I, c.O = O;
        row("matvec + rmsnorm", shape, time_us(run_matvec, &c), bytes + 4.0 * I, 0);
        release(&c);
    }
    {
        int I = 576, O = 1536;
        Case c = {0};
        size_t n[4] = {(size_t)I, (size_t)O * I, (size_t)I, (size_t)O * I};
        inputs(&c, 4, n);
        cudaMalloc((void **)&c.out, (size_t)O * 4);
        c.I = I, c.O = O;
        row("matvec rmsnorm+gate+up+swiglu", "T=1, 576 -> 2 x 1536", time_us(run_matvec_swiglu, &c),
            4.0 * (2.0 * O * I + 2 * I + O), 0);
        release(&c);
    }
    // prefill: 256 tokens through the MLP's up projection
    for (int v = 2; v <= 3; v++) {
        int T = 256, I = 576, O = 1536;
        Case c = {0};
        size_t n[2] = {(size_t)T * I, (size_t)O * I};
        inputs(&c, 2, n);
        cudaMalloc((void **)&c.out, (size_t)T * O * 4);
        c.version = v, c.T = T, c.I = I, c.O = O;
        char name[32];
        snprintf(name, sizeof name, "matmul v%d", v);
        row(name, "T=256, 576 -> 1536", time_us(run_matmul, &c), 4.0 * ((double)T * I + (double)O * I + (double)T * O),
            2.0 * T * I * O);
        release(&c);
    }
    for (int v = 1; v <= 2; v++)
        for (int T = 1; T <= 256; T += 255) {
            Case c = {0};
            size_t n[2] = {(size_t)T * 576, 576};
            inputs(&c, 2, n);
            cudaMalloc((void **)&c.out, (size_t)T * 576 * 4);
            c.version = v, c.T = T, c.I = 576;
            char name[32];
            snprintf(name, sizeof name, "rmsnorm v%d", v);
            snprintf(shape, sizeof shape, "T=%d, D=576", T);
            row(name, shape, time_us(run_rmsnorm, &c), 4.0 * (2.0 * T * 576 + 576), 0);
            release(&c);
        }
    for (int v = 1; v <= 2; v++) {
        int rows[] = {9, 1}, ns[] = {1024, 49152};
        for (int s = 0; s < 2; s++) {
            Case c = {0};
            size_t n[1] = {(size_t)rows[s] * ns[s]};
            inputs(&c, 1, n);
            c.version = v, c.T = rows[s], c.n = ns[s];
            char name[32];
            snprintf(name, sizeof name, "softmax v%d", v);
            snprintf(shape, sizeof shape, "%d rows of %d", rows[s], ns[s]);
            row(name, shape, time_us(run_softmax, &c), 8.0 * rows[s] * ns[s], 0);
            release(&c);
        }
    }
    // decode attention over a full sink + window cache of 1024 keys
    double att_bytes = 4.0 * (2.0 * 1024 * 192 + 2 * 576);
    for (int v = 1; v <= 4; v++) {
        Case c = {0};
        size_t cap = v >= 3 ? 1280 : 1024, n[3] = {576, cap * 192, cap * 192};
        inputs(&c, 3, n);
        cudaMalloc((void **)&c.out, 576 * 4);
        if (v < 3) {
            cudaMalloc((void **)&c.w[0], (size_t)9 * 1024 * 4); // probabilities
        } else {
            c.w[0] = dev_random(gpu_attention_ring_scratch(1, 9, 64, 1280), 5);
            c.w[1] = dev_random(1280 * 32, 6), c.w[2] = dev_random(1280 * 32, 7); // rotary tables
            GpuStep st = {1023, 300, 4, 1020};
            cudaMalloc((void **)&c.step, sizeof st);
            cudaMemcpy(c.step, &st, sizeof st, cudaMemcpyHostToDevice);
        }
        c.version = v;
        char name[48];
        snprintf(name, sizeof name, v < 3 ? "attention v%d" : "attention v%d (ring, split keys)", v);
        row(name, "T=1, 1024 keys, 9 heads on 3", time_us(v < 3 ? run_attention : run_ring, &c), att_bytes, 0);
        cudaFree(c.step);
        release(&c);
    }
    {
        Case c = {0};
        size_t n[1] = {49152};
        inputs(&c, 1, n);
        cudaMalloc((void **)&c.idx, 4);
        c.n = 49152;
        row("argmax", "n=49152", time_us(run_argmax, &c), 4.0 * 49152, 0);
        cudaFree(c.idx);
        release(&c);
    }
    {
        Case c = {0};
        size_t n[1] = {(size_t)49152 * 576};
        inputs(&c, 1, n);
        int t = 4242;
        cudaMalloc((void **)&c.tok, 4);
        cudaMemcpy(c.tok, &t, 4, cudaMemcpyHostToDevice);
        cudaMalloc((void **)&c.out, 576 * 4);
        row("embedding", "T=1, D=576", time_us(run_embedding, &c), 8.0 * 576, 0);
        cudaFree(c.tok);
        release(&c);
    }
    return 0;
}
