// Chapter 3: the building blocks on inputs small enough to check by hand.
#include <math.h>

#include "common.h"
#include "ops.h"

int main(void) {
    float x[3] = {1, 2, 3};
    softmax_forward(x, 3);
    printf("softmax(1, 2, 3)      = %.4f %.4f %.4f   (e^k / (e + e^2 + e^3))\n", x[0], x[1], x[2]);
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
    CHECK(rope_init(&r, 4, 2, 10000.0f, &err), err);
    for (int p = 0; p < 4; p++) {
        float q[2] = {1, 0};
        rope_forward(q, &p, &r, 1, 1, 2, ROPE_INTERLEAVED);
        printf("rope((1, 0), pos %d)   = (%+.4f, %+.4f)   (cos %d, sin %d)\n", p, q[0], q[1], p, p);
    }
    rope_free(&r);
    return 0;
}
