// load_hf.c: a Hugging Face checkpoint directory (config.json + safetensors) into fp32 Model
// weights. model_type "llama" (LlamaForCausalLM) and "gpt_neox" (GPTNeoXForCausalLM, Pythia).
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "quant.h"
#include "safetensors.h"

typedef struct {
    const cJSON *root;
    const char *path;
} Json;

// Integer field: 0 ok, -1 missing (uses fallback if fallback >= 0) or malformed.
static int jint(const Json *j, const char *key, int fallback, int *out, Error *err) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j->root, key);
    if (!n) {
        if (fallback >= 0) { *out = fallback; return 0; }
        return err_set(err, "%s: missing \"%s\"", j->path, key);
    }
    if (!cJSON_IsNumber(n) || n->valuedouble != floor(n->valuedouble) || n->valuedouble < 0 || n->valuedouble > 1e9)
        return err_set(err, "%s: \"%s\" must be a non-negative integer", j->path, key);
    *out = (int)n->valuedouble;
    return 0;
}

static int jfloat(const Json *j, const char *key, double fallback, float *out, Error *err) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j->root, key);
    if (!n || cJSON_IsNull(n)) {
        if (!isnan(fallback)) { *out = (float)fallback; return 0; }
        return err_set(err, "%s: missing \"%s\"", j->path, key);
    }
    if (!cJSON_IsNumber(n)) return err_set(err, "%s: \"%s\" must be a number", j->path, key);
    *out = (float)n->valuedouble;
    return 0;
}

static int jbool(const Json *j, const char *key, int fallback) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j->root, key);
    return cJSON_IsBool(n) ? cJSON_IsTrue(n) : fallback;
}

static const char *jstr(const Json *j, const char *key) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j->root, key);
    return cJSON_IsString(n) ? n->valuestring : NULL;
}

static int hf_config(Config *c, const Json *j, Error *err) {
    memset(c, 0, sizeof *c);
    const char *type = jstr(j, "model_type");
    if (!type) return err_set(err, "%s: missing \"model_type\"", j->path);
    const cJSON *scaling = cJSON_GetObjectItemCaseSensitive(j->root, "rope_scaling");
    if (scaling && !cJSON_IsNull(scaling)) return err_set(err, "%s: rope_scaling is not supported", j->path);
    if (strcmp(type, "llama") == 0) {
        c->arch = ARCH_LLAMA;
        c->rope_style = ROPE_HALF;
        const char *act = jstr(j, "hidden_act");
        if (act && strcmp(act, "silu") != 0) return err_set(err, "%s: hidden_act \"%s\" is not supported for llama", j->path, act);
        c->act = ACT_SILU;
        if (jint(j, "num_attention_heads", -1, &c->n_heads, err) ||
            jint(j, "num_key_value_heads", c->n_heads, &c->n_kv_heads, err) ||
            jfloat(j, "rms_norm_eps", 1e-6, &c->norm_eps, err) || jfloat(j, "rope_theta", 10000.0, &c->rope_theta, err))
            return -1;
        c->tied_head = jbool(j, "tie_word_embeddings", 0);
    } else if (strcmp(type, "gpt_neox") == 0) {
        c->arch = ARCH_NEOX;
        c->rope_style = ROPE_HALF;
        const char *act = jstr(j, "hidden_act");
        if (!act || strcmp(act, "gelu") == 0) c->act = ACT_GELU;
        else if (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_fast") || !strcmp(act, "gelu_pytorch_tanh")) c->act = ACT_GELU_TANH;
        else return err_set(err, "%s: hidden_act \"%s\" is not supported for gpt_neox", j->path, act);
        if (jint(j, "num_attention_heads", -1, &c->n_heads, err) || jfloat(j, "layer_norm_eps", 1e-5, &c->norm_eps, err) ||
            jfloat(j, "rotary_emb_base", 10000.0, &c->rope_theta, err))
            return -1;
        c->n_kv_heads = c->n_heads;
        c->parallel_residual = jbool(j, "use_parallel_residual", 1);
        c->tied_head = jbool(j, "tie_word_embeddings", 0);
    } else {
        return err_set(err, "%s: unsupported model_type \"%s\" (llama and gpt_neox are supported)", j->path, type);
    }
    if (jint(j, "hidden_size", -1, &c->dim, err) || jint(j, "intermediate_size", -1, &c->hidden_dim, err) ||
        jint(j, "num_hidden_layers", -1, &c->n_layers, err) || jint(j, "vocab_size", -1, &c->vocab_size, err) ||
        jint(j, "max_position_embeddings", -1, &c->ctx_len, err))
        return -1;
    c->head_dim = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    c->rot_dim = c->head_dim;
    if (c->arch == ARCH_NEOX) {
        float pct;
        if (jfloat(j, "rotary_pct", 0.25, &pct, err)) return -1;
        if (!(pct > 0 && pct <= 1)) return err_set(err, "%s: rotary_pct must be in (0, 1]", j->path);
        c->rot_dim = (int)(c->head_dim * pct); // as transformers computes rotary_ndims
    }
    return config_validate(c, j->path, err);
}

// Converts tensor `name` into dst after checking its shape is [rows, cols] (or [cols] if rows == 0).
static int load(float *dst, const SafeTensors *st, const char *dir, const char *name, uint64_t rows, uint64_t cols,
                Error *err) {
    const STTensor *t = safetensors_find(st, name);
    if (!t) return err_set(err, "%s: missing tensor '%s'", dir, name);
    int ok = rows == 0 ? t->n_dims == 1 && t->shape[0] == cols
                       : t->n_dims == 2 && t->shape[0] == rows && t->shape[1] == cols;
    if (!ok)
        return err_set(err, "%s: tensor '%s' has the wrong shape (expected [%llu, %llu])", dir, name,
                       (unsigned long long)rows, (unsigned long long)cols);
    dequantize(dst, t->data, t->type, t->n_elements);
    return 0;
}

static int load_llama_layers(Model *m, const SafeTensors *st, const char *dir, Error *err) {
    const Config *c = &m->cfg;
    uint64_t D = c->dim, F = c->hidden_dim, q = (uint64_t)c->n_heads * c->head_dim, kv = (uint64_t)c->n_kv_heads * c->head_dim;
    for (int l = 0; l < c->n_layers; l++) {
        LayerWeights *w = &m->w.layers[l];
        char n[9][96];
        const char *parts[9] = {"input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj",
                                "mlp.down_proj"};
        for (int i = 0; i < 9; i++) snprintf(n[i], sizeof n[i], "model.layers.%d.%s.weight", l, parts[i]);
        if (load(w->attn_norm, st, dir, n[0], 0, D, err) || load(w->wq, st, dir, n[1], q, D, err) ||
            load(w->wk, st, dir, n[2], kv, D, err) || load(w->wv, st, dir, n[3], kv, D, err) ||
            load(w->wo, st, dir, n[4], D, q, err) || load(w->ffn_norm, st, dir, n[5], 0, D, err) ||
            load(w->w_gate, st, dir, n[6], F, D, err) || load(w->w_up, st, dir, n[7], F, D, err) ||
            load(w->w_down, st, dir, n[8], D, F, err))
            return -1;
    }
    return load(m->w.tok_emb, st, dir, "model.embed_tokens.weight", c->vocab_size, D, err) ||
           load(m->w.final_norm, st, dir, "model.norm.weight", 0, D, err) ||
           (!c->tied_head && load(m->w.lm_head, st, dir, "lm_head.weight", c->vocab_size, D, err));
}

// ANCHOR: neox_qkv
// GPT-NeoX fuses Q, K and V into one [3*D, D] projection whose rows are grouped per head:
// head h owns rows [3*h*hd, 3*(h+1)*hd) = [ q_h | k_h | v_h ]. Un-interleave into wq, wk, wv.
static void split_qkv(float *q, float *k, float *v, const float *qkv, int n_heads, int hd, int cols) {
    size_t block = (size_t)hd * cols;
    for (int h = 0; h < n_heads; h++) {
        const float *src = qkv + 3 * h * block;
        memcpy(q + h * block, src, block * sizeof(float));
        memcpy(k + h * block, src + block, block * sizeof(float));
        memcpy(v + h * block, src + 2 * block, block * sizeof(float));
    }
}
// END: neox_qkv

static int load_neox_layers(Model *m, const SafeTensors *st, const char *dir, Error *err) {
    const Config *c = &m->cfg;
    uint64_t D = c->dim, F = c->hidden_dim;
    float *tmp = malloc(3 * D * D * sizeof(float));
    if (!tmp) return err_set(err, "out of memory");
    int rc = 0;
    for (int l = 0; l < c->n_layers && !rc; l++) {
        LayerWeights *w = &m->w.layers[l];
        char n[12][96];
        const char *parts[12] = {"input_layernorm.weight", "input_layernorm.bias", "attention.query_key_value.weight",
                                 "attention.query_key_value.bias", "attention.dense.weight", "attention.dense.bias",
                                 "post_attention_layernorm.weight", "post_attention_layernorm.bias",
                                 "mlp.dense_h_to_4h.weight", "mlp.dense_h_to_4h.bias", "mlp.dense_4h_to_h.weight",
                                 "mlp.dense_4h_to_h.bias"};
        for (int i = 0; i < 12; i++) snprintf(n[i], sizeof n[i], "gpt_neox.layers.%d.%s", l, parts[i]);
        rc = load(w->attn_norm, st, dir, n[0], 0, D, err) || load(w->attn_norm_b, st, dir, n[1], 0, D, err) ||
             load(tmp, st, dir, n[2], 3 * D, D, err);
        if (rc) break;
        split_qkv(w->wq, w->wk, w->wv, tmp, c->n_heads, c->head_dim, (int)D);
        rc = load(tmp, st, dir, n[3], 0, 3 * D, err);
        if (rc) break;
        split_qkv(w->bq, w->bk, w->bv, tmp, c->n_heads, c->head_dim, 1);
        rc = load(w->wo, st, dir, n[4], D, D, err) || load(w->bo, st, dir, n[5], 0, D, err) ||
             load(w->ffn_norm, st, dir, n[6], 0, D, err) || load(w->ffn_norm_b, st, dir, n[7], 0, D, err) ||
             load(w->w_up, st, dir, n[8], F, D, err) || load(w->b_up, st, dir, n[9], 0, F, err) ||
             load(w->w_down, st, dir, n[10], D, F, err) || load(w->b_down, st, dir, n[11], 0, D, err);
    }
    free(tmp);
    return rc || load(m->w.tok_emb, st, dir, "gpt_neox.embed_in.weight", c->vocab_size, D, err) ||
           load(m->w.final_norm, st, dir, "gpt_neox.final_layer_norm.weight", 0, D, err) ||
           load(m->w.final_norm_b, st, dir, "gpt_neox.final_layer_norm.bias", 0, D, err) ||
           (!c->tied_head && load(m->w.lm_head, st, dir, "embed_out.weight", c->vocab_size, D, err));
}

int model_load_hf(Model *m, const char *dir, Error *err) {
    memset(m, 0, sizeof *m);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = read_regular_file(path, NULL, err);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(err, "%s: not valid JSON", path);
    }
    Json j = {root, path};
    Config c;
    int rc = hf_config(&c, &j, err);
    cJSON_Delete(root);
    if (rc) return -1;
    SafeTensors st;
    rc = safetensors_open_dir(&st, dir, err);
    if (!rc) {
        uint64_t have = 0; // how many weights the tensors hold
        for (int i = 0; i < st.n_tensors; i++) have += st.tensors[i].n_elements;
        rc = model_alloc_for(m, &c, NULL, have, dir, err);
    }
    if (!rc) rc = c.arch == ARCH_LLAMA ? load_llama_layers(m, &st, dir, err) : load_neox_layers(m, &st, dir, err);
    safetensors_close(&st);
    if (rc) {
        model_free(m);
        return -1;
    }
    snprintf(m->source, sizeof m->source, "safetensors");
    return 0;
}
