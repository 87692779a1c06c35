// test_gpu: every CUDA kernel against the ref_cpu function it re-implements, on random inputs
// (never zeros) at several shapes, with the output poisoned with NaN first so a kernel that
// skips an element fails. An element passes when |gpu - cpu| <= atol + rtol * |cpu|; the whole
// output when its normalised mean squared error sum((gpu-cpu)^2) / sum(cpu^2) <= nmse too. Any
// NaN fails. The ops with numbered versions are checked by gpu/kernel_check.c, the checker
// `sinks kernels check` runs, with the limits and reasons of the registry (gpu/registry.c); the
// other ops' limits are declared beside them here. Deliberately wrong kernels (gpu/faults.cu)
// must fail that check, and an unknown version must be refused.
//
// With no CUDA device every test prints that it was skipped and why, and passes; `make
// test-gpu` sets SINKS_REQUIRE_GPU=1, which turns a missing device into a failure.
#include <cuda_runtime_api.h>

#include "testutil.h"
#include "gpu_stream.h"
#include "kernel_check.h"
#include "kernels.h"
#include "forward.h"
#include "ops.h"
#include "quant.h"

typedef KernelLimits Limits;

static int have_gpu(const char *test) {
    char why[256];
    if (gpu_device_ok(why, sizeof why) == 0) return 1;
    ck_assert_msg(!getenv("SINKS_REQUIRE_GPU"), "%s: %s", test, why);
    printf("skipped %s: %s\n", test, why);
    return 0;
}

// Uniform in [-scale, scale], never exactly zero: the checker's generator.
static float *rand_host(size_t n, unsigned long long seed, float scale) {
    float *x = malloc(n * sizeof(float));
    kernel_random(x, n, seed, scale);
    return x;
}

static void *to_dev(const void *h, size_t bytes) {
    void *d = NULL;
    ck_assert_int_eq(cudaMalloc(&d, bytes ? bytes : 1), cudaSuccess);
    if (h) ck_assert_int_eq(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice), cudaSuccess);
    return d;
}

// A device buffer of n floats filled with NaN (all bits set), so untouched elements show.
static float *poisoned(size_t n) {
    float *d = to_dev(NULL, n * sizeof(float));
    ck_assert_int_eq(cudaMemset(d, 0xff, n * sizeof(float)), cudaSuccess);
    return d;
}

static float *from_dev(const float *d, size_t n) {
    const char *e = gpu_last_error();
    ck_assert_msg(e == NULL, "kernel failed: %s", e);
    float *h = malloc(n * sizeof(float));
    ck_assert_int_eq(cudaMemcpy(h, d, n * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
    return h;
}

// Compares n values (only i where mask[i] if mask != NULL) with the checker's comparison.
static void check_close(const char *what, const float *gpu, const float *cpu, size_t n, const unsigned char *mask,
                        Limits lim) {
    KernelVerdict v;
    ck_assert_msg(kernel_compare(&v, gpu, cpu, n, mask, lim), "%s: %s", what, v.why);
    printf("ok %-44s max |d| %.2e  nmse %.2e  (atol %.0e rtol %.0e: %s)\n", what, v.max_abs, v.nmse, lim.atol,
           lim.rtol, lim.why);
}

// Every ready version of a registered op, at every shape `sinks kernels check` uses.
static void check_op(const char *op) {
    if (!have_gpu(op)) return;
    Error err = {{0}};
    int failed = kernel_check_ready(stdout, op, &err);
    ck_assert_msg(failed >= 0, "%s: %s", op, err.msg);
    ck_assert_msg(failed == 0, "%s: %d shapes failed (the FAIL lines above)", op, failed);
}

// Rows of I / 32 random Q4_1 or Q8_0 blocks with finite scales (and offsets) of either sign.
static unsigned char *random_blocks(int type, size_t rows, int I, unsigned long long seed) {
    size_t bytes = rows * qmat_row_bytes((uint32_t)type, I), bs = ggml_type_size((uint32_t)type);
    unsigned char *b = malloc(bytes);
    float *r = rand_host(bytes, seed, 1);
    for (size_t i = 0; i < bytes; i++) b[i] = (unsigned char)(int)((r[i] + 1.0f) * 127.9f);
    for (size_t k = 0; k < bytes / bs; k++)
        for (int f = 0; f < (type == GGML_Q4_1 ? 2 : 1); f++) { // f16 in +-[2^-10, 2^-7): real scales
            unsigned short h = (unsigned short)((5 + b[k * bs + 2 * f] % 3) << 10 | (b[k * bs + 2 * f + 1] & 3) << 8 |
                                                (b[k * bs + 2 * f] & 0x80) << 8);
            b[k * bs + 2 * f] = (unsigned char)h, b[k * bs + 2 * f + 1] = (unsigned char)(h >> 8);
        }
    free(r);
    return b;
}

START_TEST(embedding_matches_cpu) {
    if (!have_gpu("embedding")) return;
    Limits lim = {0, 0, 0, "a copy: exact"};
    int V = 1000, D = 576, T = 7, tokens[7] = {0, 999, 5, 5, 123, 42, 998};
    float *emb = rand_host((size_t)V * D, 1, 1), *cpu = malloc((size_t)T * D * sizeof(float));
    embedding_forward(cpu, emb, tokens, T, D);
    float *d_emb = to_dev(emb, (size_t)V * D * 4), *d_out = poisoned((size_t)T * D);
    int *d_tok = to_dev(tokens, sizeof tokens);
    gpu_embedding_forward(d_out, d_emb, d_tok, T, D);
    float *gpu = from_dev(d_out, (size_t)T * D);
    check_close("embedding T=7 D=576", gpu, cpu, (size_t)T * D, NULL, lim);
    free(gpu);
    // from a table of blocks (--weights native), against ref_cpu's row dequantisation
    const int types[] = {GGML_Q4_1, GGML_Q8_0};
    for (int k = 0; k < 2; k++) {
        QMat q = {random_blocks(types[k], V, D, 3 + k), (uint32_t)types[k]};
        embedding_any_forward(cpu, NULL, q, tokens, T, D);
        void *d_q = to_dev(q.data, V * qmat_row_bytes(q.type, D));
        cudaMemset(d_out, 0xff, (size_t)T * D * 4);
        gpu_embedding_q_forward(d_out, (GpuWeights){d_q, types[k]}, d_tok, T, D);
        gpu = from_dev(d_out, (size_t)T * D);
        char what[64];
        snprintf(what, sizeof what, "embedding %s T=7 D=576", ggml_type_name(q.type));
        check_close(what, gpu, cpu, (size_t)T * D, NULL, (Limits){0, 1e-6, 1e-12, "q * d (+ m): one rounding, fused or not"});
        cudaFree(d_q), free((void *)q.data), free(gpu);
    }
    cudaFree(d_emb), cudaFree(d_out), cudaFree(d_tok);
    free(emb), free(cpu);
}
END_TEST

// Q4_1 through the lab's entry point (qmatvec v1's first step) and the model's, Q8_0 the model's:
// the same multiply and add as the CPU, unfused, so the limit allows one rounding.
START_TEST(dequant_q4_1_matches_cpu) {
    if (!have_gpu("dequant")) return;
    Limits lim = {0, 1e-6, 1e-12, "q * d + m: one rounding, fused or not"};
    size_t n_blocks = 4099, n = n_blocks * 32;
    const int types[] = {GGML_Q4_1, GGML_Q4_1, GGML_Q8_0};
    for (int k = 0; k < 3; k++) {
        unsigned char *blocks = random_blocks(types[k], n_blocks, 32, 7 + k);
        float *cpu = malloc(n * sizeof(float));
        dequantize(cpu, blocks, (uint32_t)types[k], n);
        void *d_b = to_dev(blocks, n_blocks * ggml_type_size((uint32_t)types[k]));
        float *d_out = poisoned(n);
        if (k == 0) gpu_dequant_q4_1(d_out, d_b, n);
        else gpu_dequant(d_out, (GpuWeights){d_b, types[k]}, n);
        float *gpu = from_dev(d_out, n);
        char what[64];
        snprintf(what, sizeof what, "%s %s 4099 blocks", k ? "dequant" : "dequant_q4_1", ggml_type_name((uint32_t)types[k]));
        check_close(what, gpu, cpu, n, NULL, lim);
        cudaFree(d_b), cudaFree(d_out);
        free(blocks), free(cpu), free(gpu);
    }
}
END_TEST

START_TEST(matmul_matches_cpu) { check_op("matmul"); }
END_TEST

START_TEST(norms_match_cpu) {
    check_op("rmsnorm");
    check_op("layernorm");
}
END_TEST

START_TEST(softmax_matches_cpu) { check_op("softmax"); }
END_TEST

START_TEST(qmatvec_matches_cpu) { check_op("matvec_q4_1"); }
END_TEST

START_TEST(rope_matches_cpu) {
    if (!have_gpu("rope")) return;
    Limits lim = {1e-6, 1e-5, 1e-12, "two products and a sum from the same tables"};
    // Llama: full rotary, split halves (GGUF permutes to interleaved); GPT-NeoX: partial, split
    struct { int T, H, hd, rot; RopeStyle style; const char *name; } c[] = {
        {5, 9, 64, 64, ROPE_INTERLEAVED, "full interleaved"}, {5, 3, 64, 64, ROPE_HALF, "full halves"},
        {4, 4, 32, 8, ROPE_HALF, "partial 8 of 32"}};
    for (int k = 0; k < 3; k++) {
        Error err = {{0}};
        RopeTable r;
        ck_assert_int_eq(rope_init(&r, 4096, c[k].rot, 10000.0f, &err), 0);
        int pos[5] = {0, 1, 4095, 1024, 7};
        size_t n = (size_t)c[k].T * c[k].H * c[k].hd;
        float *x = rand_host(n, 31 + k, 1), *cpu = malloc(n * sizeof(float));
        memcpy(cpu, x, n * sizeof(float));
        rope_forward(cpu, pos, &r, c[k].T, c[k].H, c[k].hd, c[k].style);
        float *d_x = to_dev(x, n * 4), *d_cos = to_dev(r.cos, (size_t)4096 * r.half * 4);
        float *d_sin = to_dev(r.sin, (size_t)4096 * r.half * 4);
        int *d_pos = to_dev(pos, sizeof pos);
        gpu_rope_forward(d_x, d_pos, d_cos, d_sin, r.half, c[k].T, c[k].H, c[k].hd, c[k].style == ROPE_INTERLEAVED);
        float *gpu = from_dev(d_x, n);
        char what[96];
        snprintf(what, sizeof what, "rope %s", c[k].name);
        check_close(what, gpu, cpu, n, NULL, lim);
        cudaFree(d_x), cudaFree(d_cos), cudaFree(d_sin), cudaFree(d_pos);
        free(x), free(cpu), free(gpu);
        rope_free(&r);
    }
}
END_TEST

START_TEST(elementwise_match_cpu) {
    if (!have_gpu("elementwise")) return;
    Limits lim = {1e-6, 1e-5, 1e-12, "expf, erff, tanhf within a few ulp"};
    int N = 1536 * 3 + 7;
    float *a = rand_host(N, 41, 6), *b = rand_host(N, 43, 3), *cpu = malloc(N * sizeof(float));
    float *d_a = to_dev(a, N * 4), *d_b = to_dev(b, N * 4), *d_out = poisoned(N), *gpu;
    swiglu_forward(cpu, a, b, N);
    gpu_swiglu_forward(d_out, d_a, d_b, N);
    gpu = from_dev(d_out, N);
    check_close("swiglu N=4615", gpu, cpu, N, NULL, lim);
    free(gpu);
    residual_forward(cpu, a, b, N);
    gpu_residual_forward(d_out, d_a, d_b, N);
    gpu = from_dev(d_out, N);
    check_close("residual N=4615", gpu, cpu, N, NULL, (Limits){0, 0, 0, "one addition: exact"});
    free(gpu);
    for (int approx = 0; approx <= 1; approx++) {
        memcpy(cpu, a, N * sizeof(float));
        gelu_forward(cpu, N, approx);
        cudaMemcpy(d_out, a, N * 4, cudaMemcpyHostToDevice);
        gpu_gelu_forward(d_out, N, approx);
        gpu = from_dev(d_out, N);
        check_close(approx ? "gelu tanh N=4615" : "gelu erf N=4615", gpu, cpu, N, NULL, lim);
        free(gpu);
    }
    cudaFree(d_a), cudaFree(d_b), cudaFree(d_out);
    free(a), free(b), free(cpu);
}
END_TEST

START_TEST(argmax_matches_cpu) {
    if (!have_gpu("argmax")) return;
    int sizes[] = {49152, 50304, 1000, 3};
    for (int k = 0; k < 4; k++) {
        int n = sizes[k];
        float *x = rand_host(n, 51 + k, 10);
        x[n / 3] = 11; // a unique maximum ...
        x[n - 1] = 11; // ... tied at the end: the first one wins, as on the CPU
        float *d = to_dev(x, n * 4);
        int *d_i = to_dev(NULL, sizeof(int)), got = -1;
        gpu_argmax(d_i, d, n);
        ck_assert_ptr_null(gpu_last_error());
        cudaMemcpy(&got, d_i, sizeof got, cudaMemcpyDeviceToHost);
        ck_assert_int_eq(got, argmax(x, n));
        printf("ok argmax n=%d: %d\n", n, got);
        cudaFree(d), cudaFree(d_i);
        free(x);
    }
}
END_TEST

START_TEST(attention_matches_cpu) { check_op("attention"); }
END_TEST

// The fused decode products against ref_cpu's separate ops in ref_cpu's order.
// The fused products on fp32 rows and on the model file's blocks (Q4_1, Q8_0; the reference
// multiplies the blocks dequantised by ref_cpu), every norm and epilogue.
START_TEST(matvec_matches_cpu) {
    if (!have_gpu("matvec")) return;
    Limits lim = {2e-4, 1e-4, 1e-10, "a norm, then fp32 sums in another order"};
    const int wtypes[] = {GGML_F32, GGML_Q4_1, GGML_Q8_0};
    struct { GpuNorm norm; GpuEpilogue epi; int I, O; const char *name; } c[] = {
        {GPU_NORM_RMS, GPU_EPI_NONE, 576, 960, "rmsnorm + qkv"},
        {GPU_NORM_LAYER, GPU_EPI_NONE, 576, 960, "layernorm + qkv + bias"},
        {GPU_NORM_NONE, GPU_EPI_RESIDUAL, 576, 576, "wo + residual"},
        {GPU_NORM_NONE, GPU_EPI_RESIDUAL2, 1536, 576, "down + bias + attn + residual"},
        {GPU_NORM_RMS, GPU_EPI_SWIGLU, 576, 1536, "rmsnorm + gate/up + swiglu"},
        {GPU_NORM_LAYER, GPU_EPI_GELU, 576, 1536, "layernorm + up + bias + gelu"},
        {GPU_NORM_LAYER, GPU_EPI_GELU_TANH, 37, 11, "layernorm + up + gelu tanh, I=37"},
        {GPU_NORM_RMS, GPU_EPI_NONE, 64, 512, "rmsnorm + head, D=64"},
    };
    for (int wt = 0; wt < 3; wt++) {
        for (int k = 0; k < 8; k++) {
            int I = c[k].I, O = c[k].O, has_bias = c[k].norm == GPU_NORM_LAYER || c[k].epi == GPU_EPI_RESIDUAL2;
            int type = wtypes[wt];
            if (type != GGML_F32 && I % 32) continue; // blocks of 32
            float *x = rand_host(I, 81 + k, 2), *nw = rand_host(I, 83 + k, 1), *nb = rand_host(I, 85 + k, 0.5f);
            float *w = rand_host((size_t)O * I, 87 + k, 0.2f), *w2 = rand_host((size_t)O * I, 89 + k, 0.2f);
            unsigned char *qw = NULL, *qw2 = NULL;
            size_t wbytes = (size_t)O * I * 4;
            if (type != GGML_F32) { // the reference multiplies the blocks' values
                qw = random_blocks(type, O, I, 87 + k), qw2 = random_blocks(type, O, I, 89 + k);
                dequantize(w, qw, (uint32_t)type, (size_t)O * I), dequantize(w2, qw2, (uint32_t)type, (size_t)O * I);
                wbytes = O * qmat_row_bytes((uint32_t)type, I);
            }
            float *bias = rand_host(O, 91 + k, 1), *res = rand_host(O, 93 + k, 1), *res2 = rand_host(O, 95 + k, 1);
            float *xn = malloc(I * sizeof(float)), *cpu = malloc(O * sizeof(float)), *up = malloc(O * sizeof(float));
            // ref_cpu, op by op
            if (c[k].norm == GPU_NORM_RMS) rmsnorm_forward(xn, x, nw, 1, I, 1e-5f);
            else if (c[k].norm == GPU_NORM_LAYER) layernorm_forward(xn, x, nw, nb, 1, I, 1e-5f);
            else memcpy(xn, x, I * sizeof(float));
            matmul_forward(cpu, xn, w, has_bias ? bias : NULL, 1, I, O);
            if (c[k].epi == GPU_EPI_RESIDUAL) residual_forward(cpu, res, cpu, O);
            if (c[k].epi == GPU_EPI_RESIDUAL2) residual_forward(cpu, cpu, res2, O), residual_forward(cpu, res, cpu, O);
            if (c[k].epi == GPU_EPI_SWIGLU) matmul_forward(up, xn, w2, NULL, 1, I, O), swiglu_forward(cpu, cpu, up, O);
            if (c[k].epi == GPU_EPI_GELU || c[k].epi == GPU_EPI_GELU_TANH) gelu_forward(cpu, O, c[k].epi == GPU_EPI_GELU_TANH);
            float *d_x = to_dev(x, I * 4), *d_nw = to_dev(nw, I * 4), *d_nb = to_dev(nb, I * 4);
            float *d_w = to_dev(qw ? (void *)qw : w, wbytes), *d_w2 = to_dev(qw2 ? (void *)qw2 : w2, wbytes);
            float *d_b = to_dev(bias, O * 4), *d_res = to_dev(res, O * 4), *d_res2 = to_dev(res2, O * 4), *d_out = poisoned(O);
            GpuMatvec op = {c[k].norm, d_nw, d_nb, 1e-5f, c[k].epi, d_w2, has_bias ? d_b : NULL, d_res, d_res2};
            if (type == GGML_F32) gpu_matvec_forward(d_out, d_x, d_w, I, O, op);
            else gpu_matvec_w_forward(d_out, d_x, (GpuWeights){d_w, type}, (GpuWeights){d_w2, type}, I, O, op);
            float *gpu = from_dev(d_out, O);
            char what[96];
            snprintf(what, sizeof what, "matvec %s, %s", ggml_type_name((uint32_t)type), c[k].name);
            check_close(what, gpu, cpu, O, NULL, lim);
            cudaFree(d_x), cudaFree(d_nw), cudaFree(d_nb), cudaFree(d_w), cudaFree(d_w2), cudaFree(d_b);
            cudaFree(d_res), cudaFree(d_res2), cudaFree(d_out);
            free(x), free(nw), free(nb), free(w), free(w2), free(bias), free(res), free(res2), free(xn), free(cpu), free(up);
            free(gpu), free(qw), free(qw2);
        }
    }
}
END_TEST

static int ring_slot_host(int j, GpuRing r, int off) { return j < r.sinks ? j : r.sinks + (off + j - r.sinks) % r.size; }

// The store kernel against ref_cpu: from one qkv product, the queries rotated at their slots and
// at the positions they hold facing the sinks, and the block's keys and values copied, unrotated,
// to their physical slots in a ring turned by ring_off. (The ring attention that reads them is
// the registered op attention_ring, checked below with the same shapes.)
START_TEST(qkv_store_matches_cpu) {
    if (!have_gpu("qkv store")) return;
    Limits lim = {1e-6, 1e-5, 1e-12, "one rotation, same tables"};
    struct { int T, n_past, n_sink, window, Hq, Hkv, hd, rot, cap, ring_off; RopeStyle style; } c[] = {
        {1, 1023, 4, 1020, 9, 3, 64, 64, 1280, 37, ROPE_INTERLEAVED}, // SmolLM2 decode, full cache, turned ring
        {16, 40, 4, 20, 9, 3, 64, 64, 64, 5, ROPE_HALF},              // sinks prefill sliding past the window
        {1, 300, 0, 0, 4, 4, 32, 8, 512, 0, ROPE_HALF},               // dense decode, GPT-NeoX partial rotary
        {8, 0, 0, 0, 4, 2, 16, 16, 8, 0, ROPE_INTERLEAVED},           // dense prefill from empty
        {5, 30, 0, 12, 4, 4, 128, 128, 40, 11, ROPE_HALF},            // window prefill, head_dim 128
    };
    for (int k = 0; k < 5; k++) {
        int T = c[k].T, np = c[k].n_past, Hq = c[k].Hq, Hkv = c[k].Hkv, hd = c[k].hd, cap = c[k].cap;
        int S = c[k].n_sink, W = c[k].window, kvd = Hkv * hd, qd = Hq * hd, half = c[k].rot / 2, row = qd + 2 * kvd;
        GpuRing ring = {S, cap - S};
        Error err = {{0}};
        RopeTable rope;
        ck_assert_int_eq(rope_init(&rope, cap, c[k].rot, 10000.0f, &err), 0);
        size_t nk = (size_t)cap * kvd;
        float *qkv = rand_host((size_t)T * row, 101 + k, 1);
        // CPU: the block's q from qkv, rotated at its slots, and again facing the sinks
        float *q = malloc((size_t)T * qd * 4), *qs = malloc((size_t)T * qd * 4);
        int *pos = malloc(T * sizeof(int)), *spos = malloc(T * sizeof(int));
        for (int t = 0; t < T; t++) {
            memcpy(q + (size_t)t * qd, qkv + (size_t)t * row, qd * 4);
            pos[t] = np + t;
            spos[t] = attention_sink_position(np + t, S, W);
        }
        memcpy(qs, q, (size_t)T * qd * 4);
        rope_forward(q, pos, &rope, T, Hq, hd, c[k].style);
        rope_forward(qs, spos, &rope, T, Hq, hd, c[k].style);
        // GPU: a cache of other values, the block stored into it
        float *pk = rand_host(nk, 109 + k, 1), *pv = rand_host(nk, 113 + k, 1);
        GpuStep step = {np, c[k].ring_off, S, W};
        float *d_qkv = to_dev(qkv, (size_t)T * row * 4), *d_k = to_dev(pk, nk * 4), *d_v = to_dev(pv, nk * 4);
        float *d_cos = to_dev(rope.cos, (size_t)cap * half * 4), *d_sin = to_dev(rope.sin, (size_t)cap * half * 4);
        float *d_q = poisoned((size_t)T * qd), *d_qs = poisoned((size_t)T * qd);
        GpuStep *d_step = to_dev(&step, sizeof step);
        gpu_qkv_store(d_q, d_qs, d_k, d_v, d_qkv, d_step, ring, d_cos, d_sin, half, c[k].style == ROPE_INTERLEAVED, T,
                      Hq, Hkv, hd);
        float *g_q = from_dev(d_q, (size_t)T * qd), *g_qs = from_dev(d_qs, (size_t)T * qd);
        float *g_k = from_dev(d_k, nk), *g_v = from_dev(d_v, nk);
        char what[128];
        snprintf(what, sizeof what, "qkv store T=%d past=%d ring+%d: q", T, np, c[k].ring_off);
        check_close(what, g_q, q, (size_t)T * qd, NULL, lim);
        snprintf(what, sizeof what, "qkv store T=%d past=%d ring+%d: q facing the sinks", T, np, c[k].ring_off);
        check_close(what, g_qs, qs, (size_t)T * qd, NULL, lim);
        for (int t = 0; t < T; t++) { // the new keys and values, unrotated, at their physical slots: a copy
            size_t at = (size_t)ring_slot_host(np + t, ring, c[k].ring_off) * kvd;
            ck_assert_mem_eq(g_k + at, qkv + (size_t)t * row + qd, kvd * 4);
            ck_assert_mem_eq(g_v + at, qkv + (size_t)t * row + qd + kvd, kvd * 4);
        }
        cudaFree(d_qkv), cudaFree(d_k), cudaFree(d_v), cudaFree(d_cos), cudaFree(d_sin), cudaFree(d_q), cudaFree(d_qs);
        cudaFree(d_step);
        free(qkv), free(q), free(qs), free(pos), free(spos), free(pk), free(pv), free(g_q), free(g_qs), free(g_k), free(g_v);
        rope_free(&rope);
    }
}
END_TEST

START_TEST(ring_attention_matches_cpu) { check_op("attention_ring"); }
END_TEST

// A version a dispatcher does not have launches nothing and is an error naming the op and the
// versions that exist (it used to run the last version: a false pass). Host code: no GPU needed.
START_TEST(unknown_versions_refused) {
    const char *e;
    ck_assert_int_eq(gpu_softmax_forward(9, NULL, 1, 1), -1);
    ck_assert_msg((e = gpu_last_error()) && strstr(e, "softmax has no version 9 (versions: 1-2;"), "%s", e);
    ck_assert_int_eq(gpu_matmul_forward(4, NULL, NULL, NULL, NULL, 1, 1, 1), -1);
    ck_assert_msg((e = gpu_last_error()) && strstr(e, "matmul has no version 4 (versions: 1-3)"), "%s", e);
    ck_assert_int_eq(gpu_rmsnorm_forward(0, NULL, NULL, NULL, 1, 1, 1e-5f), -1);
    ck_assert_msg((e = gpu_last_error()) && strstr(e, "rmsnorm has no version 0 (versions: 1-2)"), "%s", e);
    ck_assert_int_eq(gpu_layernorm_forward(3, NULL, NULL, NULL, NULL, 1, 1, 1e-5f), -1);
    ck_assert_msg((e = gpu_last_error()) && strstr(e, "layernorm has no version 3 (versions: 1-2)"), "%s", e);
    ck_assert_int_eq(gpu_attention_forward(6, NULL, NULL, NULL, NULL, NULL, NULL, 1, 0, 0, 0, 1, 1, 1, 1), -1);
    ck_assert_msg((e = gpu_last_error()) && strstr(e, "attention has no version 6 (versions: 1-2; template: 5;"), "%s",
                  e);
    GpuRing ring = {0, 1};
    ck_assert_int_eq(gpu_attention_ring_forward(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ring, 1, 0, 1, 1,
                                                1, 2, 1), -1);
    ck_assert_msg((e = gpu_last_error()) && strstr(e, "attention_ring has no version 2 (versions: 3-4)"), "%s", e);
    ck_assert_int_eq(gpu_matvec_q4_1_forward(3, NULL, NULL, NULL, NULL, 32, 1), -1);
    ck_assert_msg((e = gpu_last_error()) && strstr(e, "matvec_q4_1 has no version 3 (versions: 1; template: 2)"), "%s",
                  e);
    printf("ok unknown versions of all seven ops refused, naming the versions that exist\n");
}
END_TEST

// Why a check has two limits (chapter 14), on any machine: kernel_compare is host code. With
// matmul's limits and the output head's 49152 sums as the reference, every output 1e-4 too
// large passes each element's atol + rtol * |cpu| but not the NMSE (1e-8 against 1e-10); one
// output of size ~1 off by 1e-3 is averaged away by the NMSE but fails its element; a NaN fails.
START_TEST(limits_catch_bias_and_outlier) {
    Error err = {{0}};
    const KernelInfo *k = kernel_lookup("matmul", 2, &err);
    ck_assert_msg(k != NULL, "%s", err.msg);
    int I = 576, O = 49152, near1 = 0;
    float *x = rand_host(I, 3, 1), *w = rand_host((size_t)O * I, 5, 0.5f);
    float *cpu = malloc(O * sizeof(float)), *gpu = malloc(O * sizeof(float));
    matmul_forward(cpu, x, w, NULL, 1, I, O);
    KernelVerdict v;
    for (int o = 0; o < O; o++) gpu[o] = cpu[o] * (1 + 1e-4f);
    ck_assert_msg(!kernel_compare(&v, gpu, cpu, O, NULL, k->lim), "a bias of 1e-4 everywhere passed");
    ck_assert_msg(!strncmp(v.why, "nmse ", 5), "the bias failed an element, not the NMSE: %s", v.why);
    double bias_nmse = v.nmse;
    for (int o = 0; o < O; o++)
        if (fabsf(fabsf(cpu[o]) - 1) < fabsf(fabsf(cpu[near1]) - 1)) near1 = o;
    memcpy(gpu, cpu, O * sizeof(float));
    gpu[near1] *= 1 + 1e-3f;
    ck_assert_msg(!kernel_compare(&v, gpu, cpu, O, NULL, k->lim), "one output off by 1e-3 passed");
    ck_assert_msg(!strncmp(v.why, "element ", 8) && v.nmse <= k->lim.nmse, "nmse %g: %s", v.nmse, v.why);
    double one_nmse = v.nmse;
    gpu[near1] = cpu[near1], gpu[7] = NAN;
    ck_assert_msg(!kernel_compare(&v, gpu, cpu, O, NULL, k->lim) && strstr(v.why, "NaN at element 7"), "%s", v.why);
    gpu[7] = cpu[7];
    ck_assert_msg(kernel_compare(&v, gpu, cpu, O, NULL, k->lim), "the reference itself failed: %s", v.why);
    printf("ok limits: a bias of 1e-4 everywhere fails by its nmse %.2g only; one output off by 1e-3 by its element "
           "only (nmse %.2g); a NaN fails\n", bias_nmse, one_nmse);
    free(x), free(w), free(cpu), free(gpu);
}
END_TEST

// The checker must fail a broken kernel, or its passes mean nothing: each fault version
// (gpu/faults.cu) fails at least one shape, and so does the unwritten template.
START_TEST(faults_are_caught) {
    if (!have_gpu("faults")) return;
    int n;
    const KernelInfo *t = kernel_table(&n);
    int faults = 0;
    for (int i = 0; i < n; i++) {
        if (t[i].status == KERNEL_READY) continue;
        Error err = {{0}};
        int failed = kernel_check(stdout, t[i].op, t[i].version, &err);
        ck_assert_msg(failed >= 0, "%s v%d: %s", t[i].op, t[i].version, err.msg);
        ck_assert_msg(failed > 0, "%s v%d (%s: %s) passed the check", t[i].op, t[i].version,
                      kernel_status_name(t[i].status), t[i].desc);
        printf("ok %s v%d (%s) failed %d shapes, as it must\n", t[i].op, t[i].version, t[i].desc, failed);
        faults += t[i].status == KERNEL_FAULT;
    }
    ck_assert_int_ge(faults, 4); // off-by-one window, missing scale, skipped element, race
}
END_TEST

// The whole model: the GPU stream against ref_cpu's stream, both families, every policy.
// A prefill (one feed of 30 tokens, every row's logits) takes the tiled matmul path; 50 single
// tokens after it take the fused decode path and its CUDA graph, through evictions. m runs on
// the CPU, gm on the GPU (the same model, or its blocks where m is their fp32 copy).
static void compare_streams(const char *name, const Model *m, const Model *gm, Policy p, Limits lim) {
    Error err = {{0}};
    char label[64], what[160];
    ck_assert_msg(policy_validate(&p, &m->cfg, 1, &err) == 0, "%s", err.msg);
    policy_label(label, sizeof label, &p);
    if (p.reference_prefill) strcat(label, ", reference prefill");
    int V = m->cfg.vocab_size, n = 80, pre = 30, *toks = malloc(n * sizeof(int));
    float *r = rand_host(n, 12345, 1);
    for (int i = 0; i < n; i++) toks[i] = (int)((r[i] + 1) * 0.5f * V) % V;
    free(r);
    Stream cpu, gpu; // one policy driver (stream.c), two devices
    ck_assert_msg(stream_init(&cpu, m, &p, n, &err) == 0, "%s", err.msg);
    ck_assert_msg(stream_init_on(&gpu, gm, &p, n, stream_cuda_open, &err) == 0, "%s", err.msg);
    float *a = malloc((size_t)n * V * 4), *b = malloc((size_t)n * V * 4);
    ck_assert_msg(stream_feed(&cpu, toks, pre, a, 1, &err) == 0, "%s", err.msg);
    ck_assert_msg(stream_feed(&gpu, toks, pre, b, 1, &err) == 0, "%s", err.msg);
    for (int i = pre; i < n; i++) {
        ck_assert_msg(stream_feed(&cpu, &toks[i], 1, a + (size_t)i * V, 0, &err) == 0, "%s", err.msg);
        ck_assert_msg(stream_feed(&gpu, &toks[i], 1, b + (size_t)i * V, 0, &err) == 0, "%s", err.msg);
    }
    ck_assert_int_eq(gpu.len, cpu.len);
    snprintf(what, sizeof what, "%s %s: prefill rows", name, label);
    check_close(what, b, a, (size_t)pre * V, NULL, lim);
    snprintf(what, sizeof what, "%s %s: decode rows", name, label);
    check_close(what, b + (size_t)pre * V, a + (size_t)pre * V, (size_t)(n - pre) * V, NULL, lim);
    stream_free(&cpu);
    stream_free(&gpu);
    free(toks), free(a), free(b);
}

START_TEST(model_matches_cpu) {
    if (!have_gpu("model")) return;
    const char *models[] = {"stories260K", "llama_hf", "neox_parallel", "neox_sequential"};
    for (int k = 0; k < 4; k++) {
        const char *path = k == 0 ? path_join(shared_dir(), "models/stories260K/stories260K.bin") : fixture_path(models[k]);
        Model m;
        Error err = {{0}};
        ck_assert_msg(model_load(&m, path, &err) == 0, "%s", err.msg);
        // caches small enough that 80 tokens evict many times, chunks that split the prefill
        Policy pol[] = {{.kind = POLICY_DENSE, .n_sink = 0, .window = 0, .chunk = 0, .reference_prefill = 0},
                        {.kind = POLICY_WINDOW, .n_sink = 0, .window = 24, .chunk = 8, .reference_prefill = 0},
                        {.kind = POLICY_SINKS, .n_sink = 4, .window = 20, .chunk = 8, .reference_prefill = 0},
                        {.kind = POLICY_RECOMPUTE, .n_sink = 0, .window = 16, .chunk = 0, .reference_prefill = 0},
                        {.kind = POLICY_SINKS, .n_sink = 4, .window = 20, .chunk = 8, .reference_prefill = 1}, // the reference implementations' dense prefill
                        // scattered keeps: the GPU gathers rows instead of turning its ring
                        {.kind = POLICY_STRIDED, .n_sink = 2, .window = 20, .chunk = 4, .stride = 3}};
        Limits lim = {2e-4, 1e-4, 1e-9, "every layer's sums in another order"};
        for (int p = 0; p < 6; p++) compare_streams(models[k], &m, &m, pol[p], lim);
        model_free(&m);
    }
}
END_TEST

// SmolLM2 with the GPU reading the file's Q4_1 and Q8_0 blocks (--weights native) against the
// CPU on the same weights dequantised at load (--weights fp32): the same numbers, only the
// order of the sums differs, so the fp32 comparison's limits hold. (The CPU's own native path
// rounds its activations to 8 bits; it is not the reference here.)
START_TEST(native_model_matches_cpu) {
    if (!have_gpu("native model")) return;
    ck_assert_msg(default_model() != NULL, "SINKS_MODEL is not set (run the tests through make)");
    Model f, q;
    Error err = {{0}};
    ck_assert_msg(model_load_as(&f, default_model(), WEIGHTS_FP32, &err) == 0, "%s", err.msg);
    ck_assert_msg(model_load_as(&q, default_model(), WEIGHTS_NATIVE, &err) == 0, "%s", err.msg);
    ck_assert_msg(q.n_quant > 0, "the default model has no quantized matrices");
    Policy pol[] = {{.kind = POLICY_DENSE, .n_sink = 0, .window = 0, .chunk = 0, .reference_prefill = 0},
                    {.kind = POLICY_SINKS, .n_sink = 4, .window = 20, .chunk = 8, .reference_prefill = 0}};
    // gpucheck's fp32 run of SmolLM2 (data/results/gpu/check_sinks.md) differed by at most 1.6e-4
    // over 1024 positions; the blocks add another order of sums (d * sum q x + m * sum x): 6x that
    Limits lim = {1e-3, 1e-4, 1e-9, "30 layers of sums in another order, blocks summed as d sum(q x) + m sum(x)"};
    for (int p = 0; p < 2; p++) compare_streams("SmolLM2 native", &f, &q, pol[p], lim);
    model_free(&q), model_free(&f);
}
END_TEST

// The pictures' attention probabilities (sinks attn, collapse) from the GPU against the CPU's:
// every layer, every block, the slots each query can see, through evictions and a scattered keep.
typedef struct {
    int heads;
    float *rows; // every visible probability handed over, in order
    size_t n, room;
} Collected;

static void collect(void *ctx, int layer, const float *att, int T, int n_keys, int capacity) {
    (void)layer;
    Collected *c = ctx;
    size_t need = c->n + (size_t)c->heads * T * n_keys;
    if (need > c->room) {
        c->room = need * 2;
        c->rows = realloc(c->rows, c->room * sizeof(float));
        ck_assert_ptr_nonnull(c->rows);
    }
    for (int h = 0; h < c->heads; h++)
        for (int t = 0; t < T; t++) // query t sees slots 0..n_keys - T + t
            for (int j = 0; j <= n_keys - T + t; j++) c->rows[c->n++] = att[((size_t)h * T + t) * capacity + j];
}

START_TEST(attention_maps_match_cpu) {
    if (!have_gpu("attention maps")) return;
    Model m;
    Error err = {{0}};
    ck_assert_msg(model_load(&m, fixture_path("llama_hf"), &err) == 0, "%s", err.msg);
    Policy pols[] = {{.kind = POLICY_DENSE}, {.kind = POLICY_SINKS, .n_sink = 4, .window = 20, .chunk = 8},
                     {.kind = POLICY_STRIDED, .n_sink = 2, .window = 20, .chunk = 4, .stride = 3}};
    int n = 70, V = m.cfg.vocab_size, *toks = malloc(n * sizeof(int));
    for (int i = 0; i < n; i++) toks[i] = (i * 37 + 11) % V;
    float *logits = malloc((size_t)V * sizeof(float));
    for (int k = 0; k < 3; k++) {
        Policy p = pols[k];
        ck_assert_msg(policy_validate(&p, &m.cfg, 1, &err) == 0, "%s", err.msg);
        Collected got[2] = {{m.cfg.n_heads, NULL, 0, 0}, {m.cfg.n_heads, NULL, 0, 0}};
        for (int d = 0; d < 2; d++) {
            Stream st;
            ck_assert_msg(stream_init_on(&st, &m, &p, n, d ? stream_cuda_open : stream_cpu_open, &err) == 0, "%s", err.msg);
            ck_assert_msg(stream_watch_attention(&st, collect, &got[d], &err) == 0, "%s", err.msg);
            ck_assert_msg(stream_feed(&st, toks, 30, logits, 0, &err) == 0, "%s", err.msg); // blocks
            for (int i = 30; i < n; i++) ck_assert_msg(stream_feed(&st, &toks[i], 1, logits, 0, &err) == 0, "%s", err.msg);
            stream_free(&st);
        }
        ck_assert_int_eq(got[0].n, got[1].n);
        char label[64], what[128];
        policy_label(label, sizeof label, &p);
        snprintf(what, sizeof what, "attention maps, %s", label);
        check_close(what, got[1].rows, got[0].rows, got[0].n, NULL,
                    (Limits){1e-5, 1e-4, 1e-10, "probabilities in [0, 1], sums in another order"});
        free(got[0].rows), free(got[1].rows);
    }
    free(toks), free(logits);
    model_free(&m);
}
END_TEST

int main(void) {
    RUN_TESTS("gpu", 300,
              embedding_matches_cpu,
              dequant_q4_1_matches_cpu, qmatvec_matches_cpu,
              matmul_matches_cpu,
              norms_match_cpu,
              softmax_matches_cpu,
              rope_matches_cpu,
              elementwise_match_cpu,
              argmax_matches_cpu,
              attention_matches_cpu,
              matvec_matches_cpu,
              qkv_store_matches_cpu,
              ring_attention_matches_cpu,
              unknown_versions_refused,
              limits_catch_bias_and_outlier,
              faults_are_caught,
              model_matches_cpu,
              native_model_matches_cpu,
              attention_maps_match_cpu);
}
