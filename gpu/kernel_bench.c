// kernel_bench.c: every kernel version timed on the GPU at the default model's shapes (SmolLM2-
// 135M: D 576, F 1536, 9 query heads on 3 key/value heads of 64, vocabulary 49152), beside its
// floor: the bytes it must move (each input read once, each output written once) at the device-
// to-device copy bandwidth measured here (kernel_bench.h). The versions come from the registry.
//
// Each time is the median of 7 trials of 50 back-to-back launches; inputs rotate over enough
// copies to exceed the 50 MB L2 cache, so the weights come from memory as in a real step.
#include "kernel_bench.h"

#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_stream.h" // gpu_copy_bandwidth
#include "kernels.h"

typedef struct {
    FILE *out;
    Error *err;
    int bad;   // something failed: stop, err says what
    double bw; // GB/s, read + write
} Bench;

typedef struct Case Case;
struct Case {
    Bench *b;
    int sets;            // copies of the inputs, rotated
    float *in[4], *w[4]; // per case: up to four input arrays, each `sets` copies
    size_t in_n[4];
    float *out;
    int *tok, *idx;
    GpuStep *step;
    int version, T, I, O, n;
    void (*run)(Case *, int); // what time_us is timing
};

static void *dev_alloc(Bench *b, size_t bytes) {
    void *d = NULL;
    if (b->bad) return NULL;
    if (cudaMalloc(&d, bytes) != cudaSuccess) {
        err_set(b->err, "out of GPU memory (%zu bytes)", bytes);
        b->bad = 1;
        return NULL;
    }
    return d;
}

static float *dev_random(Bench *b, size_t n, unsigned seed) {
    float *h = malloc(n * sizeof(float)), *d = dev_alloc(b, n * sizeof(float));
    if (!h || !d) {
        if (!h && !b->bad) err_set(b->err, "out of memory"), b->bad = 1;
        free(h), cudaFree(d);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        h[i] = ((seed >> 8) / 16777216.0f - 0.5f) * 0.2f + 1e-3f; // never zero
    }
    cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice);
    free(h);
    return d;
}

static void run_case(void *ctx, int i); // below: calls the case's run with input set i

// Median over 7 trials of the mean time of 50 launches, in microseconds (-1: it failed).
static double time_us(void (*run)(Case *, int), Case *c) {
    if (c->b->bad) return -1;
    c->run = run;
    double ms = gpu_time_ms(run_case, c, 10, 7, 50);
    const char *e = gpu_last_error();
    if (e || ms < 0) {
        err_set(c->b->err, "kernel failed: %s", e ? e : "timing failed");
        c->b->bad = 1;
        return -1;
    }
    return ms * 1e3 / 50;
}

static void run_case(void *ctx, int i) {
    Case *c = ctx;
    c->run(c, i);
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
static void run_layernorm(Case *c, int r) {
    gpu_layernorm_forward(c->version, c->out, SET(c, 0, r), SET(c, 1, r), SET(c, 2, r), c->T, c->I, 1e-5f);
}
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
static void run_qmatvec(Case *c, int r) {
    gpu_matvec_q4_1_forward(c->version, c->out, SET(c, 0, r), SET(c, 1, r), c->w[0], c->I, c->O);
}
static void run_argmax(Case *c, int r) { gpu_argmax(c->idx, SET(c, 0, r), c->n); }
static void run_embedding(Case *c, int r) { gpu_embedding_forward(c->out, SET(c, 0, r), c->tok, 1, 576); }

// Allocates `sets` copies of each input (sized n[k] floats) so that they exceed 128 MB, and
// out_n floats of output.
static void inputs(Case *c, int k_count, const size_t *n, size_t out_n) {
    size_t bytes = 0;
    for (int k = 0; k < k_count; k++) bytes += n[k] * 4;
    c->sets = (int)((128u << 20) / bytes + 1);
    for (int k = 0; k < k_count; k++) {
        c->in_n[k] = n[k];
        c->in[k] = dev_random(c->b, n[k] * c->sets, 17 + k);
    }
    if (out_n) c->out = dev_alloc(c->b, out_n * 4);
}

static void release(Case *c) {
    for (int k = 0; k < 4; k++) cudaFree(c->in[k]), cudaFree(c->w[k]);
    cudaFree(c->out), cudaFree(c->tok), cudaFree(c->idx), cudaFree(c->step);
}

// ANCHOR: bench_row
static void row(Bench *b, const char *name, const char *shape, double us, double bytes, double flops) {
    if (b->bad || us < 0) return;
    double floor_us = bytes / (b->bw * 1e3);
    char rate[32] = "";
    if (flops > 0) snprintf(rate, sizeof rate, "%.0f", flops / (us * 1e3));
    fprintf(b->out, "| %s | %s | %.2f | %.2f | %.1fx | %.0f | %s |\n", name, shape, us, floor_us, us / floor_us,
            bytes / (us * 1e3), rate);
}
// END: bench_row

// The versions of op to time: `want`, or every ready one (ascending). Returns how many.
static int versions(const char *op, int want, int *v, int max) {
    if (want) return v[0] = want, 1;
    int n, k = 0;
    const KernelInfo *t = kernel_table(&n);
    for (int i = 0; i < n && k < max; i++)
        if (!strcmp(t[i].op, op) && t[i].status == KERNEL_READY) v[k++] = t[i].version;
    return k;
}

// ---- the sections, in the table's order ------------------------------------------------------

// Decode's matrix-vector products (T = 1, I -> O): matmul's versions, and the fused matvec
// with the norm in front when all is asked for.
static void bench_decode(Bench *b, int I, int O, int want, int with_matvec) {
    double bytes = 4.0 * ((double)O * I + I + O);
    char shape[96];
    snprintf(shape, sizeof shape, "T=1, %d -> %d", I, O);
    int v[16], nv = versions("matmul", want, v, 16);
    for (int i = 0; i < nv && !b->bad; i++) {
        if (v[i] == 1 && O > 10000 && !want) continue; // minutes, and nothing new to learn
        Case c = {.b = b};
        size_t n[2] = {(size_t)I, (size_t)O * I};
        inputs(&c, 2, n, O);
        c.version = v[i], c.T = 1, c.I = I, c.O = O;
        char name[32];
        snprintf(name, sizeof name, "matmul v%d", v[i]);
        row(b, name, shape, time_us(run_matmul, &c), bytes, 0);
        release(&c);
    }
    if (!with_matvec || b->bad) return;
    Case c = {.b = b};
    size_t n[3] = {(size_t)I, (size_t)O * I, (size_t)I};
    inputs(&c, 3, n, O);
    c.I = I, c.O = O;
    row(b, "matvec + rmsnorm", shape, time_us(run_matvec, &c), bytes + 4.0 * I, 0);
    release(&c);
}

static void bench_swiglu(Bench *b) {
    int I = 576, O = 1536;
    Case c = {.b = b};
    size_t n[4] = {(size_t)I, (size_t)O * I, (size_t)I, (size_t)O * I};
    inputs(&c, 4, n, O);
    c.I = I, c.O = O;
    row(b, "matvec rmsnorm+gate+up+swiglu", "T=1, 576 -> 2 x 1536", time_us(run_matvec_swiglu, &c),
        4.0 * (2.0 * O * I + 2 * I + O), 0);
    release(&c);
}

// Prefill: 256 tokens through the MLP's up projection (v1 only when asked for by number).
static void bench_prefill(Bench *b, int want) {
    int v[16], nv = versions("matmul", want, v, 16), T = 256, I = 576, O = 1536;
    for (int i = 0; i < nv && !b->bad; i++) {
        if (v[i] == 1 && !want) continue;
        Case c = {.b = b};
        size_t n[2] = {(size_t)T * I, (size_t)O * I};
        inputs(&c, 2, n, (size_t)T * O);
        c.version = v[i], c.T = T, c.I = I, c.O = O;
        char name[32];
        snprintf(name, sizeof name, "matmul v%d", v[i]);
        row(b, name, "T=256, 576 -> 1536", time_us(run_matmul, &c),
            4.0 * ((double)T * I + (double)O * I + (double)T * O), 2.0 * T * I * O);
        release(&c);
    }
}

static void bench_norm(Bench *b, const char *op, int want) {
    int v[16], nv = versions(op, want, v, 16), layer = !strcmp(op, "layernorm");
    for (int i = 0; i < nv && !b->bad; i++)
        for (int T = 1; T <= 256 && !b->bad; T += 255) {
            Case c = {.b = b};
            size_t n[3] = {(size_t)T * 576, 576, 576};
            inputs(&c, layer ? 3 : 2, n, (size_t)T * 576);
            c.version = v[i], c.T = T, c.I = 576;
            char name[32], shape[64];
            snprintf(name, sizeof name, "%s v%d", op, v[i]);
            snprintf(shape, sizeof shape, "T=%d, D=576", T);
            row(b, name, shape, time_us(layer ? run_layernorm : run_rmsnorm, &c), 4.0 * (2.0 * T * 576 + 576 * (1 + layer)),
                0);
            release(&c);
        }
}

static void bench_softmax(Bench *b, int want) {
    int v[16], nv = versions("softmax", want, v, 16), rows[] = {9, 1}, ns[] = {1024, 49152};
    for (int i = 0; i < nv && !b->bad; i++)
        for (int s = 0; s < 2 && !b->bad; s++) {
            Case c = {.b = b};
            size_t n[1] = {(size_t)rows[s] * ns[s]};
            inputs(&c, 1, n, 0);
            c.version = v[i], c.T = rows[s], c.n = ns[s];
            char name[32], shape[64];
            snprintf(name, sizeof name, "softmax v%d", v[i]);
            snprintf(shape, sizeof shape, "%d rows of %d", rows[s], ns[s]);
            row(b, name, shape, time_us(run_softmax, &c), 8.0 * rows[s] * ns[s], 0);
            release(&c);
        }
}

// Decode attention over a full sink + window cache of 1024 keys: "attention" reads k_rot[1024],
// "attention_ring" the ring of 1280 slots, rotating keys on the fly.
static void bench_attention(Bench *b, const char *op, int want) {
    double att_bytes = 4.0 * (2.0 * 1024 * 192 + 2 * 576);
    int v[16], nv = versions(op, want, v, 16), ring = !strcmp(op, "attention_ring");
    for (int i = 0; i < nv && !b->bad; i++) {
        Case c = {.b = b};
        size_t cap = ring ? 1280 : 1024, n[3] = {576, cap * 192, cap * 192};
        inputs(&c, 3, n, 576);
        if (!ring) {
            c.w[0] = dev_alloc(b, (size_t)9 * 1024 * 4); // probabilities
        } else {
            c.w[0] = dev_random(b, gpu_attention_ring_scratch(1, 9, 64, 1280), 5);
            c.w[1] = dev_random(b, 1280 * 32, 6), c.w[2] = dev_random(b, 1280 * 32, 7); // rotary tables
            GpuStep st = {1023, 300, 4, 1020};
            c.step = dev_alloc(b, sizeof st);
            if (c.step) cudaMemcpy(c.step, &st, sizeof st, cudaMemcpyHostToDevice);
        }
        c.version = v[i];
        char name[48];
        snprintf(name, sizeof name, ring ? "attention v%d (ring, split keys)" : "attention v%d", v[i]);
        row(b, name, "T=1, 1024 keys, 9 heads on 3", time_us(ring ? run_ring : run_attention, &c), att_bytes, 0);
        release(&c);
    }
}

// Decode's products with the weights kept as Q4_1 (20 bytes a block of 32): the MLP's up
// projection and the head. The floor is the blocks, x and out; version 1 also writes and reads
// its fp32 scratch matrix, which the floor does not count: that is the cost of not fusing.
static void bench_qmatvec(Bench *b, int want) {
    static const int shapes[][2] = {{576, 1536}, {576, 49152}};
    int v[16], nv = versions("matvec_q4_1", want, v, 16);
    for (int i = 0; i < nv && !b->bad; i++)
        for (int s = 0; s < 2 && !b->bad; s++) {
            int I = shapes[s][0], O = shapes[s][1];
            Case c = {.b = b};
            size_t n[2] = {(size_t)I, (size_t)O * I / 32 * 5}; // x, and the blocks as floats (20 bytes each 5)
            inputs(&c, 2, n, O);
            if (v[i] == 1) c.w[0] = dev_alloc(b, (size_t)O * I * 4);
            c.version = v[i], c.I = I, c.O = O;
            char name[32], shape[64];
            snprintf(name, sizeof name, "matvec_q4_1 v%d", v[i]);
            snprintf(shape, sizeof shape, "T=1, %d -> %d, Q4_1", I, O);
            row(b, name, shape, time_us(run_qmatvec, &c), 4.0 * (I + O) + 20.0 * O * I / 32, 0);
            release(&c);
        }
}

static void bench_argmax_embedding(Bench *b) {
    Case c = {.b = b};
    size_t n[1] = {49152};
    inputs(&c, 1, n, 0);
    c.idx = dev_alloc(b, 4);
    c.n = 49152;
    row(b, "argmax", "n=49152", time_us(run_argmax, &c), 4.0 * 49152, 0);
    release(&c);
    Case e = {.b = b};
    size_t m[1] = {(size_t)49152 * 576};
    inputs(&e, 1, m, 576);
    int t = 4242;
    e.tok = dev_alloc(b, 4);
    if (e.tok) cudaMemcpy(e.tok, &t, 4, cudaMemcpyHostToDevice);
    row(b, "embedding", "T=1, D=576", time_us(run_embedding, &e), 8.0 * 576, 0);
    release(&e);
}

int kernel_bench(FILE *out, const char *op, int version, Error *err) {
    char why[256];
    if (op && !kernel_op_known(op)) return kernel_lookup(op, 0, err) ? 0 : -1; // the message names the ops
    if (op && version && !kernel_lookup(op, version, err)) return -1;          // ... or the versions
    if (gpu_device_ok(why, sizeof why)) return err_set(err, "%s", why);
    Bench b = {out, err, 0, gpu_copy_bandwidth((size_t)1 << 30)};
    if (b.bw <= 0) return err_set(err, "cannot measure the copy bandwidth (out of GPU memory?)");
    struct cudaDeviceProp p;
    cudaGetDeviceProperties(&p, 0);
    fprintf(out, "device: %s, %d SMs; copy bandwidth %.0f GB/s (read + write)\n\n", p.name, p.multiProcessorCount, b.bw);
    fprintf(out, "| kernel | shape | us | floor us | / floor | GB/s | GFLOP/s |\n|---|---|---|---|---|---|---|\n");
    int all = op == NULL;
    if (all || !strcmp(op, "matmul")) {
        bench_decode(&b, 576, 1536, version, all); // the MLP's up projection
        bench_decode(&b, 576, 49152, version, all); // the head
        if (all && !b.bad) bench_swiglu(&b);
        bench_prefill(&b, version);
    }
    if (all || !strcmp(op, "rmsnorm")) bench_norm(&b, "rmsnorm", version);
    if (all || !strcmp(op, "layernorm")) bench_norm(&b, "layernorm", version);
    if (all || !strcmp(op, "softmax")) bench_softmax(&b, version);
    if (all || !strcmp(op, "attention")) bench_attention(&b, "attention", version);
    if (all || !strcmp(op, "attention_ring")) bench_attention(&b, "attention_ring", version);
    if (all || !strcmp(op, "matvec_q4_1")) bench_qmatvec(&b, version);
    if (all && !b.bad) bench_argmax_embedding(&b);
    return b.bad ? -1 : 0;
}
