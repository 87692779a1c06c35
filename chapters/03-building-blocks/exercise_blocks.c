// Exercise 3: write softmax and RMSNorm yourself, then `make exercise-03` compares them with
// ref_cpu/ops.c on random inputs and prints PASS or the first mismatch.
#include <math.h>

#include "exercises.h"

// x[n] in place: x_i <- exp(x_i) / sum_j exp(x_j).
// This first attempt is the formula as written. Run `make exercise-03`, see which case fails and
// why, and fix it (chapter 3 says how).
void exercise_softmax(float *x, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i]);
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] /= sum;
}

// out[T, D] = in[T, D] / sqrt(mean(in^2) + eps) * w[D], row by row. Write it.
void exercise_rmsnorm(float *out, const float *in, const float *w, int T, int D, float eps) {
    (void)out, (void)in, (void)w, (void)T, (void)D, (void)eps; // TODO: your code here
}
