// sinks ppl: stream a text file through the model, token by token on the decode path, under a
// cache policy; per-token negative log-likelihood to CSV, perplexity by position range.
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mapfile.h"

static void fmt_time(char *buf, size_t n, double s) {
    if (s < 0 || s > 1e7) snprintf(buf, n, "?");
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

// ANCHOR: replace_first
// --replace-first N:TEXT: the first N tokens of the stream become the one token of TEXT (\n, \t
// and \\ read as escapes). The paper's test that a sink is about position, not meaning: four
// "\n" tokens in place of the text's first four, and the sinks work as before.
static int replace_first(int *toks, int n, const char *spec, const Tokenizer *tok, Error *err) {
    char *end, text[256];
    long count = strtol(spec, &end, 10);
    if (end == spec || *end != ':' || count < 1 || count > 1024)
        return err_set(err, "--replace-first wants N:TEXT with N in 1..1024, e.g. 4:\\n (got '%s')", spec);
    if (count >= n) return err_set(err, "--replace-first %ld: the stream has only %d tokens", count, n);
    int len = 0;
    for (const char *p = end + 1; *p && len < (int)sizeof text - 1; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            text[len++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
        } else {
            text[len++] = *p;
        }
    }
    text[len] = '\0';
    TokenList one = {0};
    if (tokenizer_encode(tok, text, (size_t)len, 0, &one, err)) return -1;
    int ok = one.n == 1, id = ok ? one.ids[0] : -1, got = one.n;
    tokenlist_free(&one);
    if (!ok) return err_set(err, "--replace-first: '%s' is %d tokens; it must be exactly one", end + 1, got);
    for (int i = 0; i < count; i++) toks[i] = id;
    return 0;
}
// END: replace_first

int cmd_ppl(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *file = NULL, *csv = NULL, *replace = NULL;
    int max_tokens = 0, threads = 0, quiet = 0, skip = 0, json = 0;
    PolicyOpts po = POLICY_DEFAULTS;
    Opt opts[] = {
        MODEL_OPT(model),
        TOKENIZER_OPT(tokenizer),
        {"--file", OPT_STR, &file, "the text to stream (required), e.g. ../shared/data/war-and-peace.txt", 0, 0, "-f"},
        {"--tokens", OPT_INT, &max_tokens, "stop after predicting this many tokens (default 0: the whole text)", 0,
         1000000000, "--max-tokens"},
        {"--skip", OPT_INT, &skip, "start this many tokens into the text (default 0)", 0, 1000000000, NULL},
        {"--csv", OPT_STR, &csv, "write position,token,nll for every predicted token", 0, 0, NULL},
        {"--json", OPT_FLAG, &json, "print the results as one JSON object instead of the table", 0, 0, NULL},
        {"--replace-first", OPT_STR, &replace, "N:TEXT: the first N tokens become TEXT's one token (e.g. 4:\\n)", 0, 0,
         NULL},
        THREADS_OPT(threads),
        {"--quiet", OPT_FLAG, &quiet, "no progress on stderr (progress is drawn only on a terminal)", 0, 0, "-q"},
        POLICY_OPTS(po),
        DEVICE_OPT(po.device),
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    int pr = parse_opts(argc, argv, opts,
                        "usage: sinks ppl --file TEXT [options]\n\n"
                        "Streams a text through the model one token at a time under a KV cache policy and\n"
                        "reports perplexity over ranges of positions (0-1K, 1-2K, 2-4K, ...) and overall.\n"
                        "Ctrl-C, SIGTERM or SIGHUP stop it early: the table of what was scored so far is\n"
                        "printed, the CSV holds every row up to there, and the exit status is 128+signal.");
    if (pr) return pr > 0 ? EXIT_OK : EXIT_USAGE;
    if (!file) {
        fprintf(stderr, "error: --file is required (see --help)\n");
        return EXIT_USAGE;
    }
    Loaded L;
    Policy pol;
    int lr = load_for_streaming(&L, &pol, model, tokenizer, &po, threads);
    if (lr) return lr;
    const Config *cfg = &L.model.cfg;
    Error err = {{0}};
    TokenList ids = {0};
    int rc = EXIT_INPUT;
    FILE *out = NULL;
    float *logits = NULL;
    Stream st;
    memset(&st, 0, sizeof st);
    if (tokenize_file(&L.tok, file, 1, &ids, &err)) goto done;
    if (skip >= ids.n - 1) {
        err_set(&err, "%s: --skip %d leaves nothing of its %d tokens", file, skip, ids.n);
        goto done;
    }
    int *toks = ids.ids + skip, n = ids.n - skip;
    if (max_tokens > 0 && max_tokens < n - 1) n = max_tokens + 1; // n tokens give n-1 predictions
    if (replace && replace_first(toks, n, replace, &L.tok, &err)) goto done;
    if (stream_open(&st, &L.model, &pol, n, po.device, &err)) goto done;
    logits = malloc((size_t)cfg->vocab_size * sizeof(float));
    if (!logits) goto done;
    if (csv && !(out = fopen(csv, "w"))) {
        err_set(&err, "%s: cannot write (%s)", csv, strerror(errno));
        rc = EXIT_IO;
        goto done;
    }
    if (out) fprintf(out, "position,token,nll\n");
    char label[64];
    policy_label(label, sizeof label, &pol);
    // ranges: [0,1K) [1K,2K) [2K,4K) [4K,8K) ... by position of the predicted token
    double range_sum[32] = {0}, total = 0;
    long range_n[32] = {0};
    double t0 = now_seconds(), last_report = 0;
    int scored = 0, csv_errno = -1; // predictions made: n - 1 unless a signal stopped the run
    cli_catch_signals();
    for (int i = 0; i + 1 < n && !cli_stop_signal(); i++) {
        if (stream_feed(&st, &toks[i], 1, logits, 0, &err)) goto done;
        double nll = nll_of(logits, cfg->vocab_size, toks[i + 1]);
        int pos = i + 1, r = pos < 1024 ? 0 : 1;
        while (r < 31 && pos >= (1024 << r)) r++;
        range_sum[r] += nll;
        range_n[r]++;
        total += nll;
        scored++;
        if (out && fprintf(out, "%d,%d,%.6f\n", pos, toks[i + 1], nll) < 0) { // reported below
            csv_errno = errno;
            break;
        }
        double now = now_seconds() - t0;
        if (!quiet && cli_progress() && (now - last_report > 1.0 || i + 2 == n)) {
            char eta[32];
            fmt_time(eta, sizeof eta, (n - 2 - i) * now / (i + 1));
            fprintf(stderr, "\r[%s] %d/%d tokens  %.1f tok/s  ETA %s  ppl so far %.2f   ", label, i + 1, n - 1,
                    (i + 1) / now, eta, exp(total / (i + 1)));
            last_report = now;
        }
    }
    if (!quiet && cli_progress()) fprintf(stderr, "\n");
    if (csv_errno >= 0) rc = cli_write_failed(out, csv, csv_errno), fclose(out);
    else rc = cli_close(out, csv);
    out = NULL;
    if (rc) goto done;
    double secs = now_seconds() - t0;
    const char *device_name = stream_device(&st);
    if (json) {
        cJSON *j = cJSON_CreateObject(), *ranges = cJSON_AddArrayToObject(j, "ranges");
        cJSON_AddStringToObject(j, "policy", label);
        cJSON_AddNumberToObject(j, "sinks", pol.kind == POLICY_SINKS ? pol.n_sink : 0);
        cJSON_AddNumberToObject(j, "window", pol.kind == POLICY_DENSE ? 0 : pol.window);
        cJSON_AddStringToObject(j, "model", L.model.source);
        cJSON_AddStringToObject(j, "file", file);
        cJSON_AddStringToObject(j, "device", device_name);
        cJSON_AddNumberToObject(j, "tokens", scored);
        cJSON_AddBoolToObject(j, "complete", scored == n - 1);
        for (int r = 0; r < 32; r++) {
            if (!range_n[r]) continue;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "from", r == 0 ? 0 : 1024L << (r - 1));
            cJSON_AddNumberToObject(o, "to", 1024L << r);
            cJSON_AddNumberToObject(o, "tokens", range_n[r]);
            cJSON_AddNumberToObject(o, "perplexity", exp(range_sum[r] / range_n[r]));
            cJSON_AddItemToArray(ranges, o);
        }
        cJSON_AddNumberToObject(j, "perplexity", scored ? exp(total / scored) : NAN);
        cJSON_AddNumberToObject(j, "seconds", secs);
        cJSON_AddNumberToObject(j, "peak_rss_mb", peak_rss_kb() >> 10);
        char *text = cJSON_PrintUnformatted(j);
        if (text) printf("%s\n", text);
        free(text);
        cJSON_Delete(j);
    } else {
        printf("policy %s, %s, %d tokens of %s, on %s\n", label, L.model.source, scored, file, device_name);
        if (scored < n - 1)
            printf("(stopped by signal %d after %d of %d tokens: the table covers those)\n", cli_stop_signal(), scored,
                   n - 1);
        printf("| positions | tokens | perplexity |\n|---|---|---|\n");
        for (int r = 0; r < 32; r++) {
            if (!range_n[r]) continue;
            long lo = r == 0 ? 0 : 1024L << (r - 1), hi = 1024L << r;
            printf("| %ldK-%ldK | %ld | %.3f |\n", lo / 1024, hi / 1024, range_n[r], exp(range_sum[r] / range_n[r]));
        }
        printf("| all | %d | %.3f |\n", scored, scored ? exp(total / scored) : NAN);
        printf("time %.1f s (%.1f tok/s), peak RSS %ld MB\n", secs, scored / secs, peak_rss_kb() >> 10);
    }
    rc = cli_stop_signal() ? EXIT_SIGNAL + cli_stop_signal() : EXIT_OK;
done:
    if (rc && err.msg[0]) fprintf(stderr, "error: %s\n", err.msg);
    else if (rc == EXIT_INPUT) fprintf(stderr, "error: out of memory\n");
    if (out) fclose(out);
    free(logits);
    stream_free(&st);
    tokenlist_free(&ids);
    loaded_free(&L);
    return rc;
}
