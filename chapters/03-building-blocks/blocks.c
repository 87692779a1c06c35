// Chapter 3: the building blocks on inputs small enough to check by hand.
#include <math.h>

#include "common.h"
#include "ops.h"

int main(int argc, char **argv) {
    Opt o[] = {{"--logits", "1,2,3", "comma-separated logits for softmax (at most 64)"},
               {"--positions", "4", "positions to rotate (0..N-1) in the rotary demo"}};
    OPTS_PARSE(o, "ch03: each building block on inputs small enough to check by hand");
    float x[64];
    int n = 0, n_pos;
    OPT_INT(o, "--positions", 1, 100000, &n_pos);
    for (const char *p = OPT_STR(o, "--logits"); *p && n < 64; n++) {
        char *end;
        x[n] = strtof(p, &end);
        if (end == p || (*end && *end != ',')) {
            fprintf(stderr, "error: --logits %s: expected numbers separated by commas\n", OPT_STR(o, "--logits"));
            return 2;
        }
        p = *end ? end + 1 : end;
    }
    printf("softmax(%s) =", OPT_STR(o, "--logits"));
    softmax_forward(x, n);
    for (int i = 0; i < n; i++) printf(" %.4f", x[i]);
    printf("   (e^(x_i - max) / sum_j e^(x_j - max))\n");
    float v[2] = {3, 4}, w[2] = {1, 1}, y[2];
    rmsnorm_forward(y, v, w, 1, 2, 0.0f);
    printf("rmsnorm(3, 4)         = %.4f %.4f     (divided by sqrt((9 + 16) / 2) = 3.5355)\n", y[0], y[1]);
    float b[2] = {0, 0};
    layernorm_forward(y, v, w, b, 1, 2, 0.0f);
    printf("layernorm(3, 4)       = %.4f %.4f    (mean 3.5, standard deviation 0.5)\n", y[0], y[1]);
    float in[2] = {1, 1}, mat[4] = {1, 2, 3, 4}, out[2];
    matmul_forward(out, in, mat, NULL, 1, 2, 2);
    printf("[[1 2] [3 4]] @ (1, 1) = %.1f %.1f\n", out[0], out[1]);
    float g = 1.0f, u = 2.0f;
    swiglu_forward(&g, &g, &u, 1);
    printf("silu(1) * 2           = %.4f         (2 / (1 + e^-1))\n", g);
    // Rotary: one pair, theta irrelevant for pair 0 (frequency 1): position p turns it by p radians.
    RopeTable r;
    Error err = {{0}};
    CHECK(rope_init(&r, n_pos, 2, 10000.0f, &err), err);
    for (int p = 0; p < n_pos; p++) {
        float q[2] = {1, 0};
        rope_forward(q, &p, &r, 1, 1, 2, ROPE_INTERLEAVED);
        printf("rope((1, 0), pos %d)   = (%+.4f, %+.4f)   (cos %d, sin %d)\n", p, q[0], q[1], p, p);
    }
    // The relative-position property: rotate a query at m and a key at n; their dot product
    // depends only on m - n. Three pairs two apart give one number.
    RopeTable r2;
    CHECK(rope_init(&r2, 64, 8, 10000.0f, &err), err);
    for (int m = 2; m <= 40; m += 19) {
        float q[8] = {1, 0.5f, -0.3f, 0.8f, 0.2f, -1, 0.7f, 0.1f}, k[8] = {0.3f, -1, 0.9f, 0.4f, -0.6f, 0.2f, 0.5f, 1};
        int n = m - 2;
        rope_forward(q, &m, &r2, 1, 1, 8, ROPE_INTERLEAVED);
        rope_forward(k, &n, &r2, 1, 1, 8, ROPE_INTERLEAVED);
        float dot = 0;
        for (int i = 0; i < 8; i++) dot += q[i] * k[i];
        printf("q at %2d . k at %2d     = %+.5f   (m - n = 2 every time)\n", m, n, dot);
    }
    rope_free(&r2);
    rope_free(&r);
    return 0;
}
