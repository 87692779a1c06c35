// checkpoint.c: a trained model as a Hugging Face Llama directory (config.json +
// model.safetensors, float32), which model_load_hf reads, so every `sinks` command runs on it;
// and back into a TrainModel.
#include "checkpoint.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mapfile.h"
#include "model.h"

static const char *ATTN_NAMES[] = {"softmax", "softmax1", "sigmoid"};

const char *attn_kind_name(AttnKind k) { return k >= ATTN_SOFTMAX && k <= ATTN_SIGMOID ? ATTN_NAMES[k] : "?"; }

int attn_kind_parse(AttnKind *k, const char *s, Error *err) {
    for (int i = 0; i < 3; i++)
        if (strcmp(s, ATTN_NAMES[i]) == 0) {
            *k = (AttnKind)i;
            return 0;
        }
    return err_set(err, "--attn: unknown attention '%s' (softmax, softmax1 or sigmoid)", s);
}

static int write_config(const TrainModel *m, const char *path, int sink_token, Error *err) {
    const TrainConfig *c = &m->cfg;
    FILE *f = fopen(path, "w");
    if (!f) return err_set(err, "%s: cannot write: %s", path, strerror(errno));
    fprintf(f,
            "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n"
            "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n"
            "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"vocab_size\": %d,\n"
            "  \"max_position_embeddings\": %d,\n  \"rms_norm_eps\": %.9g,\n  \"rope_theta\": %.9g,\n"
            "  \"hidden_act\": \"silu\",\n  \"tie_word_embeddings\": true,\n  \"torch_dtype\": \"float32\",\n"
            "  \"sinks_attention\": \"%s\",\n  \"sinks_sink_token\": %d\n}\n",
            c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_heads, c->vocab_size, c->seq_len, c->norm_eps,
            c->rope_theta, attn_kind_name(c->attn), sink_token);
    if (fclose(f)) return err_set(err, "%s: write failed", path);
    return 0;
}

// ANCHOR: write_safetensors
// u64 header length | JSON header, space-padded to a multiple of 8 | the tensors, float32
int checkpoint_write(const TrainModel *m, const char *dir, int sink_token, Error *err) {
    if (mkdir(dir, 0755) && errno != EEXIST) return err_set(err, "%s: cannot create: %s", dir, strerror(errno));
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (write_config(m, path, sink_token, err)) return -1;
    size_t cap = 256 + (size_t)m->n_tensors * 160, len = 0;
    char *hdr = malloc(cap);
    if (!hdr) return err_set(err, "out of memory");
    len += snprintf(hdr + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < m->n_tensors; i++) {
        const TensorInfo *t = &m->tensors[i];
        size_t b = t->offset * sizeof(float), e = b + t->n * sizeof(float);
        if (t->rows)
            len += snprintf(hdr + len, cap - len, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]}",
                            t->name, t->rows, t->cols, b, e);
        else
            len += snprintf(hdr + len, cap - len, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]}",
                            t->name, t->cols, b, e);
    }
    len += snprintf(hdr + len, cap - len, "}");
    while (len % 8) hdr[len++] = ' ';
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(hdr);
        return err_set(err, "%s: cannot write: %s", path, strerror(errno));
    }
    uint64_t n = len; // little-endian, as every machine we build on
    int ok = fwrite(&n, 8, 1, f) == 1 && fwrite(hdr, 1, len, f) == len;
    free(hdr);
    for (size_t i = 0; ok && i < m->n_params; i++) {
        float v = (float)m->params[i];
        ok = fwrite(&v, sizeof v, 1, f) == 1;
    }
    if (fclose(f) || !ok) return err_set(err, "%s: write failed", path);
    return 0;
}
// END: write_safetensors

int checkpoint_read(TrainModel *m, const char *dir, int B, int T, int *sink_token, Error *err) {
    Model hf;
    if (model_load_hf(&hf, dir, err)) return -1;
    const Config *hc = &hf.cfg;
    TrainConfig c = {hc->vocab_size, hc->dim, hc->hidden_dim, hc->n_layers, hc->n_heads, hc->ctx_len,
                     hc->rope_theta, hc->norm_eps, ATTN_SOFTMAX};
    int rc = 0;
    if (hc->arch != ARCH_LLAMA || !hc->tied_head || hc->n_kv_heads != hc->n_heads)
        rc = err_set(err, "%s: not a checkpoint of `sinks train` (Llama, tied head, no GQA)", dir);
    // the two keys of ours that Hugging Face ignores
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = rc ? NULL : read_text_file(path, NULL, err);
    if (!rc && !text) rc = -1;
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!rc) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "sinks_attention");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "sinks_sink_token");
        if (cJSON_IsString(a)) rc = attn_kind_parse(&c.attn, a->valuestring, err);
        *sink_token = cJSON_IsNumber(s) ? (int)s->valuedouble : -1;
        if (!rc && (*sink_token < -1 || *sink_token >= c.vocab_size))
            rc = err_set(err, "%s: sinks_sink_token %d out of range", path, *sink_token);
    }
    cJSON_Delete(root);
    if (!rc) rc = train_init(m, &c, B, T > 0 ? T : c.seq_len, err);
    if (!rc) {
        const TrainParams *p = &m->p;
        int D = c.dim;
        size_t DD = (size_t)D * D, FD = (size_t)c.hidden_dim * D;
#define COPY(dst, src, n) for (size_t i_ = 0; i_ < (n); i_++) (dst)[i_] = (src)[i_]
        COPY(p->tok_emb, hf.w.tok_emb, (size_t)c.vocab_size * D);
        COPY(p->final_norm, hf.w.final_norm, (size_t)D);
        for (int l = 0; l < c.n_layers; l++) {
            const LayerWeights *s = &hf.w.layers[l];
            TrainLayer *t = &p->layers[l];
            COPY(t->attn_norm, s->attn_norm, (size_t)D);
            COPY(t->ffn_norm, s->ffn_norm, (size_t)D);
            COPY(t->wq, s->wq, DD);
            COPY(t->wk, s->wk, DD);
            COPY(t->wv, s->wv, DD);
            COPY(t->wo, s->wo, DD);
            COPY(t->w_gate, s->w_gate, FD);
            COPY(t->w_up, s->w_up, FD);
            COPY(t->w_down, s->w_down, FD);
        }
#undef COPY
    }
    model_free(&hf);
    return rc;
}
