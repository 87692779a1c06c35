// Exercise 4: write causal attention over a dense cache, then `make exercise-04` compares it with
// attention_causal_forward (ref_cpu/attention.c) on random inputs and prints PASS or the first
// mismatch.
#include <math.h>

#include "exercises.h"

// out[T, n_heads, head_dim]: for the query of token t (position p = n_past + t) in head h,
//   out = sum_{j <= p} softmax_j(q . k_j / sqrt(head_dim)) v_j
// over the keys and values of key/value head h / (n_heads / n_kv_heads).
// q[T, n_heads, head_dim]; k, v[n_past + T, n_kv_heads, head_dim]; att[n_heads, T, n_past + T] is
// scratch for the probabilities (softmax_forward from ops.h may help).
void exercise_attention(float *out, float *att, const float *q, const float *k, const float *v, int T, int n_past,
                        int n_heads, int n_kv_heads, int head_dim) {
    (void)out, (void)att, (void)q, (void)k, (void)v, (void)T, (void)n_past, (void)n_heads, (void)n_kv_heads,
        (void)head_dim; // TODO: your code here
}
