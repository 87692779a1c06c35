// kernel_check.c: every numbered kernel against its ref_cpu function (kernel_check.h). Host C
// with the CUDA runtime API; the shapes are those the tests have always used: decode and
// prefill, the default model's sizes, and ragged edges in every dimension.
#include "kernel_check.h"

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "kernels.h"
#include "ops.h"
#include "quant.h"

// ---- comparing ----------------------------------------------------------------------------

// ANCHOR: kernel_compare
int kernel_compare(KernelVerdict *v, const float *gpu, const float *cpu, size_t n, const unsigned char *mask,
                   KernelLimits lim) {
    double num = 0, den = 0;
    memset(v, 0, sizeof *v);
    v->ok = 1;
    for (size_t i = 0; i < n; i++) {
        if (mask && !mask[i]) continue;
        if (isnan(gpu[i]) || isnan(cpu[i])) {
            snprintf(v->why, sizeof v->why, "NaN at element %zu (gpu %g, cpu %g): never written, or 0/0", i, gpu[i],
                     cpu[i]);
            v->ok = 0, v->max_abs = v->nmse = INFINITY;
            return 0;
        }
        double d = fabs((double)gpu[i] - cpu[i]), allowed = lim.atol + lim.rtol * fabs((double)cpu[i]);
        if (!(d <= allowed) && v->ok) {
            snprintf(v->why, sizeof v->why, "element %zu: gpu %.9g vs cpu %.9g (|d| %.3g > %.3g)", i, gpu[i], cpu[i], d,
                     allowed);
            v->ok = 0;
        }
        v->max_abs = fmax(v->max_abs, d);
        num += d * d, den += (double)cpu[i] * cpu[i];
    }
    v->nmse = den > 0 ? num / den : num;
    if (!(v->nmse <= lim.nmse) && v->ok) {
        snprintf(v->why, sizeof v->why, "nmse %.3g > %.3g", v->nmse, lim.nmse);
        v->ok = 0;
    }
    return v->ok;
}
// END: kernel_compare

void kernel_random(float *x, size_t n, unsigned long long seed, float scale) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        float u = ((seed >> 40) + 0.5f) / (float)(1ULL << 24); // (0, 1)
        x[i] = (2 * u - 1) * scale;
    }
}

// ---- one shape's buffers --------------------------------------------------------------------

// What a check holds while it runs: the buffers of the shape in hand (freed together by
// lab_release), and whether something failed that is not the kernel's fault.
#define LAB_MAX 24
typedef struct {
    FILE *out;
    const KernelInfo *k;
    Error *err;
    int failed, broken; // shapes that failed; -1 when the check itself could not go on
    void *dev[LAB_MAX], *host[LAB_MAX];
    int n_dev, n_host;
} Lab;

static void *lab_keep(Lab *L, void *p, int on_device) {
    if (!p) {
        if (!L->broken) err_set(L->err, "%s", on_device ? "out of GPU memory" : "out of memory");
        L->broken = 1;
        return NULL;
    }
    if (on_device) L->dev[L->n_dev++] = p;
    else L->host[L->n_host++] = p;
    return p;
}

static float *lab_host(Lab *L, size_t n) {
    if (L->n_host == LAB_MAX) return lab_keep(L, NULL, 0);
    return lab_keep(L, malloc((n ? n : 1) * sizeof(float)), 0);
}

static float *lab_rand(Lab *L, size_t n, unsigned long long seed, float scale) {
    float *x = lab_host(L, n);
    if (x) kernel_random(x, n, seed, scale);
    return x;
}

// A device copy of h[bytes] (NULL h: uninitialised).
static void *lab_up(Lab *L, const void *h, size_t bytes) {
    void *d = NULL;
    if (L->broken || L->n_dev == LAB_MAX || cudaMalloc(&d, bytes ? bytes : 1) != cudaSuccess) return lab_keep(L, NULL, 1);
    if (h && cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice) != cudaSuccess) {
        cudaFree(d);
        return lab_keep(L, NULL, 1);
    }
    return lab_keep(L, d, 1);
}

// ANCHOR: lab_poisoned
// A device buffer of n floats filled with NaN (all bits set), so elements never written show.
static float *lab_poisoned(Lab *L, size_t n) {
    float *d = lab_up(L, NULL, n * sizeof(float));
    if (d && cudaMemset(d, 0xff, n * sizeof(float)) != cudaSuccess) L->broken = 1;
    return d;
}
// END: lab_poisoned

static float *lab_down(Lab *L, const float *d, size_t n) {
    float *h = lab_host(L, n);
    if (h && cudaMemcpy(h, d, n * sizeof(float), cudaMemcpyDeviceToHost) != cudaSuccess) {
        err_set(L->err, "cannot read the output back from the GPU");
        L->broken = 1;
    }
    return h;
}

static void lab_release(Lab *L) {
    for (int i = 0; i < L->n_dev; i++) cudaFree(L->dev[i]);
    for (int i = 0; i < L->n_host; i++) free(L->host[i]);
    L->n_dev = L->n_host = 0;
}

// After the launch: 0 when it ran, else the FAIL line (an unknown version, a fault on the device).
static int lab_launched(Lab *L, const char *shape, int rc) {
    const char *e = gpu_last_error(); // synchronises
    if (rc == 0 && e == NULL) return 0;
    fprintf(L->out, "FAIL %s v%d %s: %s\n", L->k->op, L->k->version, shape, e ? e : "launch refused");
    L->failed++;
    return -1;
}

// The verdict line of one shape from its comparisons (names[i] labels part i when there are two):
// "ok OP vN SHAPE max|d| .. nmse .." or "FAIL OP vN SHAPE: why".
static void lab_verdict(Lab *L, const char *shape, const KernelVerdict *v, const char *const *names, int parts) {
    int ok = 1;
    for (int i = 0; i < parts; i++) ok &= v[i].ok;
    fprintf(L->out, "%s %s v%d %s", ok ? "ok" : "FAIL", L->k->op, L->k->version, shape);
    for (int i = 0; i < parts; i++) {
        fprintf(L->out, "%s", i ? "; " : ok ? " " : ": ");
        if (parts > 1) fprintf(L->out, "%s%s", names[i], v[i].ok ? " " : ": ");
        if (v[i].ok) fprintf(L->out, "max|d| %.2g nmse %.2g", v[i].max_abs, v[i].nmse);
        else fprintf(L->out, "%s", v[i].why);
    }
    fprintf(L->out, "\n");
    if (!ok) L->failed++;
}

// ---- the ops --------------------------------------------------------------------------------

static void check_matmul(Lab *L) {
    // v3's tiles: a prefill of 256 tokens, and ragged edges in every dimension
    static const int shapes[][3] = {{1, 576, 1536}, {1, 1536, 576}, {5, 576, 192}, {64, 64, 96},
                                    {3, 37, 11},    {256, 576, 192}, {70, 100, 130}};
    for (int k = 0; k < 7 && !L->broken; k++, lab_release(L)) {
        int T = shapes[k][0], I = shapes[k][1], O = shapes[k][2], bias = k % 2;
        char shape[96];
        snprintf(shape, sizeof shape, "T=%d I=%d O=%d%s", T, I, O, bias ? " +bias" : "");
        float *in = lab_rand(L, (size_t)T * I, 11 + k, 1), *w = lab_rand(L, (size_t)O * I, 23 + k, 0.5f);
        float *b = lab_rand(L, O, 5 + k, 1), *cpu = lab_host(L, (size_t)T * O);
        float *d_in = lab_up(L, in, (size_t)T * I * 4), *d_w = lab_up(L, w, (size_t)O * I * 4), *d_b = lab_up(L, b, O * 4);
        float *d_out = lab_poisoned(L, (size_t)T * O);
        if (L->broken) break;
        matmul_forward(cpu, in, w, bias ? b : NULL, T, I, O);
        if (lab_launched(L, shape, gpu_matmul_forward(L->k->version, d_out, d_in, d_w, bias ? d_b : NULL, T, I, O)))
            continue;
        float *gpu = lab_down(L, d_out, (size_t)T * O);
        if (L->broken) break;
        KernelVerdict v;
        kernel_compare(&v, gpu, cpu, (size_t)T * O, NULL, L->k->lim);
        lab_verdict(L, shape, &v, NULL, 1);
    }
}

// rmsnorm and layernorm: the same shapes and inputs.
static void check_norm(Lab *L, int layer) {
    static const int shapes[][2] = {{1, 576}, {7, 576}, {3, 512}, {2, 37}};
    for (int k = 0; k < 4 && !L->broken; k++, lab_release(L)) {
        int T = shapes[k][0], D = shapes[k][1];
        char shape[64];
        snprintf(shape, sizeof shape, "T=%d D=%d", T, D);
        float *in = lab_rand(L, (size_t)T * D, 3 + k, 2), *w = lab_rand(L, D, 9 + k, 1), *b = lab_rand(L, D, 4 + k, 1);
        float *cpu = lab_host(L, (size_t)T * D);
        float *d_in = lab_up(L, in, (size_t)T * D * 4), *d_w = lab_up(L, w, D * 4), *d_b = lab_up(L, b, D * 4);
        float *d_out = lab_poisoned(L, (size_t)T * D);
        if (L->broken) break;
        int rc;
        if (layer) {
            layernorm_forward(cpu, in, w, b, T, D, 1e-5f);
            rc = gpu_layernorm_forward(L->k->version, d_out, d_in, d_w, d_b, T, D, 1e-5f);
        } else {
            rmsnorm_forward(cpu, in, w, T, D, 1e-5f);
            rc = gpu_rmsnorm_forward(L->k->version, d_out, d_in, d_w, T, D, 1e-5f);
        }
        if (lab_launched(L, shape, rc)) continue;
        float *gpu = lab_down(L, d_out, (size_t)T * D);
        if (L->broken) break;
        KernelVerdict v;
        kernel_compare(&v, gpu, cpu, (size_t)T * D, NULL, L->k->lim);
        lab_verdict(L, shape, &v, NULL, 1);
    }
}

// ANCHOR: check_softmax
// In place: nothing to poison; an element the kernel skips keeps its logit, far from any
// probability (inputs span [-8, 8]).
static void check_softmax(Lab *L) {
    static const int shapes[][2] = {{1, 49152}, {9, 1024}, {4, 3}};
    for (int k = 0; k < 3 && !L->broken; k++, lab_release(L)) {
        int R = shapes[k][0], n = shapes[k][1];
        char shape[64];
        snprintf(shape, sizeof shape, "rows=%d n=%d", R, n);
        float *x = lab_rand(L, (size_t)R * n, 17 + k, 8), *cpu = lab_host(L, (size_t)R * n);
        float *d = lab_up(L, x, (size_t)R * n * 4);
        if (L->broken) break;
        memcpy(cpu, x, (size_t)R * n * sizeof(float));
        for (int r = 0; r < R; r++) softmax_forward(cpu + (size_t)r * n, n);
        if (lab_launched(L, shape, gpu_softmax_forward(L->k->version, d, R, n))) continue;
        float *gpu = lab_down(L, d, (size_t)R * n);
        if (L->broken) break;
        KernelVerdict v;
        kernel_compare(&v, gpu, cpu, (size_t)R * n, NULL, L->k->lim);
        lab_verdict(L, shape, &v, NULL, 1);
    }
}
// END: check_softmax

// Decode and prefill; dense, window and sinks views; GQA (9 heads on 3) and MHA.
typedef struct {
    int T, n_past, n_sink, window, Hq, Hkv, hd, cap;
} AttnShape;
static const AttnShape ATTN_SHAPES[] = {
    {1, 100, 0, 0, 9, 3, 64, 128},      // dense decode
    {1, 1023, 4, 1020, 9, 3, 64, 1024}, // sinks decode, full cache
    {16, 40, 4, 20, 9, 3, 64, 64},      // sinks prefill: queries slide past the window
    {8, 0, 0, 0, 4, 4, 32, 8},          // dense prefill from empty, multi-head
    {5, 30, 0, 12, 4, 4, 32, 40},       // window prefill
};

static void check_attention(Lab *L) {
    for (int k = 0; k < 5 && !L->broken; k++, lab_release(L)) {
        AttnShape c = ATTN_SHAPES[k];
        char shape[96];
        snprintf(shape, sizeof shape, "T=%d past=%d sinks=%d win=%d heads=%d/%d hd=%d", c.T, c.n_past, c.n_sink,
                 c.window, c.Hq, c.Hkv, c.hd);
        size_t nq = (size_t)c.T * c.Hq * c.hd, nk = (size_t)c.cap * c.Hkv * c.hd, na = (size_t)c.Hq * c.T * c.cap;
        float *q = lab_rand(L, nq, 61 + k, 1), *qs = lab_rand(L, nq, 67 + k, 1), *kr = lab_rand(L, nk, 71 + k, 1);
        float *vv = lab_rand(L, nk, 73 + k, 1), *out = lab_host(L, nq), *att = lab_host(L, na);
        unsigned char *mask = (unsigned char *)lab_host(L, na / 4 + 1); // the probabilities of slots 0..slot
        float *d_q = lab_up(L, q, nq * 4), *d_qs = lab_up(L, qs, nq * 4), *d_k = lab_up(L, kr, nk * 4);
        float *d_v = lab_up(L, vv, nk * 4), *d_out = lab_poisoned(L, nq), *d_att = lab_poisoned(L, na);
        if (L->broken) break;
        attention_forward(out, att, q, qs, kr, vv, c.T, c.n_past, c.n_sink, c.window, c.Hq, c.Hkv, c.hd, c.cap);
        memset(mask, 0, na);
        for (int h = 0; h < c.Hq; h++)
            for (int t = 0; t < c.T; t++)
                for (int j = 0; j <= c.n_past + t; j++) mask[((size_t)h * c.T + t) * c.cap + j] = 1;
        int rc = gpu_attention_forward(L->k->version, d_out, d_att, d_q, d_qs, d_k, d_v, c.T, c.n_past, c.n_sink,
                                       c.window, c.Hq, c.Hkv, c.hd, c.cap);
        if (lab_launched(L, shape, rc)) continue;
        float *g_out = lab_down(L, d_out, nq), *g_att = lab_down(L, d_att, na);
        if (L->broken) break;
        KernelVerdict v[2];
        static const char *const names[] = {"out", "probs"};
        kernel_compare(&v[0], g_out, out, nq, NULL, L->k->lim);
        kernel_compare(&v[1], g_att, att, na, mask, L->k->lim);
        lab_verdict(L, shape, v, names, 2);
    }
}

// The ring cache (kernels.h, GpuRing): the keys of logical slot j live unrotated at a physical
// slot; the kernel rotates them on the fly. The CPU side rotates every key at its logical slot
// and runs attention_forward; queries are rotated here (gpu_qkv_store's job, which tests/
// test_gpu.c checks on its own).
typedef struct {
    int T, n_past, n_sink, window, Hq, Hkv, hd, rot, cap, ring_off;
    RopeStyle style;
} RingShape;
static const RingShape RING_SHAPES[] = {
    {1, 1023, 4, 1020, 9, 3, 64, 64, 1280, 37, ROPE_INTERLEAVED}, // SmolLM2 decode, full cache, turned ring
    {16, 40, 4, 20, 9, 3, 64, 64, 64, 5, ROPE_HALF},              // sinks prefill sliding past the window
    {1, 300, 0, 0, 4, 4, 32, 8, 512, 0, ROPE_HALF},               // dense decode, GPT-NeoX partial rotary
    {8, 0, 0, 0, 4, 2, 16, 16, 8, 0, ROPE_INTERLEAVED},           // dense prefill from empty
    {5, 30, 0, 12, 4, 4, 128, 128, 40, 11, ROPE_HALF},            // window prefill, head_dim 128
};

static int ring_slot_host(int j, GpuRing r, int off) { return j < r.sinks ? j : r.sinks + (off + j - r.sinks) % r.size; }

static void check_ring(Lab *L) {
    for (int k = 0; k < 5 && !L->broken; k++, lab_release(L)) {
        RingShape c = RING_SHAPES[k];
        int kvd = c.Hkv * c.hd, qd = c.Hq * c.hd, half = c.rot / 2, last = c.n_past + c.T;
        char shape[128];
        snprintf(shape, sizeof shape, "T=%d past=%d S=%d W=%d heads=%d/%d hd=%d rot=%d ring+%d", c.T, c.n_past,
                 c.n_sink, c.window, c.Hq, c.Hkv, c.hd, c.rot, c.ring_off);
        GpuRing ring = {c.n_sink, c.cap - c.n_sink};
        RopeTable rope;
        if (rope_init(&rope, c.cap, c.rot, 10000.0f, L->err)) {
            L->broken = 1;
            break;
        }
        size_t nk = (size_t)c.cap * kvd, nq = (size_t)c.T * qd;
        float *q = lab_rand(L, nq, 101 + k, 1), *qs = lab_host(L, nq), *kc = lab_rand(L, nk, 103 + k, 1);
        float *vc = lab_rand(L, nk, 107 + k, 1), *krot = lab_host(L, nk), *out = lab_host(L, nq);
        float *att = lab_host(L, (size_t)c.Hq * c.T * c.cap), *pos = lab_host(L, 2 * (size_t)c.T + c.cap);
        float *pk = lab_rand(L, nk, 109 + k, 1), *pv = lab_rand(L, nk, 113 + k, 1); // physical order
        if (L->broken) {
            rope_free(&rope);
            break;
        }
        int *qpos = (int *)pos, *spos = qpos + c.T, *all = spos + c.T; // pos: 2T + cap ints
        for (int t = 0; t < c.T; t++) {
            qpos[t] = c.n_past + t;
            spos[t] = attention_sink_position(c.n_past + t, c.n_sink, c.window);
        }
        memcpy(qs, q, nq * 4);
        rope_forward(q, qpos, &rope, c.T, c.Hq, c.hd, c.style);
        rope_forward(qs, spos, &rope, c.T, c.Hq, c.hd, c.style);
        for (int j = 0; j < c.cap; j++) all[j] = j;
        memcpy(krot, kc, nk * 4);
        rope_forward(krot, all, &rope, c.cap, c.Hkv, c.hd, c.style);
        attention_forward(out, att, q, qs, krot, vc, c.T, c.n_past, c.n_sink, c.window, c.Hq, c.Hkv, c.hd, c.cap);
        for (int j = 0; j < last; j++) { // the cache and the block, scattered over the turned ring
            memcpy(pk + (size_t)ring_slot_host(j, ring, c.ring_off) * kvd, kc + (size_t)j * kvd, kvd * 4);
            memcpy(pv + (size_t)ring_slot_host(j, ring, c.ring_off) * kvd, vc + (size_t)j * kvd, kvd * 4);
        }
        GpuStep step = {c.n_past, c.ring_off, c.n_sink, c.window};
        float *d_q = lab_up(L, q, nq * 4), *d_qs = lab_up(L, qs, nq * 4), *d_k = lab_up(L, pk, nk * 4);
        float *d_v = lab_up(L, pv, nk * 4), *d_out = lab_poisoned(L, nq);
        float *d_cos = lab_up(L, rope.cos, (size_t)c.cap * half * 4), *d_sin = lab_up(L, rope.sin, (size_t)c.cap * half * 4);
        float *d_part = lab_poisoned(L, gpu_attention_ring_scratch(c.T, c.Hq, c.hd, c.cap));
        GpuStep *d_step = lab_up(L, &step, sizeof step);
        rope_free(&rope);
        if (L->broken) break;
        int rc = gpu_attention_ring_forward(L->k->version, d_out, d_part, d_q, d_qs, d_k, d_v, d_cos, d_sin, d_step, ring,
                                            half, c.style == ROPE_INTERLEAVED, c.T, c.Hq, c.Hkv, c.hd, c.cap);
        if (lab_launched(L, shape, rc)) continue;
        float *gpu = lab_down(L, d_out, nq);
        if (L->broken) break;
        KernelVerdict v;
        kernel_compare(&v, gpu, out, nq, NULL, L->k->lim);
        lab_verdict(L, shape, &v, NULL, 1);
    }
}

// Q4_1 weights times a vector: decode's products at the default model's sizes, the output head,
// and one block a row. The blocks are random bytes with d and m made f16 of modest size (2^-10 to
// 2^-6, either sign), as a model's are; the reference dequantises them and multiplies in fp32.
static void check_qmatvec(Lab *L) {
    static const int shapes[][2] = {{576, 1536}, {1536, 576}, {576, 49152}, {32, 7}};
    for (int k = 0; k < 4 && !L->broken; k++, lab_release(L)) {
        int I = shapes[k][0], O = shapes[k][1];
        size_t nw = (size_t)O * I, nb = nw / 32;
        char shape[64];
        snprintf(shape, sizeof shape, "I=%d O=%d", I, O);
        float *x = lab_rand(L, I, 41 + k, 1), *r = lab_rand(L, nb * 20, 43 + k, 1);
        float *wf = lab_host(L, nw), *cpu = lab_host(L, O), *bf = lab_host(L, nb * 5); // bf: nb * 20 bytes
        if (L->broken) break;
        unsigned char *blk = (unsigned char *)bf;
        for (size_t b = 0; b < nb; b++) {
            unsigned char *p = blk + b * 20;
            for (int i = 0; i < 20; i++) p[i] = (unsigned char)(r[b * 20 + i] * 127.0f + 128.0f);
            for (int f = 0; f < 2; f++) { // d, then m: sign and mantissa random, exponent field 5..9
                unsigned short h = (unsigned short)(((p[2 * f] | p[2 * f + 1] << 8) & 0x83ff) | (5 + b % 5) << 10);
                p[2 * f] = h & 0xff, p[2 * f + 1] = h >> 8;
            }
        }
        dequantize(wf, blk, GGML_Q4_1, nw);
        matmul_forward(cpu, x, wf, NULL, 1, I, O);
        float *d_x = lab_up(L, x, (size_t)I * 4), *d_w = lab_up(L, blk, nb * 20);
        float *d_scratch = lab_poisoned(L, nw), *d_out = lab_poisoned(L, O);
        if (L->broken) break;
        if (lab_launched(L, shape, gpu_matvec_q4_1_forward(L->k->version, d_out, d_x, d_w, d_scratch, I, O))) continue;
        float *gpu = lab_down(L, d_out, O);
        if (L->broken) break;
        KernelVerdict v;
        kernel_compare(&v, gpu, cpu, O, NULL, L->k->lim);
        lab_verdict(L, shape, &v, NULL, 1);
    }
}

// ---- the entry points -----------------------------------------------------------------------

int kernel_check(FILE *out, const char *op, int version, Error *err) {
    char why[256];
    const KernelInfo *k = kernel_lookup(op, version, err);
    if (!k) return -1;
    if (gpu_device_ok(why, sizeof why)) return err_set(err, "%s", why);
    fprintf(out, "%s v%d (%s, %s): %s, against %s; limits atol %.0e rtol %.0e nmse %.0e: %s\n", k->op, k->version,
            kernel_status_name(k->status), k->kernel, k->desc, k->ref, k->lim.atol, k->lim.rtol, k->lim.nmse, k->lim.why);
    Lab L = {out, k, err, 0, 0, {0}, {0}, 0, 0};
    if (!strcmp(op, "matmul")) check_matmul(&L);
    else if (!strcmp(op, "rmsnorm")) check_norm(&L, 0);
    else if (!strcmp(op, "layernorm")) check_norm(&L, 1);
    else if (!strcmp(op, "softmax")) check_softmax(&L);
    else if (!strcmp(op, "attention")) check_attention(&L);
    else if (!strcmp(op, "attention_ring")) check_ring(&L);
    else if (!strcmp(op, "matvec_q4_1")) check_qmatvec(&L);
    else err_set(err, "%s is registered but kernel_check has no shapes for it (gpu/kernel_check.c)", op), L.broken = 1;
    lab_release(&L);
    return L.broken ? -1 : L.failed;
}

int kernel_check_ready(FILE *out, const char *op, Error *err) {
    int n, failed = 0, any = 0;
    const KernelInfo *t = kernel_table(&n);
    if (!kernel_op_known(op)) return kernel_lookup(op, 0, err) ? 0 : -1; // names the ops that exist
    for (int i = 0; i < n; i++) {
        if (strcmp(t[i].op, op) || t[i].status != KERNEL_READY) continue;
        int f = kernel_check(out, op, t[i].version, err);
        if (f < 0) return -1;
        failed += f, any = 1;
    }
    if (!any) return err_set(err, "%s has no ready version", op);
    return failed;
}
