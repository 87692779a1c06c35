// sinks generate: prompt in, streamed text out, under a KV cache policy (default sinks 4+1020,
// which is dense attention until 1024 tokens and constant memory after). --endless never stops.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include "cli.h"
#include "mapfile.h"
#include "sampler.h"

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *prompt = "Tell me a short story about a robot who learns to paint.",
               *prompt_file = NULL, *system = SMOLLM2_SYSTEM, *out_path = NULL;
    int steps = 256, top_k = 0, seed = 42, threads = 0, raw = 0, quiet = 0, endless = 0, report = 1000;
    float temperature = 0.0f, top_p = 0.9f;
    PolicyOpts po = POLICY_DEFAULTS;
    Opt opts[] = {
        MODEL_OPT(model),
        TOKENIZER_OPT(tokenizer),
        {"--prompt", OPT_STR, &prompt, "the prompt (\"\" starts from BOS alone)", 0, 0, "-p"},
        {"--file", OPT_STR, &prompt_file, "read the prompt from this file (- for stdin)", 0, 0, "-f"},
        {"--system", OPT_STR, &system, "system message for chat models (default: SmolLM2's)", 0, 0, NULL},
        {"--raw", OPT_FLAG, &raw, "feed the prompt as is, without the chat template", 0, 0, NULL},
        {"--n-predict", OPT_INT, &steps, "tokens to generate at most (default 256)", 0, 100000000, "-n --steps"},
        {"--endless", OPT_FLAG, &endless, "go past end-of-text and the trained context; -n 0 = forever (Ctrl-C ends)", 0, 0, NULL},
        {"--out", OPT_STR, &out_path, "also write the generated text to this file", 0, 0, "-o"},
        {"--report", OPT_INT, &report, "with --endless: print speed and memory every N tokens (default 1000)", 1, 1000000000, NULL},
        {"--temperature", OPT_FLOAT, &temperature, "0 = greedy (default 0)", 0, 100, "--temp"},
        {"--top-k", OPT_INT, &top_k, "sample from the k most likely tokens (0 = off)", 0, 1000000, NULL},
        {"--top-p", OPT_FLOAT, &top_p, "nucleus sampling mass (default 0.9)", 0, 1, NULL},
        {"--seed", OPT_INT, &seed, "random seed (default 42)", 0, 2147483647, "-s"},
        THREADS_OPT(threads),
        {"--quiet", OPT_FLAG, &quiet, "no timing report on stderr", 0, 0, "-q"},
        POLICY_OPTS(po),
        DEVICE_OPT(po.device),
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    int pr = parse_opts(argc, argv, opts, "usage: sinks generate [options]\n\nGenerates text from a prompt, streaming it to stdout.\n"
                                          "Ctrl-C, SIGTERM or SIGHUP stop it with the text so far kept (--out included).");
    if (pr) return pr > 0 ? EXIT_OK : EXIT_USAGE;
    char *file_text = NULL;
    if (prompt_file) {
        Error ferr = {{0}};
        if (!(file_text = read_text_file(strcmp(prompt_file, "-") ? prompt_file : "/dev/stdin", NULL, &ferr))) {
            fprintf(stderr, "error: %s\n", ferr.msg);
            return EXIT_INPUT;
        }
        prompt = file_text;
    }
    Loaded L;
    Policy pol;
    int lr = load_for_streaming(&L, &pol, model, tokenizer, &po, threads);
    if (lr) {
        free(file_text);
        return lr;
    }
    const Config *cfg = &L.model.cfg;
    Error err = {{0}};
    char *text = build_prompt(&L.tok, prompt, system, raw);
    TokenList ids = {0};
    int rc = EXIT_INPUT;
    float *logits = NULL;
    size_t piece_cap = 3 * (size_t)L.tok.max_piece_len + 16;
    char *piece = malloc(piece_cap);
    FILE *out = NULL;
    Stream st;
    Sampler sampler = {0};
    memset(&st, 0, sizeof st);
    if (!text || !piece || tokenizer_encode(&L.tok, text, strlen(text), 1, &ids, &err)) goto fail;
    if (ids.n == 0) {
        err_set(&err, "the prompt is empty and the tokenizer adds no BOS: nothing to condition on");
        goto fail;
    }
    if (pol.kind == POLICY_DENSE && ids.n + (long)steps > cfg->ctx_len && !po.force) {
        err_set(&err, "dense: prompt (%d tokens) + -n %d exceeds the trained context %d; use --policy sinks",
                ids.n, steps, cfg->ctx_len);
        goto fail;
    }
    if (endless && pol.kind == POLICY_DENSE) {
        err_set(&err, "--endless needs a bounded cache: --policy sinks, window or recompute");
        goto fail;
    }
    if ((long)ids.n + steps + 1 > 2147483647L) {
        err_set(&err, "prompt (%d tokens) + -n %d is more tokens than this program counts", ids.n, steps);
        goto fail;
    }
    if (out_path && !(out = fopen(out_path, "w"))) {
        err_set(&err, "%s: cannot write (%s)", out_path, strerror(errno));
        rc = EXIT_IO;
        goto fail;
    }
    logits = malloc((size_t)cfg->vocab_size * sizeof(float));
    if (!logits || stream_open(&st, &L.model, &pol, ids.n + steps + 1, po.device, &err)) goto fail;
    if (sampler_init(&sampler, cfg->vocab_size, temperature, top_k, top_p, (uint64_t)seed, &err)) goto fail;
    cli_catch_signals();
    double t0 = now_seconds();
    if (stream_feed(&st, ids.ids, ids.n, logits, 0, &err)) goto fail;
    double t1 = now_seconds(), tr = t1;
    TokDecoder dec;
    tokdecoder_init(&dec);
    dec.prev = ids.ids[ids.n - 1];
    long generated = 0;
    long report_due = 0; // when a report is owed: the token count it became due at
    int io_rc = 0, out_failed = 0;
    for (; (generated < steps || (endless && steps == 0)) && !cli_stop_signal(); generated++) {
        int next = sampler_sample(&sampler, logits);
        if (!endless && token_ends_turn(&L.tok, next)) break;
        int n = tokdecoder_push(&dec, &L.tok, next, piece, (int)piece_cap);
        // the report waits for a word boundary (64 tokens at most), so it does not split a word
        if (report_due && n > 0 && (piece[0] == ' ' || piece[0] == '\n' || generated - report_due > 64)) {
            double now = now_seconds();
            fflush(stdout);
            fprintf(stderr, "\n[%ld tokens | last %d: %.1f tok/s | cache %d of %d+%d | RSS %ld MB]\n", generated,
                    report, report / (now - tr), stream_visible(&st), pol.n_sink, pol.window,
                    current_rss_kb() >> 10);
            tr = now, report_due = 0;
        }
        fwrite(piece, 1, (size_t)n, stdout);
        int out_errno = out && fwrite(piece, 1, (size_t)n, out) != (size_t)n ? errno : 0;
        errno = 0;
        if (fflush(stdout) || ferror(stdout)) { // a closed pipe or a full disk: said once, with why
            io_rc = cli_write_failed(stdout, "stdout", errno);
            break;
        }
        if (out && ferror(out)) {
            io_rc = cli_write_failed(out, out_path, out_errno);
            out_failed = 1;
            break;
        }
        if (stream_feed(&st, &next, 1, logits, 0, &err)) goto fail;
        if (endless && !quiet && (generated + 1) % report == 0) report_due = generated + 1;
    }
    int n = tokdecoder_flush(&dec, piece, (int)piece_cap);
    fwrite(piece, 1, (size_t)n, stdout);
    if (out) fwrite(piece, 1, (size_t)n, out);
    printf("\n");
    fflush(stdout); // the text's last line before the report on stderr
    double t2 = now_seconds();
    if (!quiet)
        fprintf(stderr, "[prefill %d tokens: %.1f tok/s | decode %ld tokens: %.1f tok/s | peak RSS %ld MB]\n", ids.n,
                ids.n / (t1 - t0), generated, generated > 0 ? generated / (t2 - t1) : 0.0, peak_rss_kb() >> 10);
    if (out_failed) fclose(out);
    else if (cli_close(out, out_path)) io_rc = EXIT_IO;
    out = NULL;
    if (cli_check_write(stdout, "stdout")) io_rc = EXIT_IO; // said at most once
    rc = io_rc;
    if (!rc && cli_stop_signal()) {
        fprintf(stderr, "[stopped by signal %d after %ld tokens; the text so far is kept]\n", cli_stop_signal(), generated);
        rc = EXIT_SIGNAL + cli_stop_signal();
    }
    err.msg[0] = '\0';
fail:
    if (rc && err.msg[0]) fprintf(stderr, "error: %s\n", err.msg);
    else if (rc == EXIT_INPUT) fprintf(stderr, "error: out of memory\n");
    if (out) fclose(out);
    sampler_free(&sampler);
    stream_free(&st);
    free(logits);
    free(piece);
    free(text);
    tokenlist_free(&ids);
    loaded_free(&L);
    free(file_text);
    return rc;
}
