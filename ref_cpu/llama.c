// llama.c: one Llama transformer block (pre-norm, RMSNorm, SwiGLU MLP, no biases).
#include "forward.h"

// ANCHOR: llama_block
void llama_block_forward(float *x, const LayerWeights *lw, const Config *cfg, KVCache *c, RunState *s, int l,
                         int T, int n_past) {
    int D = cfg->dim, F = cfg->hidden_dim;
    // x = x + attention(rmsnorm(x))
    rmsnorm_forward(s->xb, x, lw->attn_norm, T, D, cfg->norm_eps);
    attention_block_forward(s->xb2, s->xb, lw, cfg, c, s, l, T, n_past);
    residual_forward(x, x, s->xb2, T * D);
    // x = x + W_down (silu(W_gate h) * W_up h),  h = rmsnorm(x)
    rmsnorm_forward(s->xb, x, lw->ffn_norm, T, D, cfg->norm_eps);
    linear_forward(s->hb, s->xb, lw->w_gate, lw->qw_gate, NULL, s->xq, T, D, F);
    linear_forward(s->hb2, s->xb, lw->w_up, lw->qw_up, NULL, s->xq, T, D, F);
    swiglu_forward(s->hb, s->hb, s->hb2, T * F);
    linear_forward(s->xb2, s->hb, lw->w_down, lw->qw_down, NULL, s->xq, T, F, D);
    residual_forward(x, x, s->xb2, T * D);
}
// END: llama_block
