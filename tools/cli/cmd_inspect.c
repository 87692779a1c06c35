// sinks inspect: what is in a model file.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "gguf.h"
#include "quant.h"

static void gguf_table(const char *path, int all) {
    GGUF g;
    Error err = {{0}};
    if (gguf_open(&g, path, &err)) {
        gguf_close(&g);
        return;
    }
    printf("\nGGUF v%u: %llu metadata keys, %llu tensors, alignment %u\n", g.version, (unsigned long long)g.n_kv,
           (unsigned long long)g.n_tensors, g.alignment);
    uint64_t count[64] = {0}, bytes[64] = {0};
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const GGUFTensor *t = &g.tensors[i];
        count[t->type & 63]++;
        bytes[t->type & 63] += t->nbytes;
        if (all || i < 12)
            printf("  %-32.*s %-5s [%llu, %llu]\n", (int)t->name.len, t->name.ptr, ggml_type_name(t->type),
                   (unsigned long long)t->ne[1], (unsigned long long)t->ne[0]);
        else if (i == 12)
            printf("  ... (%llu more; --tensors lists all)\n", (unsigned long long)(g.n_tensors - 12));
    }
    printf("tensor types:");
    for (int ty = 0; ty < 64; ty++)
        if (count[ty]) printf(" %s x%llu (%.1f MB)", ggml_type_name((uint32_t)ty), (unsigned long long)count[ty], bytes[ty] / 1e6);
    printf("\n");
    gguf_close(&g);
}

int cmd_inspect(int argc, char **argv) {
    const char *model = NULL, *weights = NULL;
    int tensors = 0, json = 0;
    Opt opts[] = {
        MODEL_OPT(model),
        WEIGHTS_OPT(weights),
        {"--tensors", OPT_FLAG, &tensors, "list every tensor of a GGUF file", 0, 0, NULL},
        {"--json", OPT_FLAG, &json, "print the configuration and sizes as one JSON object", 0, 0, NULL},
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    int pr = parse_opts(argc, argv, opts, "usage: sinks inspect [options]\n\nPrints a model's configuration, tensors, parameter count and memory.");
    if (pr) return pr > 0 ? EXIT_OK : EXIT_USAGE;
    const char *path = resolve_model(model);
    Loaded L;
    int lr = load_model_weights(&L, path, NULL, 0, weights);
    if (lr) return lr == -2 ? EXIT_USAGE : EXIT_INPUT;
    const Config *c = &L.model.cfg;
    double kv_token = 2.0 * c->n_layers * c->n_kv_heads * c->head_dim * sizeof(float);
    struct stat st;
    double file_mb = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size / 1e6 : 0.0;
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", path);
        cJSON_AddStringToObject(j, "source", L.model.source);
        cJSON_AddStringToObject(j, "architecture", c->arch == ARCH_LLAMA ? "llama" : "gpt-neox");
        cJSON_AddNumberToObject(j, "layers", c->n_layers);
        cJSON_AddNumberToObject(j, "dim", c->dim);
        cJSON_AddNumberToObject(j, "hidden_dim", c->hidden_dim);
        cJSON_AddNumberToObject(j, "heads", c->n_heads);
        cJSON_AddNumberToObject(j, "kv_heads", c->n_kv_heads);
        cJSON_AddNumberToObject(j, "head_dim", c->head_dim);
        cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
        cJSON_AddNumberToObject(j, "context", c->ctx_len);
        cJSON_AddNumberToObject(j, "rope_theta", c->rope_theta);
        cJSON_AddNumberToObject(j, "parameters", (double)(L.model.n_params + L.model.n_quant));
        cJSON_AddNumberToObject(j, "quantized_weight_bytes", (double)L.model.quant_bytes);
        cJSON_AddNumberToObject(j, "file_mb", file_mb);
        cJSON_AddNumberToObject(j, "kv_bytes_per_token", kv_token);
        char *text = cJSON_PrintUnformatted(j);
        if (text) printf("%s\n", text);
        free(text);
        cJSON_Delete(j);
        loaded_free(&L);
        return EXIT_OK;
    }
    printf("model:        %s (%s)\n", path, L.model.source);
    printf("architecture: %s\n", c->arch == ARCH_LLAMA ? "llama" : "gpt-neox");
    printf("layers %d, dim %d, MLP %d, heads %d (kv heads %d, head dim %d), vocab %d\n", c->n_layers, c->dim,
           c->hidden_dim, c->n_heads, c->n_kv_heads, c->head_dim, c->vocab_size);
    printf("trained context %d tokens; rotary on %d of %d dims (%s pairs), theta %g\n", c->ctx_len, c->rot_dim,
           c->head_dim, c->rope_style == ROPE_HALF ? "half-split" : "interleaved", c->rope_theta);
    printf("norm %s (eps %g), MLP %s%s, output head %s\n", c->arch == ARCH_LLAMA ? "RMSNorm" : "LayerNorm", c->norm_eps,
           c->act == ACT_SILU ? "SwiGLU" : c->act == ACT_GELU ? "GELU" : "GELU (tanh)",
           c->arch == ARCH_NEOX ? (c->parallel_residual ? ", parallel residual" : ", sequential residual") : "",
           c->tied_head ? "tied to the embedding" : "separate");
    printf("parameters:   %zu (%.1f M); weights in memory: fp32 %.1f MB + kept quantized %.1f MB; file %.1f MB\n",
           L.model.n_params + L.model.n_quant, (L.model.n_params + L.model.n_quant) / 1e6, L.model.n_params * 4.0 / 1e6,
           L.model.quant_bytes / 1e6, file_mb);
    printf("KV cache:     %.1f KB per token (K and V, fp32; +50%% for the rotated-key copy), %.1f MB at %d tokens\n",
           kv_token / 1e3, kv_token * 1.5 * c->ctx_len / 1e6, c->ctx_len);
    if (strlen(path) > 5 && strcmp(path + strlen(path) - 5, ".gguf") == 0) gguf_table(path, tensors);
    loaded_free(&L);
    return 0;
}
