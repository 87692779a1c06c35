// sinks generate: prompt in, streamed text out, under a KV cache policy (default sinks 4+1020,
// which is dense attention until 1024 tokens and constant memory after). --endless never stops.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sampler.h"

static volatile sig_atomic_t stop_requested;
static void on_sigint(int sig) {
    (void)sig;
    stop_requested = 1;
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *prompt = "Tell me a short story about a robot who learns to paint.",
               *system = SMOLLM2_SYSTEM, *out_path = NULL, *device = "cpu";
    int steps = 256, top_k = 0, seed = 42, threads = 0, raw = 0, quiet = 0, endless = 0, report = 1000;
    float temperature = 0.0f, top_p = 0.9f;
    PolicyOpts po = POLICY_DEFAULTS;
    Opt opts[] = {
        {"--model", OPT_STR, &model, "model: .gguf, llama2.c .bin or Hugging Face directory (default " DEFAULT_MODEL_HINT ")"},
        {"--tokenizer", OPT_STR, &tokenizer, "tokenizer file, if not the model's own"},
        {"--prompt", OPT_STR, &prompt, "the prompt (\"\" starts from BOS alone)"},
        {"--system", OPT_STR, &system, "system message for chat models (default: SmolLM2's)"},
        {"--raw", OPT_FLAG, &raw, "feed the prompt as is, without the chat template"},
        {"--steps", OPT_INT, &steps, "tokens to generate at most (default 256)"},
        {"--endless", OPT_FLAG, &endless, "go past end-of-text and the trained context; --steps 0 = forever (Ctrl-C ends)"},
        {"--out", OPT_STR, &out_path, "also write the generated text to this file"},
        {"--report", OPT_INT, &report, "with --endless: print speed and memory every N tokens (default 1000)"},
        {"--temperature", OPT_FLOAT, &temperature, "0 = greedy (default 0)"},
        {"--top-k", OPT_INT, &top_k, "sample from the k most likely tokens (0 = off)"},
        {"--top-p", OPT_FLOAT, &top_p, "nucleus sampling mass (default 0.9)"},
        {"--seed", OPT_INT, &seed, "random seed (default 42)"},
        {"--threads", OPT_INT, &threads, "OpenMP threads (default: all cores)"},
        {"--quiet", OPT_FLAG, &quiet, "no timing report on stderr"},
        POLICY_OPTS(po),
        DEVICE_OPT(device),
        {NULL, 0, NULL, NULL},
    };
    int pr = parse_opts(argc, argv, opts, "usage: sinks generate [options]\n\nGenerates text from a prompt, streaming it to stdout.");
    if (pr) return pr > 0 ? 0 : 2;
    if (steps < 0 || report <= 0) {
        fprintf(stderr, "error: --steps must be >= 0 and --report > 0\n");
        return 2;
    }
    Loaded L;
    Policy pol;
    int lr = load_for_streaming(&L, &pol, model, tokenizer, &po, threads);
    if (lr) return lr;
    const Config *cfg = &L.model.cfg;
    Error err = {{0}};
    char *text = build_prompt(&L.tok, prompt, system, raw);
    TokenList ids = {0};
    int rc = 1;
    float *logits = NULL;
    size_t piece_cap = 3 * (size_t)L.tok.max_piece_len + 16;
    char *piece = malloc(piece_cap);
    FILE *out = NULL;
    Runner st;
    Sampler sampler = {0};
    memset(&st, 0, sizeof st);
    if (!text || !piece || tokenizer_encode(&L.tok, text, strlen(text), 1, &ids, &err)) goto fail;
    if (ids.n == 0) {
        err_set(&err, "the prompt is empty and the tokenizer adds no BOS: nothing to condition on");
        goto fail;
    }
    if (pol.kind == POLICY_DENSE && ids.n + (long)steps > cfg->ctx_len && !po.force) {
        err_set(&err, "dense: prompt (%d tokens) + --steps %d exceeds the trained context %d; use --policy sinks",
                ids.n, steps, cfg->ctx_len);
        goto fail;
    }
    if (endless && pol.kind == POLICY_DENSE) {
        err_set(&err, "--endless needs a bounded cache: --policy sinks, window or recompute");
        goto fail;
    }
    if (out_path && !(out = fopen(out_path, "w"))) {
        err_set(&err, "%s: cannot write", out_path);
        goto fail;
    }
    logits = malloc((size_t)cfg->vocab_size * sizeof(float));
    if (!logits || runner_init(&st, &L.model, &pol, ids.n + steps + 1, device, &err)) goto fail;
    if (sampler_init(&sampler, cfg->vocab_size, temperature, top_k, top_p, (uint64_t)seed, &err)) goto fail;
    signal(SIGINT, on_sigint);
    double t0 = now_seconds();
    if (runner_feed(&st, ids.ids, ids.n, logits, 0, &err)) goto fail;
    double t1 = now_seconds(), tr = t1;
    TokDecoder dec;
    tokdecoder_init(&dec);
    dec.prev = ids.ids[ids.n - 1];
    long generated = 0;
    for (; (generated < steps || (endless && steps == 0)) && !stop_requested; generated++) {
        int next = sampler_sample(&sampler, logits);
        if (!endless && token_ends_turn(&L.tok, next)) break;
        int n = tokdecoder_push(&dec, &L.tok, next, piece, (int)piece_cap);
        fwrite(piece, 1, (size_t)n, stdout);
        if (out) fwrite(piece, 1, (size_t)n, out);
        fflush(stdout);
        if (runner_feed(&st, &next, 1, logits, 0, &err)) goto fail;
        if (endless && !quiet && (generated + 1) % report == 0) {
            double now = now_seconds();
            fprintf(stderr, "\n[%ld tokens | last %d: %.1f tok/s | cache %d/%d slots | RSS %ld MB]\n", generated + 1,
                    report, report / (now - tr), runner_len(&st), runner_capacity(&st), current_rss_kb() >> 10);
            tr = now;
        }
    }
    int n = tokdecoder_flush(&dec, piece, (int)piece_cap);
    fwrite(piece, 1, (size_t)n, stdout);
    printf("\n");
    double t2 = now_seconds();
    if (!quiet)
        fprintf(stderr, "[prefill %d tokens: %.1f tok/s | decode %ld tokens: %.1f tok/s | peak RSS %ld MB]\n", ids.n,
                ids.n / (t1 - t0), generated, generated > 0 ? generated / (t2 - t1) : 0.0, peak_rss_kb() >> 10);
    rc = 0;
fail:
    if (rc) fprintf(stderr, "error: %s\n", err.msg[0] ? err.msg : "out of memory");
    if (out) fclose(out);
    sampler_free(&sampler);
    runner_free(&st);
    free(logits);
    free(piece);
    free(text);
    tokenlist_free(&ids);
    loaded_free(&L);
    return rc;
}
