// gpu/qblock.h, the GPU's reading of a Q4_1 or Q8_0 block in place, on the CPU (the same C is
// compiled for the GPU): every weight against ref_cpu's dequantize (itself checked against
// gguf-py in test_formats), bit for bit, and the fused block dot against dequantize-then-dot in
// double precision within float rounding.
#include "qblock.h"
#include "testutil.h"

#include <stdint.h>

static uint32_t rng = 777;
static uint32_t rnd(void) {
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

// A random block: random bytes, the f16 fields replaced by finite values of either sign (real
// scales and offsets), the first blocks with awkward ones: zero, subnormal, the largest f16.
static void random_block(uint8_t *b, int type, int k) {
    for (int i = 0; i < qblock_bytes(type); i++) b[i] = (uint8_t)rnd();
    static const uint16_t odd[] = {0x0000, 0x8000, 0x0001, 0x83ff, 0x7bff, 0xfbff};
    for (int f = 0; f < (type == GGML_Q4_1 ? 2 : 1); f++) {
        uint16_t h = k < 6 ? odd[(k + f) % 6] : (uint16_t)(((5 + rnd() % 20) << 10) | (rnd() & 0x3ff) | (rnd() % 2) << 15);
        b[2 * f] = (uint8_t)h, b[2 * f + 1] = (uint8_t)(h >> 8);
    }
}

START_TEST(weights_equal_dequantize) {
    const int types[] = {GGML_Q4_1, GGML_Q8_0};
    for (int ti = 0; ti < 2; ti++)
        for (int k = 0; k < 200; k++) {
            uint8_t b[34];
            float want[32];
            random_block(b, types[ti], k);
            dequantize(want, b, (uint32_t)types[ti], 32);
            for (int j = 0; j < 32; j++) {
                float got = qblock_weight(b, types[ti], j);
                ck_assert_msg(memcmp(&got, &want[j], sizeof got) == 0, "%s block %d weight %d: %.9g vs %.9g",
                              ggml_type_name((uint32_t)types[ti]), k, j, got, want[j]);
            }
        }
}
END_TEST

// The dot reorders the sum (d * sum q x + m * sum x): within (32 + 4) roundings of 2^-24 each
// of sum |w x| plus the two partial sums' own size (|d| sum |q x| + |m| sum |x|).
START_TEST(dot_matches_dequantised_dot) {
    const int types[] = {GGML_Q4_1, GGML_Q8_0};
    for (int ti = 0; ti < 2; ti++)
        for (int k = 6; k < 500; k++) { // finite scales only: the reference must be finite
            uint8_t b[34];
            float w[32], x[32];
            random_block(b, types[ti], k);
            dequantize(w, b, (uint32_t)types[ti], 32);
            double ref = 0, mag = 0, sx = 0;
            for (int j = 0; j < 32; j++) {
                x[j] = ((float)(rnd() % 2001) - 1000.0f) / 250.0f;
                ref += (double)w[j] * x[j];
                mag += fabs((double)w[j] * x[j]);
                sx += fabs(x[j]);
            }
            double d = fabs(qblock_half(b)), m = types[ti] == GGML_Q4_1 ? fabs(qblock_half(b + 2)) : 0;
            double lim = 40 * ldexp(1.0, -24) * (mag + d * 127 * sx + m * sx);
            float got = qblock_dot(b, types[ti], x);
            ck_assert_msg(fabs(got - ref) <= lim, "%s block %d: %.9g vs %.9g (limit %.3g)",
                          ggml_type_name((uint32_t)types[ti]), k, got, ref, lim);
        }
}
END_TEST

int main(void) { RUN_TESTS("qblock", 60, weights_equal_dequantize, dot_matches_dequantised_dot); }
