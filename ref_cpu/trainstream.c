// trainstream.c: a trained model reading a long stream under a sink + window cache, token by
// token, with the model's own attention kind (softmax, softmax1 or sigmoid). The inference code
// (ref_cpu/stream.c) knows only softmax; this is the same policy for every kind, and for softmax
// it gives stream.c's numbers (tests/test_train.c checks it).
//
// As in stream.c: keys are cached before rotary; the token being read goes into the next free
// slot; every key is rotated at its slot and the query at its own slot; after each token, if
// more than S + W are cached, slots 0..S-1 and the last W are kept.
#include "trainstream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int train_stream_nll(double *nll, const TrainModel *m, const int *tokens, int n, int S, int W, Error *err) {
    const TrainConfig *c = &m->cfg;
    int D = c->dim, F = c->hidden_dim, H = c->n_heads, hd = D / H, half = hd / 2, V = c->vocab_size, L = c->n_layers;
    int dense = W <= 0;
    if (n < 2) return err_set(err, "a stream needs at least 2 tokens");
    if (S < 0 || (!dense && S + W < 1)) return err_set(err, "cache %d+%d is impossible", S, W);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V) return err_set(err, "token %d out of range (vocabulary %d)", tokens[i], V);
    int cap = dense ? n : S + W + 1; // slots: kept tokens + the one being read
    size_t cd = (size_t)cap * D;
    real *kc = malloc(L * cd * sizeof(real)), *vc = malloc(L * cd * sizeof(real)); // [L, cap, D] keys before rotary
    real *krot = malloc(cd * sizeof(real));                                       // [cap, D] rotated at their slots
    real *cs = malloc((size_t)cap * half * sizeof(real)), *sn = malloc((size_t)cap * half * sizeof(real));
    real *x = malloc(D * sizeof(real)), *xn = malloc(D * sizeof(real)), *q = malloc(D * sizeof(real)),
         *o = malloc(D * sizeof(real)), *y = malloc(D * sizeof(real)), *r1 = malloc(sizeof(real));
    real *g = malloc(F * sizeof(real)), *u = malloc(F * sizeof(real)), *h = malloc(F * sizeof(real));
    real *p = malloc(cap * sizeof(real)), *logits = malloc(V * sizeof(real));
    if (!kc || !vc || !krot || !cs || !sn || !x || !xn || !q || !o || !y || !r1 || !g || !u || !h || !p || !logits) {
        free(kc); free(vc); free(krot); free(cs); free(sn); free(x); free(xn); free(q); free(o); free(y); free(r1);
        free(g); free(u); free(h); free(p); free(logits);
        return err_set(err, "out of memory for a stream cache of %d slots", cap);
    }
    for (int pos = 0; pos < cap; pos++) // the angles of rope_init (ops.c)
        for (int i = 0; i < half; i++) {
            double angle = pos * pow((double)c->rope_theta, -2.0 * i / hd);
            cs[(size_t)pos * half + i] = cos(angle);
            sn[(size_t)pos * half + i] = sin(angle);
        }
    real scale = 1.0 / sqrt((double)hd);
    int len = 0; // cached tokens
    for (int i = 0; i < n; i++) {
        int slot = len;
        memcpy(x, m->p.tok_emb + (size_t)tokens[i] * D, D * sizeof(real));
        for (int l = 0; l < L; l++) {
            const TrainLayer *w = &m->p.layers[l];
            real *K = kc + l * cd, *Vv = vc + l * cd;
            trmsnorm_forward(xn, r1, x, w->attn_norm, 1, D, c->norm_eps);
            tmatmul_forward(q, xn, w->wq, 1, D, D);
            tmatmul_forward(K + (size_t)slot * D, xn, w->wk, 1, D, D);
            tmatmul_forward(Vv + (size_t)slot * D, xn, w->wv, 1, D, D);
            trope_forward(q, cs + (size_t)slot * half, sn + (size_t)slot * half, 1, 1, H, hd);
            memcpy(krot, K, (size_t)(slot + 1) * D * sizeof(real));
            for (int j = 0; j <= slot; j++)
                trope_forward(krot + (size_t)j * D, cs + (size_t)j * half, sn + (size_t)j * half, 1, 1, H, hd);
            // ANCHOR: stream_attention
            for (int hh = 0; hh < H; hh++) {
                const real *qh = q + hh * hd;
                for (int j = 0; j <= slot; j++) {
                    const real *kj = krot + (size_t)j * D + hh * hd;
                    real s = 0;
                    for (int d = 0; d < hd; d++) s += qh[d] * kj[d];
                    p[j] = s * scale;
                }
                tattention_weights(p, p, slot + 1, c->attn, c->seq_len);
                real *oh = o + hh * hd;
                for (int d = 0; d < hd; d++) oh[d] = 0;
                for (int j = 0; j <= slot; j++)
                    for (int d = 0; d < hd; d++) oh[d] += p[j] * Vv[(size_t)j * D + hh * hd + d];
            }
            // END: stream_attention
            tmatmul_forward(y, o, w->wo, 1, D, D);
            for (int d = 0; d < D; d++) x[d] += y[d];
            trmsnorm_forward(xn, r1, x, w->ffn_norm, 1, D, c->norm_eps);
            tmatmul_forward(g, xn, w->w_gate, 1, D, F);
            tmatmul_forward(u, xn, w->w_up, 1, D, F);
            tswiglu_forward(h, g, u, F);
            tmatmul_forward(y, h, w->w_down, 1, F, D);
            for (int d = 0; d < D; d++) x[d] += y[d];
        }
        if (i + 1 < n) {
            trmsnorm_forward(xn, r1, x, m->p.final_norm, 1, D, c->norm_eps);
            tmatmul_forward(logits, xn, m->p.tok_emb, 1, D, V);
            real max = logits[0], sum = 0;
            for (int v = 1; v < V; v++) max = logits[v] > max ? logits[v] : max;
            for (int v = 0; v < V; v++) sum += exp(logits[v] - max);
            nll[i] = -(logits[tokens[i + 1]] - max - log(sum));
        }
        len++;
        // ANCHOR: stream_evict
        if (!dense && len > S + W) { // evict: keep slots 0..S-1 and the last W
            for (int l = 0; l < L; l++) {
                memmove(kc + l * cd + (size_t)S * D, kc + l * cd + (size_t)(len - W) * D, (size_t)W * D * sizeof(real));
                memmove(vc + l * cd + (size_t)S * D, vc + l * cd + (size_t)(len - W) * D, (size_t)W * D * sizeof(real));
            }
            len = S + W;
        }
        // END: stream_evict
    }
    free(kc); free(vc); free(krot); free(cs); free(sn); free(x); free(xn); free(q); free(o); free(y); free(r1);
    free(g); free(u); free(h); free(p); free(logits);
    return 0;
}
