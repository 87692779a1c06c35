// test_gpu: every CUDA kernel against the ref_cpu function it re-implements, on random inputs
// (never zeros) at several shapes, with the output poisoned with NaN first so a kernel that
// skips an element fails. An element passes when |gpu - cpu| <= atol + rtol * |cpu|; the whole
// output when its normalised mean squared error sum((gpu-cpu)^2) / sum(cpu^2) <= nmse too. Any
// NaN fails. The limits are declared beside each op with the reason for them.
//
// With no CUDA device every test prints that it was skipped and why, and passes; `make
// test-gpu` sets SINKS_REQUIRE_GPU=1, which turns a missing device into a failure.
#include <cuda_runtime_api.h>

#include "testutil.h"
#include "gpu_stream.h"
#include "kernels.h"
#include "forward.h"
#include "ops.h"
#include "quant.h"

typedef struct {
    double atol, rtol, nmse;
    const char *why;
} Limits;

static int have_gpu(const char *test) {
    char why[256];
    if (gpu_device_ok(why, sizeof why) == 0) return 1;
    ck_assert_msg(!getenv("SINKS_REQUIRE_GPU"), "%s: %s", test, why);
    printf("skipped %s: %s\n", test, why);
    return 0;
}

// A fixed-seed generator: uniform in [-scale, scale], never exactly zero.
static float rnd(unsigned long long *s, float scale) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    float u = ((*s >> 40) + 0.5f) / (float)(1ULL << 24); // (0, 1)
    return (2 * u - 1) * scale;
}

static float *rand_host(size_t n, unsigned long long seed, float scale) {
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = rnd(&seed, scale);
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

// Compares n values (with a stride-free mask: only i where use(i) if mask != NULL).
static void check_close(const char *what, const float *gpu, const float *cpu, size_t n, const unsigned char *mask,
                        Limits lim) {
    double worst = 0, num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (mask && !mask[i]) continue;
        ck_assert_msg(!isnan(gpu[i]) && !isnan(cpu[i]), "%s: NaN at %zu (gpu %g, cpu %g)", what, i, gpu[i], cpu[i]);
        double d = fabs((double)gpu[i] - cpu[i]), allowed = lim.atol + lim.rtol * fabs((double)cpu[i]);
        ck_assert_msg(d <= allowed, "%s: element %zu: gpu %.9g vs cpu %.9g (|d| %.3g > %.3g)", what, i, gpu[i], cpu[i],
                      d, allowed);
        worst = fmax(worst, d);
        num += d * d, den += (double)cpu[i] * cpu[i];
    }
    double nmse = den > 0 ? num / den : num;
    ck_assert_msg(nmse <= lim.nmse, "%s: nmse %.3g > %.3g", what, nmse, lim.nmse);
    printf("ok %-44s max |d| %.2e  nmse %.2e  (atol %.0e rtol %.0e: %s)\n", what, worst, nmse, lim.atol, lim.rtol,
           lim.why);
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
    cudaFree(d_emb), cudaFree(d_out), cudaFree(d_tok);
    free(emb), free(cpu), free(gpu);
}
END_TEST

START_TEST(dequant_q4_1_matches_cpu) {
    if (!have_gpu("dequant_q4_1")) return;
    Limits lim = {0, 1e-6, 1e-12, "q * d + m: one rounding, fused or not"};
    size_t n_blocks = 4099, n = n_blocks * 32;
    unsigned char *blocks = malloc(n_blocks * 20);
    unsigned long long s = 7;
    for (size_t b = 0; b < n_blocks; b++) {
        unsigned char *p = blocks + b * 20;
        for (int i = 0; i < 20; i++) p[i] = (unsigned char)(rnd(&s, 1) * 127 + 128);
        // d and m: f16 of modest size (exponent field 8..17), random sign and mantissa
        for (int k = 0; k < 2; k++) {
            unsigned short h = (unsigned short)((p[2 * k] | p[2 * k + 1] << 8) & 0x83ff);
            h |= (unsigned short)((8 + b % 10) << 10);
            p[2 * k] = h & 0xff, p[2 * k + 1] = h >> 8;
        }
    }
    float *cpu = malloc(n * sizeof(float));
    dequantize(cpu, blocks, GGML_Q4_1, n);
    void *d_b = to_dev(blocks, n_blocks * 20);
    float *d_out = poisoned(n);
    gpu_dequant_q4_1(d_out, d_b, n);
    float *gpu = from_dev(d_out, n);
    check_close("dequant Q4_1 4099 blocks", gpu, cpu, n, NULL, lim);
    cudaFree(d_b), cudaFree(d_out);
    free(blocks), free(cpu), free(gpu);
}
END_TEST

START_TEST(matmul_matches_cpu) {
    if (!have_gpu("matmul")) return;
    // fp32 sums of I products in another order: rounding grows like sqrt(I) * eps * |terms|
    Limits lim = {2e-4, 1e-4, 1e-10, "fp32 sums, a different order"};
    // v3's tiles: a prefill of 256 tokens, and ragged edges in every dimension
    int shapes[][3] = {{1, 576, 1536}, {1, 1536, 576}, {5, 576, 192}, {64, 64, 96}, {3, 37, 11}, {256, 576, 192},
                       {70, 100, 130}};
    for (int v = 1; v <= 3; v++)
        for (int k = 0; k < 7; k++) {
            int T = shapes[k][0], I = shapes[k][1], O = shapes[k][2];
            float *in = rand_host((size_t)T * I, 11 + k, 1), *w = rand_host((size_t)O * I, 23 + k, 0.5f);
            float *bias = rand_host(O, 5 + k, 1), *cpu = malloc((size_t)T * O * sizeof(float));
            matmul_forward(cpu, in, w, k % 2 ? bias : NULL, T, I, O);
            float *d_in = to_dev(in, (size_t)T * I * 4), *d_w = to_dev(w, (size_t)O * I * 4), *d_b = to_dev(bias, O * 4);
            float *d_out = poisoned((size_t)T * O);
            gpu_matmul_forward(v, d_out, d_in, d_w, k % 2 ? d_b : NULL, T, I, O);
            float *gpu = from_dev(d_out, (size_t)T * O);
            char what[96];
            snprintf(what, sizeof what, "matmul v%d T=%d I=%d O=%d%s", v, T, I, O, k % 2 ? " +bias" : "");
            check_close(what, gpu, cpu, (size_t)T * O, NULL, lim);
            cudaFree(d_in), cudaFree(d_w), cudaFree(d_b), cudaFree(d_out);
            free(in), free(w), free(bias), free(cpu), free(gpu);
        }
}
END_TEST

START_TEST(norms_match_cpu) {
    if (!have_gpu("norms")) return;
    Limits lim = {1e-5, 1e-5, 1e-10, "a sum of D squares, then rsqrtf (2 ulp)"};
    int shapes[][2] = {{1, 576}, {7, 576}, {3, 512}, {2, 37}};
    for (int v = 1; v <= 2; v++)
        for (int k = 0; k < 4; k++) {
            int T = shapes[k][0], D = shapes[k][1];
            float *in = rand_host((size_t)T * D, 3 + k, 2), *w = rand_host(D, 9 + k, 1), *b = rand_host(D, 4 + k, 1);
            float *cpu = malloc((size_t)T * D * sizeof(float));
            float *d_in = to_dev(in, (size_t)T * D * 4), *d_w = to_dev(w, D * 4), *d_b = to_dev(b, D * 4);
            char what[96];
            rmsnorm_forward(cpu, in, w, T, D, 1e-5f);
            float *d_out = poisoned((size_t)T * D);
            gpu_rmsnorm_forward(v, d_out, d_in, d_w, T, D, 1e-5f);
            float *gpu = from_dev(d_out, (size_t)T * D);
            snprintf(what, sizeof what, "rmsnorm v%d T=%d D=%d", v, T, D);
            check_close(what, gpu, cpu, (size_t)T * D, NULL, lim);
            free(gpu);
            layernorm_forward(cpu, in, w, b, T, D, 1e-5f);
            cudaFree(d_out);
            d_out = poisoned((size_t)T * D);
            gpu_layernorm_forward(v, d_out, d_in, d_w, d_b, T, D, 1e-5f);
            gpu = from_dev(d_out, (size_t)T * D);
            snprintf(what, sizeof what, "layernorm v%d T=%d D=%d", v, T, D);
            check_close(what, gpu, cpu, (size_t)T * D, NULL, lim);
            cudaFree(d_in), cudaFree(d_w), cudaFree(d_b), cudaFree(d_out);
            free(in), free(w), free(b), free(cpu), free(gpu);
        }
}
END_TEST

START_TEST(softmax_matches_cpu) {
    if (!have_gpu("softmax")) return;
    Limits lim = {1e-7, 1e-5, 1e-8, "expf within 2 ulp; the CPU sums n floats in a row, off by ~sqrt(n) ulp "
                                   "(~1e-5 at n=49152), which scales every probability alike"};
    int shapes[][2] = {{1, 49152}, {9, 1024}, {4, 3}};
    for (int v = 1; v <= 2; v++)
        for (int k = 0; k < 3; k++) {
            int R = shapes[k][0], n = shapes[k][1];
            float *x = rand_host((size_t)R * n, 17 + k, 8), *cpu = malloc((size_t)R * n * sizeof(float));
            memcpy(cpu, x, (size_t)R * n * sizeof(float));
            for (int r = 0; r < R; r++) softmax_forward(cpu + (size_t)r * n, n);
            float *d = to_dev(x, (size_t)R * n * 4);
            gpu_softmax_forward(v, d, R, n);
            float *gpu = from_dev(d, (size_t)R * n);
            char what[96];
            snprintf(what, sizeof what, "softmax v%d rows=%d n=%d", v, R, n);
            check_close(what, gpu, cpu, (size_t)R * n, NULL, lim);
            cudaFree(d);
            free(x), free(cpu), free(gpu);
        }
}
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

START_TEST(attention_matches_cpu) {
    if (!have_gpu("attention")) return;
    Limits lim = {1e-5, 1e-4, 1e-9, "dot products of head_dim terms, expf, sums in another order"};
    // decode and prefill; dense, window and sinks views; GQA (9 heads on 3) and MHA
    struct { int T, n_past, n_sink, window, Hq, Hkv, hd, cap; } c[] = {
        {1, 100, 0, 0, 9, 3, 64, 128},     // dense decode
        {1, 1023, 4, 1020, 9, 3, 64, 1024}, // sinks decode, full cache
        {16, 40, 4, 20, 9, 3, 64, 64},      // sinks prefill: queries slide past the window
        {8, 0, 0, 0, 4, 4, 32, 8},          // dense prefill from empty, multi-head
        {5, 30, 0, 12, 4, 4, 32, 40},       // window prefill
    };
    for (int v = 1; v <= 2; v++)
        for (int k = 0; k < 5; k++) {
            int T = c[k].T, np = c[k].n_past, Hq = c[k].Hq, Hkv = c[k].Hkv, hd = c[k].hd, cap = c[k].cap;
            size_t nq = (size_t)T * Hq * hd, nk = (size_t)cap * Hkv * hd, na = (size_t)Hq * T * cap;
            float *q = rand_host(nq, 61 + k, 1), *qs = rand_host(nq, 67 + k, 1), *kr = rand_host(nk, 71 + k, 1);
            float *vv = rand_host(nk, 73 + k, 1), *out = malloc(nq * sizeof(float)), *att = malloc(na * sizeof(float));
            attention_forward(out, att, q, qs, kr, vv, T, np, c[k].n_sink, c[k].window, Hq, Hkv, hd, cap);
            float *d_q = to_dev(q, nq * 4), *d_qs = to_dev(qs, nq * 4), *d_k = to_dev(kr, nk * 4), *d_v = to_dev(vv, nk * 4);
            float *d_out = poisoned(nq), *d_att = poisoned(na);
            gpu_attention_forward(v, d_out, d_att, d_q, d_qs, d_k, d_v, T, np, c[k].n_sink, c[k].window, Hq, Hkv, hd,
                                  cap);
            float *g_out = from_dev(d_out, nq), *g_att = from_dev(d_att, na);
            unsigned char *mask = calloc(na, 1); // the probabilities are defined for slots 0..slot
            for (int h = 0; h < Hq; h++)
                for (int t = 0; t < T; t++)
                    for (int j = 0; j <= np + t; j++) mask[((size_t)h * T + t) * cap + j] = 1;
            char what[128];
            snprintf(what, sizeof what, "attention v%d T=%d past=%d sinks=%d win=%d out", v, T, np, c[k].n_sink,
                     c[k].window);
            check_close(what, g_out, out, nq, NULL, lim);
            snprintf(what, sizeof what, "attention v%d T=%d past=%d sinks=%d win=%d probs", v, T, np, c[k].n_sink,
                     c[k].window);
            check_close(what, g_att, att, na, mask, lim);
            cudaFree(d_q), cudaFree(d_qs), cudaFree(d_k), cudaFree(d_v), cudaFree(d_out), cudaFree(d_att);
            free(q), free(qs), free(kr), free(vv), free(out), free(att), free(g_out), free(g_att), free(mask);
        }
}
END_TEST

// The fused decode products against ref_cpu's separate ops in ref_cpu's order.
START_TEST(matvec_matches_cpu) {
    if (!have_gpu("matvec")) return;
    Limits lim = {2e-4, 1e-4, 1e-10, "a norm, then fp32 sums in another order"};
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
    for (int k = 0; k < 8; k++) {
        int I = c[k].I, O = c[k].O, has_bias = c[k].norm == GPU_NORM_LAYER || c[k].epi == GPU_EPI_RESIDUAL2;
        float *x = rand_host(I, 81 + k, 2), *nw = rand_host(I, 83 + k, 1), *nb = rand_host(I, 85 + k, 0.5f);
        float *w = rand_host((size_t)O * I, 87 + k, 0.2f), *w2 = rand_host((size_t)O * I, 89 + k, 0.2f);
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
        float *d_w = to_dev(w, (size_t)O * I * 4), *d_w2 = to_dev(w2, (size_t)O * I * 4), *d_b = to_dev(bias, O * 4);
        float *d_res = to_dev(res, O * 4), *d_res2 = to_dev(res2, O * 4), *d_out = poisoned(O);
        GpuMatvec op = {c[k].norm, d_nw, d_nb, 1e-5f, c[k].epi, d_w2, has_bias ? d_b : NULL, d_res, d_res2};
        gpu_matvec_forward(d_out, d_x, d_w, I, O, op);
        float *gpu = from_dev(d_out, O);
        char what[96];
        snprintf(what, sizeof what, "matvec %s", c[k].name);
        check_close(what, gpu, cpu, O, NULL, lim);
        cudaFree(d_x), cudaFree(d_nw), cudaFree(d_nb), cudaFree(d_w), cudaFree(d_w2), cudaFree(d_b);
        cudaFree(d_res), cudaFree(d_res2), cudaFree(d_out);
        free(x), free(nw), free(nb), free(w), free(w2), free(bias), free(res), free(res2), free(xn), free(cpu), free(up);
        free(gpu);
    }
}
END_TEST

static int ring_slot_host(int j, GpuRing r, int off) { return j < r.sinks ? j : r.sinks + (off + j - r.sinks) % r.size; }

// The store kernel and the ring attention against ref_cpu: queries rotated at their slots (and
// shifted for the sinks), keys rotated at their logical slots, attention_forward; the GPU gets
// the same keys unrotated, scattered over a ring turned by ring_off.
START_TEST(ring_attention_matches_cpu) {
    if (!have_gpu("ring attention")) return;
    Limits lim = {1e-5, 1e-4, 1e-9, "dot products of head_dim terms, expf, online softmax sums in another order"};
    struct { int T, n_past, n_sink, window, Hq, Hkv, hd, rot, cap, ring_off; RopeStyle style; } c[] = {
        {1, 1023, 4, 1020, 9, 3, 64, 64, 1280, 37, ROPE_INTERLEAVED}, // SmolLM2 decode, full cache, turned ring
        {16, 40, 4, 20, 9, 3, 64, 64, 64, 5, ROPE_HALF},              // sinks prefill sliding past the window
        {1, 300, 0, 0, 4, 4, 32, 8, 512, 0, ROPE_HALF},               // dense decode, GPT-NeoX partial rotary
        {8, 0, 0, 0, 4, 2, 16, 16, 8, 0, ROPE_INTERLEAVED},           // dense prefill from empty
        {5, 30, 0, 12, 4, 4, 128, 128, 40, 11, ROPE_HALF},            // window prefill, head_dim 128
    };
    for (int k = 0; k < 5; k++) {
        int T = c[k].T, np = c[k].n_past, Hq = c[k].Hq, Hkv = c[k].Hkv, hd = c[k].hd, cap = c[k].cap;
        int S = c[k].n_sink, W = c[k].window, kvd = Hkv * hd, qd = Hq * hd, half = c[k].rot / 2;
        GpuRing ring = {S, cap - S};
        Error err = {{0}};
        RopeTable rope;
        ck_assert_int_eq(rope_init(&rope, cap, c[k].rot, 10000.0f, &err), 0);
        size_t nk = (size_t)cap * kvd;
        float *qkv = rand_host((size_t)T * (qd + 2 * kvd), 101 + k, 1);
        float *kc = rand_host(nk, 103 + k, 1), *vc = rand_host(nk, 107 + k, 1); // logical order
        // CPU: the block's q, k, v from qkv; q rotated at slots, q_sink at the sinks' view
        float *q = malloc((size_t)T * qd * 4), *qs = malloc((size_t)T * qd * 4);
        int *pos = malloc(T * sizeof(int)), *spos = malloc(T * sizeof(int));
        for (int t = 0; t < T; t++) {
            int slot = np + t, sinks = S < slot ? S : slot;
            memcpy(q + (size_t)t * qd, qkv + (size_t)t * (qd + 2 * kvd), qd * 4);
            memcpy(kc + (size_t)slot * kvd, qkv + (size_t)t * (qd + 2 * kvd) + qd, kvd * 4);
            memcpy(vc + (size_t)slot * kvd, qkv + (size_t)t * (qd + 2 * kvd) + qd + kvd, kvd * 4);
            pos[t] = slot;
            spos[t] = slot - (attention_window_start(slot, S, W) - sinks);
        }
        memcpy(qs, q, (size_t)T * qd * 4);
        rope_forward(q, pos, &rope, T, Hq, hd, c[k].style);
        rope_forward(qs, spos, &rope, T, Hq, hd, c[k].style);
        float *krot = malloc(nk * 4), *out = malloc((size_t)T * qd * 4), *att = malloc((size_t)Hq * T * cap * 4);
        memcpy(krot, kc, nk * 4);
        int *all = malloc(cap * sizeof(int));
        for (int j = 0; j < cap; j++) all[j] = j;
        rope_forward(krot, all, &rope, cap, Hkv, hd, c[k].style);
        attention_forward(out, att, q, qs, krot, vc, T, np, S, W, Hq, Hkv, hd, cap);
        // GPU: the cache before the block, scattered over the ring; the block goes in through the store kernel
        float *pk = rand_host(nk, 109 + k, 1), *pv = rand_host(nk, 113 + k, 1);
        for (int j = 0; j < np; j++) {
            memcpy(pk + (size_t)ring_slot_host(j, ring, c[k].ring_off) * kvd, kc + (size_t)j * kvd, kvd * 4);
            memcpy(pv + (size_t)ring_slot_host(j, ring, c[k].ring_off) * kvd, vc + (size_t)j * kvd, kvd * 4);
        }
        GpuStep step = {np, c[k].ring_off, S, W};
        float *d_qkv = to_dev(qkv, (size_t)T * (qd + 2 * kvd) * 4), *d_k = to_dev(pk, nk * 4), *d_v = to_dev(pv, nk * 4);
        float *d_cos = to_dev(rope.cos, (size_t)cap * half * 4), *d_sin = to_dev(rope.sin, (size_t)cap * half * 4);
        float *d_q = poisoned((size_t)T * qd), *d_qs = poisoned((size_t)T * qd), *d_out = poisoned((size_t)T * qd);
        float *d_part = poisoned(gpu_attention_ring_scratch(T, Hq, hd, cap));
        GpuStep *d_step = to_dev(&step, sizeof step);
        int inter = c[k].style == ROPE_INTERLEAVED;
        gpu_qkv_store(d_q, d_qs, d_k, d_v, d_qkv, d_step, ring, d_cos, d_sin, half, inter, T, Hq, Hkv, hd);
        float *g_q = from_dev(d_q, (size_t)T * qd), *g_k = from_dev(d_k, nk), *g_out[2];
        for (int v = 3; v <= 4; v++) {
            ck_assert_int_eq(cudaMemset(d_out, 0xff, (size_t)T * qd * 4), cudaSuccess);
            gpu_attention_ring_forward(v, d_out, d_part, d_q, d_qs, d_k, d_v, d_cos, d_sin, d_step, ring, half, inter,
                                       T, Hq, Hkv, hd, cap);
            g_out[v - 3] = from_dev(d_out, (size_t)T * qd);
        }
        char what[128];
        snprintf(what, sizeof what, "qkv store T=%d past=%d ring+%d: q", T, np, c[k].ring_off);
        check_close(what, g_q, q, (size_t)T * qd, NULL, (Limits){1e-6, 1e-5, 1e-12, "one rotation, same tables"});
        for (int t = 0; t < T; t++) // the new keys, unrotated, at their physical slots: a copy
            ck_assert_mem_eq(g_k + (size_t)ring_slot_host(np + t, ring, c[k].ring_off) * kvd,
                             kc + (size_t)(np + t) * kvd, kvd * 4);
        for (int v = 3; v <= 4; v++) {
            snprintf(what, sizeof what, "ring attention v%d T=%d past=%d S=%d W=%d hd=%d rot=%d ring+%d", v, T, np, S,
                     W, hd, c[k].rot, c[k].ring_off);
            check_close(what, g_out[v - 3], out, (size_t)T * qd, NULL, lim);
        }
        cudaFree(d_qkv), cudaFree(d_k), cudaFree(d_v), cudaFree(d_cos), cudaFree(d_sin), cudaFree(d_q), cudaFree(d_qs);
        cudaFree(d_out), cudaFree(d_part), cudaFree(d_step);
        free(qkv), free(kc), free(vc), free(q), free(qs), free(pos), free(spos), free(krot), free(out), free(att);
        free(all), free(pk), free(pv), free(g_q), free(g_out[0]), free(g_out[1]), free(g_k);
        rope_free(&rope);
    }
}
END_TEST

// The whole model: the GPU stream against ref_cpu's stream, both families, all four policies.
// A prefill (one feed of 30 tokens, every row's logits) takes the tiled matmul path; 50 single
// tokens after it take the fused decode path and its CUDA graph, through evictions.
static void compare_streams(const char *name, const Model *m, Policy p) {
    Error err = {{0}};
    char label[64], what[160];
    ck_assert_msg(policy_validate(&p, &m->cfg, 1, &err) == 0, "%s", err.msg);
    policy_label(label, sizeof label, &p);
    if (p.reference_prefill) strcat(label, ", reference prefill");
    int V = m->cfg.vocab_size, n = 80, pre = 30, *toks = malloc(n * sizeof(int));
    unsigned long long s = 12345;
    for (int i = 0; i < n; i++) toks[i] = (int)((rnd(&s, 1) + 1) * 0.5f * V) % V;
    Stream cpu;
    GpuStream *gpu;
    ck_assert_msg(stream_init(&cpu, m, &p, n, &err) == 0, "%s", err.msg);
    ck_assert_msg(gpu_stream_init(&gpu, m, &p, n, &err) == 0, "%s", err.msg);
    float *a = malloc((size_t)n * V * 4), *b = malloc((size_t)n * V * 4);
    ck_assert_msg(stream_feed(&cpu, toks, pre, a, 1, &err) == 0, "%s", err.msg);
    ck_assert_msg(gpu_stream_feed(gpu, toks, pre, b, 1, &err) == 0, "%s", err.msg);
    for (int i = pre; i < n; i++) {
        ck_assert_msg(stream_feed(&cpu, &toks[i], 1, a + (size_t)i * V, 0, &err) == 0, "%s", err.msg);
        ck_assert_msg(gpu_stream_feed(gpu, &toks[i], 1, b + (size_t)i * V, 0, &err) == 0, "%s", err.msg);
    }
    ck_assert_int_eq(gpu_stream_len(gpu), cpu.cache.len);
    Limits lim = {2e-4, 1e-4, 1e-9, "every layer's sums in another order"};
    snprintf(what, sizeof what, "%s %s: prefill rows", name, label);
    check_close(what, b, a, (size_t)pre * V, NULL, lim);
    snprintf(what, sizeof what, "%s %s: decode rows", name, label);
    check_close(what, b + (size_t)pre * V, a + (size_t)pre * V, (size_t)(n - pre) * V, NULL, lim);
    stream_free(&cpu);
    gpu_stream_free(gpu);
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
        Policy pol[] = {{POLICY_DENSE, 0, 0, 0, 0},
                        {POLICY_WINDOW, 0, 24, 8, 0},
                        {POLICY_SINKS, 4, 20, 8, 0},
                        {POLICY_RECOMPUTE, 0, 16, 0, 0},
                        {POLICY_SINKS, 4, 20, 8, 1}}; // the reference implementations' dense prefill
        for (int p = 0; p < 5; p++) compare_streams(models[k], &m, pol[p]);
        model_free(&m);
    }
}
END_TEST

int main(void) {
    RUN_TESTS("gpu", 300,
              embedding_matches_cpu,
              dequant_q4_1_matches_cpu,
              matmul_matches_cpu,
              norms_match_cpu,
              softmax_matches_cpu,
              rope_matches_cpu,
              elementwise_match_cpu,
              argmax_matches_cpu,
              attention_matches_cpu,
              matvec_matches_cpu,
              ring_attention_matches_cpu,
              model_matches_cpu);
}
