// sinks ppl: stream a text file through the model, token by token on the decode path, under a
// cache policy; per-token negative log-likelihood to CSV, perplexity by position range.
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

int cmd_ppl(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *csv = NULL, *device = "cpu";
    int max_tokens = 0, threads = 0, quiet = 0, skip = 0;
    PolicyOpts po = POLICY_DEFAULTS;
    Opt opts[] = {
        {"--model", OPT_STR, &model, "model (default " DEFAULT_MODEL_HINT ")"},
        {"--file", OPT_STR, &file, "the text to stream (required), e.g. ../shared/data/war-and-peace.txt"},
        {"--max-tokens", OPT_INT, &max_tokens, "stop after this many tokens (default: the whole text)"},
        {"--skip", OPT_INT, &skip, "start this many tokens into the text (default 0)"},
        {"--csv", OPT_STR, &csv, "write position,token,nll for every predicted token"},
        {"--threads", OPT_INT, &threads, "OpenMP threads (default: all cores)"},
        {"--quiet", OPT_FLAG, &quiet, "no progress on stderr"},
        POLICY_OPTS(po),
        DEVICE_OPT(device),
        {NULL, 0, NULL, NULL},
    };
    int pr = parse_opts(argc, argv, opts,
                        "usage: sinks ppl --file TEXT [options]\n\n"
                        "Streams a text through the model one token at a time under a KV cache policy and\n"
                        "reports perplexity over ranges of positions (0-1K, 1-2K, 2-4K, ...) and overall.");
    if (pr) return pr > 0 ? 0 : 2;
    if (!file) {
        fprintf(stderr, "error: --file is required (see --help)\n");
        return 2;
    }
    if (max_tokens < 0 || skip < 0) {
        fprintf(stderr, "error: --max-tokens and --skip must be >= 0\n");
        return 2;
    }
    Loaded L;
    Policy pol;
    int lr = load_for_streaming(&L, &pol, model, NULL, &po, threads);
    if (lr) return lr;
    const Config *cfg = &L.model.cfg;
    Error err = {{0}};
    TokenList ids = {0};
    int rc = 1;
    FILE *out = NULL;
    float *logits = NULL;
    Runner st;
    memset(&st, 0, sizeof st);
    if (tokenize_file(&L.tok, file, 1, &ids, &err)) goto done;
    if (skip >= ids.n - 1) {
        err_set(&err, "%s: --skip %d leaves nothing of its %d tokens", file, skip, ids.n);
        goto done;
    }
    int *toks = ids.ids + skip, n = ids.n - skip;
    if (max_tokens > 0 && max_tokens + 1 < n) n = max_tokens + 1; // n tokens give n-1 predictions
    if (runner_init(&st, &L.model, &pol, n, device, &err)) goto done;
    logits = malloc((size_t)cfg->vocab_size * sizeof(float));
    if (csv && !(out = fopen(csv, "w"))) {
        err_set(&err, "%s: cannot write", csv);
        goto done;
    }
    if (out) fprintf(out, "position,token,nll\n");
    char label[64];
    policy_label(label, sizeof label, &pol);
    // ranges: [0,1K) [1K,2K) [2K,4K) [4K,8K) ... by position of the predicted token
    double range_sum[32] = {0}, total = 0;
    long range_n[32] = {0};
    double t0 = now_seconds(), last_report = 0;
    for (int i = 0; i + 1 < n; i++) {
        if (runner_feed(&st, &toks[i], 1, logits, 0, &err)) goto done;
        double nll = nll_of(logits, cfg->vocab_size, toks[i + 1]);
        int pos = i + 1, r = pos < 1024 ? 0 : 1;
        while (r < 31 && pos >= (1024 << r)) r++;
        range_sum[r] += nll;
        range_n[r]++;
        total += nll;
        if (out) fprintf(out, "%d,%d,%.6f\n", pos, toks[i + 1], nll);
        double now = now_seconds() - t0;
        if (!quiet && (now - last_report > 1.0 || i + 2 == n)) {
            char eta[32];
            fmt_time(eta, sizeof eta, (n - 2 - i) * now / (i + 1));
            fprintf(stderr, "\r[%s] %d/%d tokens  %.1f tok/s  ETA %s  ppl so far %.2f   ", label, i + 1, n - 1,
                    (i + 1) / now, eta, exp(total / (i + 1)));
            last_report = now;
        }
    }
    if (!quiet) fprintf(stderr, "\n");
    printf("policy %s, %s, %d tokens of %s, on %s\n", label, L.model.source, n - 1, file,
           st.gpu ? gpu_stream_device(st.gpu) : "the CPU");
    printf("| positions | tokens | perplexity |\n|---|---|---|\n");
    for (int r = 0; r < 32; r++) {
        if (!range_n[r]) continue;
        long lo = r == 0 ? 0 : 1024L << (r - 1), hi = 1024L << r;
        printf("| %ldK-%ldK | %ld | %.3f |\n", lo / 1024, hi / 1024, range_n[r], exp(range_sum[r] / range_n[r]));
    }
    printf("| all | %d | %.3f |\n", n - 1, exp(total / (n - 1)));
    printf("time %.1f s (%.1f tok/s), peak RSS %ld MB\n", now_seconds() - t0, (n - 1) / (now_seconds() - t0),
           peak_rss_kb() >> 10);
    rc = 0;
done:
    if (rc) fprintf(stderr, "error: %s\n", err.msg[0] ? err.msg : "out of memory");
    if (out) fclose(out);
    free(logits);
    runner_free(&st);
    tokenlist_free(&ids);
    loaded_free(&L);
    return rc;
}
