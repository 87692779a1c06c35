// train.h: training small Llama-family models from scratch, in plain C.
//
// The model is the one ref_cpu/llama.c runs (token embedding, RMSNorm, causal attention with
// rotary embedding in the Hugging Face "halves" layout, SwiGLU MLP, tied head), with every
// activation the backward pass needs kept from the forward pass, as llm.c's train_gpt2.c does.
//
// Everything here is in double precision (`real`). The models are tiny (tens of thousands of
// parameters), so the cost is small, and it buys gradient checks against central finite
// differences that agree to ~1e-8 instead of the ~1e-3 float allows: a wrong term in a backward
// formula cannot hide under rounding. Checkpoints are written in float32.
#ifndef TRAIN_H
#define TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef double real;

// How a query's scores s_j = q.k_j / sqrt(hd) become attention weights p_j (j <= t):
typedef enum {
    ATTN_SOFTMAX,  // p_j = exp(s_j) / sum_i exp(s_i)                    (the usual)
    ATTN_SOFTMAX1, // p_j = exp(s_j) / (1 + sum_i exp(s_i))             (Miller 2023: "off by one")
    ATTN_SIGMOID,  // p_j = sigmoid(s_j - ln T0), no normalisation       (Gu et al. 2024)
} AttnKind;

typedef enum { OPTIM_ADAMW, OPTIM_SGD } OptimKind;

typedef struct {
    int vocab_size;  // V
    int dim;         // D
    int hidden_dim;  // F (SwiGLU width)
    int n_layers;    // L
    int n_heads;     // H (no grouped-query attention: H key/value heads too)
    int seq_len;     // T, the training context; rotary tables and checkpoints' ctx_len
    float rope_theta;
    float norm_eps;
    AttnKind attn;
} TrainConfig;

// One layer's weights, Hugging Face names in the comments. Shapes are [rows, cols], row-major.
typedef struct {
    real *attn_norm; // [D]     input_layernorm
    real *wq;        // [D, D]  self_attn.q_proj   (rows: head h owns rows h*hd .. h*hd+hd-1)
    real *wk;        // [D, D]  self_attn.k_proj
    real *wv;        // [D, D]  self_attn.v_proj
    real *wo;        // [D, D]  self_attn.o_proj
    real *ffn_norm;  // [D]     post_attention_layernorm
    real *w_gate;    // [F, D]  mlp.gate_proj
    real *w_up;      // [F, D]  mlp.up_proj
    real *w_down;    // [D, F]  mlp.down_proj
} TrainLayer;

typedef struct {
    real *tok_emb;      // [V, D]  model.embed_tokens (also the output head: tied)
    TrainLayer *layers; // [L]
    real *final_norm;   // [D]     model.norm
} TrainParams;

// The parameter tensors in arena order, with their Hugging Face names (checkpoints, fixtures).
typedef struct {
    char name[64];
    size_t offset, n; // in reals, into the arena
    int rows, cols;   // rows 0 for vectors
    int decay;        // AdamW weight decay applies (matrices), or not (norm gains)
} TensorInfo;

// Activations of a batch of B sequences of T tokens (rows n = b*T + t), kept for the backward.
typedef struct {
    real *x;     // [L+1, B*T, D] residual stream entering each layer; x[L] enters the final norm
    real *xn1;   // [L, B*T, D]   attention-norm output
    real *rstd1; // [L, B*T]      its 1/rms
    real *q;     // [L, B*T, D]   queries after rotary
    real *k;     // [L, B*T, D]   keys after rotary
    real *v;     // [L, B*T, D]
    real *att;   // [L, B, H, T, T] attention weights (zero above the diagonal)
    real *ao;    // [L, B*T, D]   attention output, heads concatenated, before wo
    real *xmid;  // [L, B*T, D]   residual after the attention sub-block
    real *xn2;   // [L, B*T, D]   MLP-norm output
    real *rstd2; // [L, B*T]
    real *g;     // [L, B*T, F]   gate pre-activation
    real *u;     // [L, B*T, F]   up projection
    real *h;     // [L, B*T, F]   silu(g) * u
    real *xf;    // [B*T, D]      final-norm output
    real *rstdf; // [B*T]
    real *probs; // [B*T, V]      softmax of the logits (the logits until the loss is taken)
} TrainActs;

typedef struct {
    TrainConfig cfg;
    int B, T;            // batch shape the buffers are sized for (T <= cfg.seq_len)
    size_t n_params;
    real *params, *grads;   // [n_params] each
    real *m, *v;            // [n_params] AdamW moments
    long step;              // optimiser steps taken
    TrainParams p, g;       // views into params and grads
    int n_tensors;
    TensorInfo *tensors;    // [n_tensors]
    real *rope_cos, *rope_sin; // [seq_len, hd/2]
    TrainActs a, d;         // activations, and scratch for their gradients
    int *tokens, *targets;  // [B*T] of the last forward; target -1: no loss at that position
    int n_targets;          // targets >= 0 in the last forward
    real loss;              // mean cross-entropy of the last forward
} TrainModel;

int train_config_validate(const TrainConfig *c, Error *err);
// Allocates parameters, optimiser state and activations for batches of B x T tokens.
int train_init(TrainModel *m, const TrainConfig *cfg, int B, int T, Error *err);
void train_free(TrainModel *m);
// Weights ~ N(0, 0.02^2) (output projections wo, w_down scaled by 1/sqrt(2L)), norm gains 1.
void train_init_weights(TrainModel *m, uint64_t seed);

// Forward over tokens[B*T] (rows b*T + t) with targets[B*T]; returns the mean cross-entropy
// over targets >= 0 (0 when there are none). B and T at most the sizes given to train_init.
real train_forward(TrainModel *m, const int *tokens, const int *targets, int B, int T);
// Gradients of the last forward's loss into m->grads (zeroed first).
void train_backward(TrainModel *m);

typedef struct {
    OptimKind kind;
    float lr, beta1, beta2, eps, weight_decay;
    float clip; // global gradient-norm clip; 0: none
} OptimConfig;

// One optimiser step on m->params from m->grads. Returns the gradient norm before clipping.
real optim_step(TrainModel *m, const OptimConfig *o, float lr);

// ---- the ops, each forward beside its backward (backward.c) ------------------------------
// Conventions as ops.h: outputs first, then inputs, then sizes. Backward functions ADD into
// the gradients of their inputs (d* arguments), so a tensor used twice collects both parts.

// out[N,O] = in[N,I] @ w[O,I]^T
void tmatmul_forward(real *out, const real *in, const real *w, int N, int I, int O);
void tmatmul_backward(real *din, real *dw, const real *dout, const real *in, const real *w, int N, int I, int O);
// out[N,D] = in * rstd * w, rstd = 1/sqrt(mean(in^2) + eps), saved per row
void trmsnorm_forward(real *out, real *rstd, const real *in, const real *w, int N, int D, float eps);
void trmsnorm_backward(real *din, real *dw, const real *dout, const real *in, const real *w, const real *rstd, int N,
                       int D);
// x[B*T, H*hd] rotated in place, row b*T + t at position t ("halves" pairs i, i + hd/2)
void trope_forward(real *x, const real *cos, const real *sin, int B, int T, int H, int hd);
void trope_backward(real *dx, const real *cos, const real *sin, int B, int T, int H, int hd);
// p[n] = attention weights of scores s[n] (p may alias s); T0 sets the sigmoid's bias -ln T0
void tattention_weights(real *p, const real *s, int n, AttnKind kind, int T0);
// Causal attention: out[B*T, H*hd] and att[B, H, T, T] from q, k, v [B*T, H*hd]
void tattention_forward(real *out, real *att, const real *q, const real *k, const real *v, int B, int T, int H,
                        int hd, AttnKind kind, int T0);
void tattention_backward(real *dq, real *dk, real *dv, real *datt, const real *dout, const real *q, const real *k,
                         const real *v, const real *att, int B, int T, int H, int hd, AttnKind kind);
// out[N] = silu(g) * u
void tswiglu_forward(real *out, const real *g, const real *u, int N);
void tswiglu_backward(real *dg, real *du, const real *dout, const real *g, const real *u, int N);
// probs[N,V] = softmax(logits) in place; returns the summed -log p(target) over targets >= 0
real tcrossentropy_forward(real *probs, const int *targets, int N, int V);
// dlogits[N,V] = (probs - onehot(target)) * scale for rows with a target, 0 otherwise
void tcrossentropy_backward(real *dlogits, const real *probs, const int *targets, int N, int V, real scale);

#endif
