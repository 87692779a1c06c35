// neox.c: one GPT-NeoX (Pythia) transformer block: LayerNorm with bias, biased projections,
// GELU MLP, and the parallel residual x + attn(ln1(x)) + mlp(ln2(x)) when the config asks for it.
#include "forward.h"

// ANCHOR: neox_block
void neox_block_forward(float *x, const LayerWeights *lw, const Config *cfg, KVCache *c, RunState *s, int l,
                        int T, int n_past) {
    int D = cfg->dim, F = cfg->hidden_dim;
    layernorm_forward(s->xb, x, lw->attn_norm, lw->attn_norm_b, T, D, cfg->norm_eps);
    attention_block_forward(s->xb2, s->xb, lw, cfg, c, s, l, T, n_past); // xb2 = attn(ln1(x))
    if (!cfg->parallel_residual) {
        residual_forward(x, x, s->xb2, T * D); // sequential: the MLP sees x + attn
    }
    layernorm_forward(s->xb, x, lw->ffn_norm, lw->ffn_norm_b, T, D, cfg->norm_eps);
    linear_forward(s->hb, s->xb, lw->w_up, lw->qw_up, lw->b_up, s->xq, T, D, F);
    gelu_forward(s->hb, T * F, cfg->act == ACT_GELU_TANH);
    linear_forward(s->xb, s->hb, lw->w_down, lw->qw_down, lw->b_down, s->xq, T, F, D); // xb = mlp(ln2(x))
    if (cfg->parallel_residual) {
        residual_forward(s->xb, s->xb, s->xb2, T * D); // mlp + attn, then the residual
    }
    residual_forward(x, x, s->xb, T * D);
}
// END: neox_block
