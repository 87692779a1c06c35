// load_llama2c.c: a llama2.c checkpoint (e.g. stories260K) into fp32 Model weights.
#include <stdio.h>
#include <string.h>

#include "llama2c.h"
#include "model.h"

int model_load_llama2c(Model *m, const char *path, Error *err) {
    Llama2cFile f;
    memset(m, 0, sizeof *m);
    if (llama2c_open(&f, path, err)) {
        llama2c_close(&f);
        return -1;
    }
    Config c = {
        .arch = ARCH_LLAMA, .dim = f.dim, .hidden_dim = f.hidden_dim, .n_layers = f.n_layers,
        .n_heads = f.n_heads, .n_kv_heads = f.n_kv_heads, .head_dim = f.dim / f.n_heads,
        .vocab_size = f.vocab_size, .ctx_len = f.seq_len, .rot_dim = f.dim / f.n_heads,
        .rope_theta = 10000.0f, .rope_style = ROPE_INTERLEAVED, .norm_eps = 1e-5f, .act = ACT_SILU,
        .tied_head = f.shared_classifier,
    };
    if (config_validate(&c, path, err) || model_alloc(m, &c, err)) {
        llama2c_close(&f);
        return -1;
    }
    size_t D = c.dim, F = c.hidden_dim, V = c.vocab_size, L = c.n_layers, kv = (size_t)c.n_kv_heads * c.head_dim;
    const float *p = f.weights;
    // The file stores each kind of weight for all layers together, in this order.
#define TAKE_ALL(field, count)                                                     \
    for (size_t l = 0; l < L; l++, p += (count))                                   \
        memcpy(m->w.layers[l].field, p, (count) * sizeof(float));
    memcpy(m->w.tok_emb, p, V * D * sizeof(float));
    p += V * D;
    TAKE_ALL(attn_norm, D);
    TAKE_ALL(wq, D * D);
    TAKE_ALL(wk, kv * D);
    TAKE_ALL(wv, kv * D);
    TAKE_ALL(wo, D * D);
    TAKE_ALL(ffn_norm, D);
    TAKE_ALL(w_gate, F * D); // w1
    TAKE_ALL(w_down, D * F); // w2
    TAKE_ALL(w_up, F * D);   // w3
#undef TAKE_ALL
    memcpy(m->w.final_norm, p, D * sizeof(float));
    p += D;
    p += (size_t)f.seq_len * c.head_dim; // legacy RoPE tables, unused: we compute our own
    if (!c.tied_head) memcpy(m->w.lm_head, p, V * D * sizeof(float));
    llama2c_close(&f);
    snprintf(m->source, sizeof m->source, "llama2.c");
    return 0;
}
