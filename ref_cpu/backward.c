// backward.c: every op of the training model, its forward beside its backward.
//
// The backward of y = f(x) receives dL/dy (`dout`) and ADDS dL/dx into `din`: a tensor read by
// two ops collects the two contributions. Loops that sum over the batch are ordered so each
// output element is summed by one thread in a fixed order: the result does not depend on the
// number of threads, and a run is reproducible bit for bit.
#include <math.h>
#include <string.h>

#include "train.h"

// Threads only for work big enough to pay for waking them (tiny test shapes run serially).
#define BIG(work) ((work) >= 65536)

// ANCHOR: matmul_backward
// y[n,o] = sum_i x[n,i] w[o,i]
//   dx[n,i] += sum_o dy[n,o] w[o,i]        dw[o,i] += sum_n dy[n,o] x[n,i]
void tmatmul_forward(real *out, const real *in, const real *w, int N, int I, int O) {
#pragma omp parallel for schedule(static) if (BIG((size_t)N * I * O))
    for (int n = 0; n < N; n++) {
        const real *x = in + (size_t)n * I;
        for (int o = 0; o < O; o++) {
            const real *wr = w + (size_t)o * I;
            real s = 0;
            for (int i = 0; i < I; i++) s += x[i] * wr[i];
            out[(size_t)n * O + o] = s;
        }
    }
}

void tmatmul_backward(real *din, real *dw, const real *dout, const real *in, const real *w, int N, int I, int O) {
    if (din) {
#pragma omp parallel for schedule(static) if (BIG((size_t)N * I * O))
        for (int n = 0; n < N; n++) {
            real *dx = din + (size_t)n * I;
            for (int o = 0; o < O; o++) {
                real d = dout[(size_t)n * O + o];
                const real *wr = w + (size_t)o * I;
                for (int i = 0; i < I; i++) dx[i] += d * wr[i];
            }
        }
    }
#pragma omp parallel for schedule(static) if (BIG((size_t)N * I * O))
    for (int o = 0; o < O; o++) { // one thread owns row o of dw and sums over n in order
        real *dwr = dw + (size_t)o * I;
        for (int n = 0; n < N; n++) {
            real d = dout[(size_t)n * O + o];
            const real *x = in + (size_t)n * I;
            for (int i = 0; i < I; i++) dwr[i] += d * x[i];
        }
    }
}
// END: matmul_backward

// ANCHOR: rmsnorm_backward
// y_i = x_i r w_i,  r = (mean_j x_j^2 + eps)^(-1/2),  dr/dx_i = -r^3 x_i / D
//   dw_i += dy_i x_i r
//   dx_i += r w_i dy_i - (r^3 / D) x_i sum_j dy_j w_j x_j
void trmsnorm_forward(real *out, real *rstd, const real *in, const real *w, int N, int D, float eps) {
#pragma omp parallel for schedule(static) if (BIG((size_t)N * D))
    for (int n = 0; n < N; n++) {
        const real *x = in + (size_t)n * D;
        real ss = 0;
        for (int i = 0; i < D; i++) ss += x[i] * x[i];
        real r = 1.0 / sqrt(ss / D + eps);
        rstd[n] = r;
        for (int i = 0; i < D; i++) out[(size_t)n * D + i] = x[i] * r * w[i];
    }
}

void trmsnorm_backward(real *din, real *dw, const real *dout, const real *in, const real *w, const real *rstd, int N,
                       int D) {
#pragma omp parallel for schedule(static) if (BIG((size_t)N * D))
    for (int n = 0; n < N; n++) {
        const real *x = in + (size_t)n * D, *dy = dout + (size_t)n * D;
        real r = rstd[n], dot = 0;
        for (int i = 0; i < D; i++) dot += dy[i] * w[i] * x[i];
        real c = r * r * r / D * dot;
        for (int i = 0; i < D; i++) din[(size_t)n * D + i] += r * w[i] * dy[i] - c * x[i];
    }
    for (int n = 0; n < N; n++)
        for (int i = 0; i < D; i++) dw[i] += dout[(size_t)n * D + i] * in[(size_t)n * D + i] * rstd[n];
}
// END: rmsnorm_backward

// ANCHOR: rope_backward
// Rotary embedding turns each pair (a, b) = (x_i, x_{i+hd/2}) by the angle of its position:
//   a' = a c - b s,  b' = a s + b c.   A rotation's inverse is its transpose, so the backward
//   turns the gradient back:  da = da' c + db' s,  db = -da' s + db' c.
// Turns every pair by its angle times dir: dir = 1 is the rotation, dir = -1 its transpose.
static void trope_turn(real *x, const real *cos, const real *sin, int B, int T, int H, int hd, real dir) {
    int half = hd / 2;
#pragma omp parallel for schedule(static) if (BIG((size_t)B * T * H * hd))
    for (int n = 0; n < B * T; n++) {
        int t = n % T;
        const real *c = cos + (size_t)t * half, *s = sin + (size_t)t * half;
        for (int h = 0; h < H; h++) {
            real *v = x + ((size_t)n * H + h) * hd;
            for (int i = 0; i < half; i++) {
                real a = v[i], b = v[i + half], si = dir * s[i];
                v[i] = a * c[i] - b * si;
                v[i + half] = a * si + b * c[i];
            }
        }
    }
}

void trope_forward(real *x, const real *cos, const real *sin, int B, int T, int H, int hd) {
    trope_turn(x, cos, sin, B, T, H, hd, 1);
}

void trope_backward(real *dx, const real *cos, const real *sin, int B, int T, int H, int hd) {
    trope_turn(dx, cos, sin, B, T, H, hd, -1);
}
// END: rope_backward

// ANCHOR: attention_forward
// One head of one sequence, query t:  s_j = q_t . k_j / sqrt(hd) for j <= t,
// p_j from the scores by the chosen normalisation, out_t = sum_j p_j v_j.
void tattention_weights(real *p, const real *s, int n, AttnKind kind, int T0) {
    if (kind == ATTN_SIGMOID) { // each key on its own: no competition between keys
        real bias = -log((double)T0);
        for (int j = 0; j < n; j++) p[j] = 1.0 / (1.0 + exp(-(s[j] + bias)));
        return;
    }
    real max = kind == ATTN_SOFTMAX1 ? 0.0 : s[0]; // softmax1: the implicit extra score 0 counts
    for (int j = 0; j < n; j++) max = s[j] > max ? s[j] : max;
    real sum = kind == ATTN_SOFTMAX1 ? exp(-max) : 0.0;
    for (int j = 0; j < n; j++) {
        p[j] = exp(s[j] - max);
        sum += p[j];
    }
    for (int j = 0; j < n; j++) p[j] /= sum;
}

void tattention_forward(real *out, real *att, const real *q, const real *k, const real *v, int B, int T, int H,
                        int hd, AttnKind kind, int T0) {
    int C = H * hd;
    real scale = 1.0 / sqrt((double)hd);
#pragma omp parallel for collapse(2) schedule(static) if (BIG((size_t)B * H * T * T * hd))
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            real *A = att + ((size_t)b * H + h) * T * T; // [T, T]
            for (int t = 0; t < T; t++) {
                const real *qt = q + ((size_t)b * T + t) * C + h * hd;
                real *p = A + (size_t)t * T;
                for (int j = 0; j <= t; j++) {
                    const real *kj = k + ((size_t)b * T + j) * C + h * hd;
                    real s = 0;
                    for (int i = 0; i < hd; i++) s += qt[i] * kj[i];
                    p[j] = s * scale;
                }
                tattention_weights(p, p, t + 1, kind, T0);
                for (int j = t + 1; j < T; j++) p[j] = 0;
                real *o = out + ((size_t)b * T + t) * C + h * hd;
                for (int i = 0; i < hd; i++) o[i] = 0;
                for (int j = 0; j <= t; j++) {
                    const real *vj = v + ((size_t)b * T + j) * C + h * hd;
                    for (int i = 0; i < hd; i++) o[i] += p[j] * vj[i];
                }
            }
        }
}
// END: attention_forward

// ANCHOR: attention_backward
// out_t = sum_j p_j v_j:      dp_j = dout_t . v_j,        dv_j += p_j dout_t
// softmax (and softmax1, whose extra "+1" is a key with score 0 and no value):
//                             ds_j = p_j (dp_j - sum_i p_i dp_i)
// sigmoid:                    ds_j = dp_j p_j (1 - p_j)
// s_j = q_t . k_j / sqrt(hd): dq_t += sum_j ds_j k_j / sqrt(hd),  dk_j += ds_j q_t / sqrt(hd)
void tattention_backward(real *dq, real *dk, real *dv, real *datt, const real *dout, const real *q, const real *k,
                         const real *v, const real *att, int B, int T, int H, int hd, AttnKind kind) {
    int C = H * hd;
    real scale = 1.0 / sqrt((double)hd);
#pragma omp parallel for collapse(2) schedule(static) if (BIG((size_t)B * H * T * T * hd))
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) { // (b, h) owns its slices of dq, dk, dv: no races
            const real *A = att + ((size_t)b * H + h) * T * T;
            real *dA = datt + ((size_t)b * H + h) * T * T;
            for (int t = 0; t < T; t++) {
                const real *p = A + (size_t)t * T, *dot = dout + ((size_t)b * T + t) * C + h * hd;
                real *dp = dA + (size_t)t * T;
                for (int j = 0; j <= t; j++) {
                    const real *vj = v + ((size_t)b * T + j) * C + h * hd;
                    real *dvj = dv + ((size_t)b * T + j) * C + h * hd;
                    real s = 0;
                    for (int i = 0; i < hd; i++) {
                        s += dot[i] * vj[i];
                        dvj[i] += p[j] * dot[i];
                    }
                    dp[j] = s;
                }
                if (kind == ATTN_SIGMOID) {
                    for (int j = 0; j <= t; j++) dp[j] *= p[j] * (1 - p[j]);
                } else {
                    real sum = 0;
                    for (int j = 0; j <= t; j++) sum += p[j] * dp[j];
                    for (int j = 0; j <= t; j++) dp[j] = p[j] * (dp[j] - sum);
                }
                const real *qt = q + ((size_t)b * T + t) * C + h * hd;
                real *dqt = dq + ((size_t)b * T + t) * C + h * hd;
                for (int j = 0; j <= t; j++) { // dp now holds ds
                    const real *kj = k + ((size_t)b * T + j) * C + h * hd;
                    real *dkj = dk + ((size_t)b * T + j) * C + h * hd;
                    real ds = dp[j] * scale;
                    for (int i = 0; i < hd; i++) {
                        dqt[i] += ds * kj[i];
                        dkj[i] += ds * qt[i];
                    }
                }
            }
        }
}
// END: attention_backward

// ANCHOR: swiglu_backward
// h = silu(g) u, silu(g) = g sigma(g), silu'(g) = sigma(g) (1 + g (1 - sigma(g)))
//   dg += dh u silu'(g),   du += dh silu(g)
void tswiglu_forward(real *out, const real *g, const real *u, int N) {
#pragma omp parallel for schedule(static) if (BIG((size_t)N))
    for (int i = 0; i < N; i++) out[i] = g[i] / (1 + exp(-g[i])) * u[i];
}

void tswiglu_backward(real *dg, real *du, const real *dout, const real *g, const real *u, int N) {
#pragma omp parallel for schedule(static) if (BIG((size_t)N))
    for (int i = 0; i < N; i++) {
        real sig = 1 / (1 + exp(-g[i]));
        dg[i] += dout[i] * u[i] * sig * (1 + g[i] * (1 - sig));
        du[i] += dout[i] * g[i] * sig;
    }
}
// END: swiglu_backward

// ANCHOR: crossentropy_backward
// loss_n = -log p_n[y_n], p_n = softmax(z_n):   dz_n[v] = p_n[v] - [v == y_n]   (times the
// weight of row n in the mean loss)
real tcrossentropy_forward(real *probs, const int *targets, int N, int V) {
    real total = 0;
    for (int n = 0; n < N; n++) {
        real *z = probs + (size_t)n * V;
        real max = z[0];
        for (int i = 1; i < V; i++) max = z[i] > max ? z[i] : max;
        real sum = 0;
        for (int i = 0; i < V; i++) sum += exp(z[i] - max);
        if (targets[n] >= 0) total += -(z[targets[n]] - max - log(sum)); // log-sum-exp, no underflow
        for (int i = 0; i < V; i++) z[i] = exp(z[i] - max) / sum;
    }
    return total;
}

void tcrossentropy_backward(real *dlogits, const real *probs, const int *targets, int N, int V, real scale) {
    for (int n = 0; n < N; n++) {
        real *dz = dlogits + (size_t)n * V;
        const real *p = probs + (size_t)n * V;
        if (targets[n] < 0) {
            memset(dz, 0, (size_t)V * sizeof(real));
            continue;
        }
        for (int i = 0; i < V; i++) dz[i] = p[i] * scale;
        dz[targets[n]] -= scale;
    }
}
// END: crossentropy_backward
