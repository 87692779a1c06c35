// sinks generate: prompt in, streamed text out.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sampler.h"

#define SMOLLM2_SYSTEM "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

// ANCHOR: chat_template
// ChatML, the template of SmolLM2-Instruct (and of any vocabulary with <|im_start|>):
//   <|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n
static char *chat_prompt(const char *system, const char *prompt) {
    const char *fmt = "<|im_start|>system\n%s<|im_end|>\n<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n";
    size_t n = strlen(fmt) + strlen(system) + strlen(prompt) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, fmt, system, prompt);
    return s;
}
// END: chat_template

static int is_eot(const Tokenizer *t, int id) {
    for (int i = 0; i < 4; i++)
        if (t->eot_ids[i] == id) return 1;
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *prompt = "Tell me a short story about a robot who learns to paint.",
               *system = SMOLLM2_SYSTEM;
    int steps = 256, top_k = 0, seed = 42, threads = 0, raw = 0, quiet = 0;
    float temperature = 0.0f, top_p = 0.9f;
    Opt opts[] = {
        {"--model", OPT_STR, &model, "model: .gguf, llama2.c .bin or Hugging Face directory (default " DEFAULT_MODEL_HINT ")"},
        {"--tokenizer", OPT_STR, &tokenizer, "tokenizer file, if not the model's own"},
        {"--prompt", OPT_STR, &prompt, "the prompt (\"\" starts from BOS alone)"},
        {"--system", OPT_STR, &system, "system message for chat models (default: SmolLM2's)"},
        {"--raw", OPT_FLAG, &raw, "feed the prompt as is, without the chat template"},
        {"--steps", OPT_INT, &steps, "tokens to generate at most (default 256)"},
        {"--temperature", OPT_FLOAT, &temperature, "0 = greedy (default 0)"},
        {"--top-k", OPT_INT, &top_k, "sample from the k most likely tokens (0 = off)"},
        {"--top-p", OPT_FLOAT, &top_p, "nucleus sampling mass (default 0.9)"},
        {"--seed", OPT_INT, &seed, "random seed (default 42)"},
        {"--threads", OPT_INT, &threads, "OpenMP threads (default: all cores)"},
        {"--quiet", OPT_FLAG, &quiet, "no timing report on stderr"},
        {NULL, 0, NULL, NULL},
    };
    int pr = parse_opts(argc, argv, opts, "usage: sinks generate [options]\n\nGenerates text from a prompt, streaming it to stdout.");
    if (pr) return pr > 0 ? 0 : 2;
    if (steps < 0) {
        fprintf(stderr, "error: --steps must be >= 0\n");
        return 2;
    }
    set_threads(threads);
    Loaded L;
    if (load_model_and_tokenizer(&L, resolve_model(model), tokenizer, 1)) return 1;
    const Config *cfg = &L.model.cfg;
    Error err = {{0}};
    int chat = !raw && tokenizer_find(&L.tok, "<|im_start|>") >= 0;
    char *text = chat ? chat_prompt(system, prompt) : strdup(prompt);
    TokenList ids = {0};
    int rc = 1;
    float *logits = NULL;
    char *piece = NULL;
    size_t piece_cap = 3 * (size_t)L.tok.max_piece_len + 16;
    KVCache cache;
    RunState st;
    Sampler sampler;
    if (!text || tokenizer_encode(&L.tok, text, strlen(text), 1, &ids, &err)) goto fail;
    if (ids.n == 0) {
        err_set(&err, "the prompt is empty and the tokenizer adds no BOS: nothing to condition on");
        goto fail;
    }
    if (ids.n >= cfg->ctx_len) {
        err_set(&err, "the prompt has %d tokens, the model's trained context is %d", ids.n, cfg->ctx_len);
        goto fail;
    }
    if (ids.n + steps > cfg->ctx_len) {
        steps = cfg->ctx_len - ids.n;
        fprintf(stderr, "note: --steps reduced to %d to stay inside the trained context of %d tokens\n", steps, cfg->ctx_len);
    }
    int capacity = ids.n + steps;
    logits = malloc((size_t)cfg->vocab_size * sizeof(float));
    piece = malloc(piece_cap);
    if (!logits || !piece || kvcache_init(&cache, cfg, capacity, &err)) goto fail;
    if (runstate_init(&st, cfg, 64, capacity, &err)) goto fail_cache;
    if (sampler_init(&sampler, cfg->vocab_size, temperature, top_k, top_p, (uint64_t)seed, &err)) goto fail_state;
    double t0 = now_seconds();
    if (model_forward(logits, &L.model, &cache, &st, ids.ids, ids.n, 0, &err)) goto fail_all;
    double t1 = now_seconds();
    TokDecoder dec;
    tokdecoder_init(&dec);
    dec.prev = ids.ids[ids.n - 1];
    int generated = 0;
    for (; generated < steps; generated++) {
        int next = sampler_sample(&sampler, logits);
        if (is_eot(&L.tok, next)) break;
        int n = tokdecoder_push(&dec, &L.tok, next, piece, (int)piece_cap);
        fwrite(piece, 1, (size_t)n, stdout);
        fflush(stdout);
        if (generated + 1 < steps && model_forward(logits, &L.model, &cache, &st, &next, 1, 0, &err)) goto fail_all;
    }
    int n = tokdecoder_flush(&dec, piece, (int)piece_cap);
    fwrite(piece, 1, (size_t)n, stdout);
    printf("\n");
    double t2 = now_seconds();
    if (!quiet)
        fprintf(stderr, "[prefill %d tokens: %.1f tok/s | decode %d tokens: %.1f tok/s | peak RSS %ld MB]\n", ids.n,
                ids.n / (t1 - t0), generated, generated > 1 ? (generated - 1) / (t2 - t1) : 0.0, peak_rss_kb() >> 10);
    rc = 0;
fail_all:
    sampler_free(&sampler);
fail_state:
    runstate_free(&st);
fail_cache:
    kvcache_free(&cache);
fail:
    if (rc) fprintf(stderr, "error: %s\n", err.msg[0] ? err.msg : "out of memory");
    free(logits);
    free(piece);
    free(text);
    tokenlist_free(&ids);
    loaded_free(&L);
    return rc;
}
