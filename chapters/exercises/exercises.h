// exercises.h: the functions a reader writes in chapters/NN-*/exercise_*.c.
#ifndef EXERCISES_H
#define EXERCISES_H

void exercise_softmax(float *x, int n);
void exercise_rmsnorm(float *out, const float *in, const float *w, int T, int D, float eps);
void exercise_attention(float *out, float *att, const float *q, const float *k, const float *v, int T, int n_past,
                        int n_heads, int n_kv_heads, int head_dim);
void exercise_evict(long *pos, int *len, int n_sink, int window);

#endif
