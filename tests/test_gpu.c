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
    int shapes[][3] = {{1, 576, 1536}, {1, 1536, 576}, {5, 576, 192}, {64, 64, 96}, {3, 37, 11}};
    for (int v = 1; v <= 2; v++)
        for (int k = 0; k < 5; k++) {
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
    Limits lim = {1e-7, 1e-5, 1e-10, "expf within 2 ulp, a sum in another order"};
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
              attention_matches_cpu);
}
