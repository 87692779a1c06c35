// load_gguf.c: a GGUF Llama checkpoint (e.g. SmolLM2) into fp32 Model weights.
#include <stdio.h>
#include <string.h>

#include "gguf.h"
#include "model.h"
#include "quant.h"

// Dequantises tensor `name` into dst after checking it is [rows, cols] (ggml: ne0 = cols).
static int load(float *dst, const GGUF *g, const char *name, uint64_t rows, uint64_t cols, Error *err) {
    const GGUFTensor *t = gguf_tensor(g, name);
    if (!t) return err_set(err, "%s: missing tensor '%s'", g->path, name);
    uint64_t want_dims = rows > 1 ? 2 : 1;
    if (t->ne[0] != cols || t->ne[1] != rows || t->ne[2] != 1 || t->ne[3] != 1 || t->n_dims < want_dims)
        return err_set(err, "%s: tensor '%s' has shape [%llu, %llu], expected [%llu, %llu]", g->path, name,
                       (unsigned long long)t->ne[1], (unsigned long long)t->ne[0], (unsigned long long)rows,
                       (unsigned long long)cols);
    dequantize(dst, t->data, t->type, t->n_elements);
    return 0;
}

static int opt_u32(const GGUF *g, const char *key, int fallback, int *out, Error *err) {
    uint32_t v;
    if (!gguf_find(g, key)) {
        *out = fallback;
        return 0;
    }
    if (gguf_get_u32(g, key, &v, err)) return -1;
    *out = v > 1000000000u ? -1 : (int)v; // config_validate rejects the -1
    return 0;
}

static int gguf_config(Config *c, const GGUF *g, Error *err) {
    GGUFStr arch;
    if (gguf_get_str(g, "general.architecture", &arch, err)) return -1;
    if (!gguf_str_eq(arch, "llama"))
        return err_set(err, "%s: unsupported architecture '%.*s' (GGUF files must be 'llama')", g->path,
                       (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);
    memset(c, 0, sizeof *c);
    c->arch = ARCH_LLAMA;
    c->act = ACT_SILU;
    c->rope_style = ROPE_INTERLEAVED; // llama.cpp's converter permuted Q and K for this
    const GGUFTensor *emb = gguf_tensor(g, "token_embd.weight");
    if (!emb) return err_set(err, "%s: missing tensor 'token_embd.weight'", g->path);
    if (opt_u32(g, "llama.block_count", -1, &c->n_layers, err) ||
        opt_u32(g, "llama.embedding_length", -1, &c->dim, err) ||
        opt_u32(g, "llama.feed_forward_length", -1, &c->hidden_dim, err) ||
        opt_u32(g, "llama.attention.head_count", -1, &c->n_heads, err) ||
        opt_u32(g, "llama.attention.head_count_kv", c->n_heads, &c->n_kv_heads, err) ||
        opt_u32(g, "llama.context_length", -1, &c->ctx_len, err) ||
        opt_u32(g, "llama.vocab_size", emb->ne[1] > 1000000 ? -1 : (int)emb->ne[1], &c->vocab_size, err))
        return -1;
    if (c->n_layers < 0 || c->dim < 0 || c->hidden_dim < 0 || c->n_heads < 0 || c->ctx_len < 0)
        return err_set(err, "%s: missing one of llama.block_count, embedding_length, feed_forward_length, "
                            "attention.head_count, context_length", g->path);
    c->head_dim = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    if (opt_u32(g, "llama.rope.dimension_count", c->head_dim, &c->rot_dim, err)) return -1;
    c->rope_theta = 10000.0f;
    if (gguf_find(g, "llama.rope.freq_base") && gguf_get_f32(g, "llama.rope.freq_base", &c->rope_theta, err)) return -1;
    if (gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &c->norm_eps, err)) return -1;
    if (gguf_find(g, "llama.rope.scaling.type"))
        return err_set(err, "%s: rope scaling is not supported", g->path);
    c->tied_head = gguf_tensor(g, "output.weight") == NULL;
    return config_validate(c, g->path, err);
}

int model_load_gguf(Model *m, const char *path, Error *err) {
    GGUF g;
    Config c;
    memset(m, 0, sizeof *m);
    if (gguf_open(&g, path, err) || gguf_config(&c, &g, err) || model_alloc(m, &c, err)) {
        gguf_close(&g);
        return -1;
    }
    uint64_t D = c.dim, F = c.hidden_dim, V = c.vocab_size, q = (uint64_t)c.n_heads * c.head_dim,
             kv = (uint64_t)c.n_kv_heads * c.head_dim;
    int rc = load(m->w.tok_emb, &g, "token_embd.weight", V, D, err);
    for (int l = 0; l < c.n_layers && !rc; l++) {
        LayerWeights *w = &m->w.layers[l];
        char n[9][64];
        const char *parts[9] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"};
        for (int i = 0; i < 9; i++) snprintf(n[i], sizeof n[i], "blk.%d.%s.weight", l, parts[i]);
        rc = load(w->attn_norm, &g, n[0], 1, D, err) || load(w->wq, &g, n[1], q, D, err) ||
             load(w->wk, &g, n[2], kv, D, err) || load(w->wv, &g, n[3], kv, D, err) ||
             load(w->wo, &g, n[4], D, q, err) || load(w->ffn_norm, &g, n[5], 1, D, err) ||
             load(w->w_gate, &g, n[6], F, D, err) || load(w->w_up, &g, n[7], F, D, err) ||
             load(w->w_down, &g, n[8], D, F, err);
    }
    if (!rc) rc = load(m->w.final_norm, &g, "output_norm.weight", 1, D, err);
    if (!rc && !c.tied_head) rc = load(m->w.lm_head, &g, "output.weight", V, D, err);
    gguf_close(&g);
    if (rc) {
        model_free(m);
        return -1;
    }
    snprintf(m->source, sizeof m->source, "gguf");
    return 0;
}
