// sinks speed: per-token decode latency of every policy at several cache sizes, in one run.
// The paper's headline: sinks vs sliding window with re-computation (up to 22.2x on a GPU).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// One policy under test at one cache size: its stream and the seconds of its timed steps.
typedef struct {
    Policy p;
    int fill;  // tokens streamed before the timed steps (0: the cache size)
    int steps; // decode steps to time
    Stream r;
    int live;  // stream_open succeeded
    double *dt;
    int n;     // steps timed so far
} Timed;

// The value a fraction q of the way through sorted v[n] (q = 0.5: the median), interpolated.
static double quantile(const double *v, int n, double q) {
    double at = q * (n - 1);
    int i = (int)at;
    return i + 1 < n ? v[i] + (at - i) * (v[i + 1] - v[i]) : v[n - 1];
}

static double load1(void) { // the 1-minute load average; -1 where /proc is missing
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

// ANCHOR: speed_interleaved
// The four policies at one cache size, timed in turns. Every cache is filled first (recompute:
// its window of recent tokens) and warmed by one untimed step; then round k times one decode
// step of each policy, starting from a different policy each round. A burst of load from
// other processes on a shared machine then falls on all policies alike, not on one policy's
// whole run, and the median of each policy's steps says what a typical step costs.
// The tokens are text[] repeated, or made up where there is no text.
static int time_interleaved(Timed *t, int n_pol, const Model *m, int size, const TokenList *text, const char *device,
                            Error *err) {
    int V = m->cfg.vocab_size, rounds = 0, fill = 0, rc = -1;
    for (int i = 0; i < n_pol; i++) {
        rounds = t[i].steps > rounds ? t[i].steps : rounds;
        if (!t[i].fill) t[i].fill = size;
        fill = t[i].fill > fill ? t[i].fill : fill;
    }
    int n_tok = fill + rounds + 1, *toks = malloc((size_t)n_tok * sizeof(int));
    float *logits = malloc((size_t)V * sizeof(float));
    if (!toks || !logits) {
        err_set(err, "out of memory");
        goto out;
    }
    for (int i = 0; i < n_tok; i++)
        toks[i] = text && text->n ? text->ids[i % text->n] : (int)((i * 7919u + 13) % (unsigned)V);
    for (int i = 0; i < n_pol; i++) {
        int n = t[i].fill;
        if (policy_validate(&t[i].p, &m->cfg, 1, err) || stream_open(&t[i].r, m, &t[i].p, n_tok + 1, device, err))
            goto out;
        t[i].live = 1;
        if (!(t[i].dt = malloc((size_t)t[i].steps * sizeof(double)))) {
            err_set(err, "out of memory");
            goto out;
        }
        if (t[i].p.kind == POLICY_RECOMPUTE) stream_prime_recent(&t[i].r, toks, n - 1);
        else if (stream_feed(&t[i].r, toks, n, logits, 0, err)) goto out;
        // a warm-up step, not timed (recompute's steps are long enough to need none)
        if (t[i].p.kind != POLICY_RECOMPUTE && stream_feed(&t[i].r, &toks[n], 1, logits, 0, err)) goto out;
    }
    for (int k = 0; k < rounds; k++)
        for (int j = 0; j < n_pol; j++) {
            Timed *p = &t[(j + k) % n_pol];
            // a policy with fewer steps (recompute) takes them spread evenly over the rounds
            if ((long)(k + 1) * p->steps / rounds == (long)k * p->steps / rounds) continue;
            double t0 = now_seconds();
            if (stream_feed(&p->r, &toks[p->fill + 1 + p->n], 1, logits, 0, err)) goto out;
            p->dt[p->n++] = now_seconds() - t0;
        }
    for (int i = 0; i < n_pol; i++) qsort(t[i].dt, (size_t)t[i].n, sizeof(double), cmp_double);
    rc = 0;
out:
    free(toks);
    free(logits);
    return rc;
}
// END: speed_interleaved

// --stream-at N,N,..: one sinks 4+(cache-4) stream per N, each fed N tokens (in blocks, which
// leaves the cache exactly as decoding them one by one would), then their decode steps timed in
// turns: is a step at 100K tokens as fast as one at 2K?
enum { MAX_STREAM_AT = 16 }; // lengths one --stream-at run compares

static int speed_stream_at(const Model *m, int size, const char *at_list, const TokenList *text, int steps,
                           const char *device) {
    Timed t[MAX_STREAM_AT];
    int n = 0, rc = 0;
    char *list = strdup(at_list);
    for (char *tk = strtok(list, ","); tk && n < MAX_STREAM_AT; tk = strtok(NULL, ","))
        t[n++] = (Timed){.p = {.kind = POLICY_SINKS, .n_sink = 4, .window = size - 4}, .fill = atoi(tk), .steps = steps};
    free(list);
    Error err = {{0}};
    fprintf(stderr, "feeding %d streams (the longest takes a while)...\n", n);
    if (time_interleaved(t, n, m, size, text, device, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        rc = 1;
    } else {
        printf("Tokens streamed before the timed steps; ms per decode step, median (fastest-slowest); the\n"
               "median step over the first row's.\n\n");
        printf("| streamed | sinks 4+%d, ms per step | tok/s | / first |\n|---|---|---|---|\n", size - 4);
        double first = quantile(t[0].dt, t[0].n, 0.5);
        for (int i = 0; i < n; i++) {
            double med = quantile(t[i].dt, t[i].n, 0.5);
            printf("| %d | %.2f (%.2f-%.2f) | %.1f | %.3f |\n", t[i].fill, med * 1e3, t[i].dt[0] * 1e3,
                   t[i].dt[t[i].n - 1] * 1e3, 1 / med, med / first);
        }
        printf("\npeak RSS %ld MB (all %d streams together)\n\n", peak_rss_kb() >> 10, n);
    }
    for (int i = 0; i < n; i++) {
        if (t[i].live) stream_free(&t[i].r);
        free(t[i].dt);
    }
    return rc;
}

int cmd_speed(int argc, char **argv) {
    const char *model = NULL, *sizes = "256,512,1024,2048", *device = "cpu", *weights = NULL, *stream_at = NULL;
    const char *file = NULL;
    int steps = 21, recompute_steps = 5, threads = 0;
    const char *csv = NULL;
    Opt opts[] = {
        MODEL_OPT(model),
        WEIGHTS_OPT(weights),
        {"--caches", OPT_LIST, &sizes, "comma-separated cache sizes (default 256,512,1024,2048)", 8, 65536, NULL},
        {"--n-predict", OPT_INT, &steps, "decode steps timed per policy and size (median; default 21)", 1, 100000, "-n --steps"},
        {"--recompute-steps", OPT_INT, &recompute_steps, "steps timed for recompute, which is slow (default 5)", 1, 10000, NULL},
        {"--csv", OPT_STR, &csv, "also write policy,cache,median_ms,min_ms,max_ms,q1_ms,q3_ms,steps", 0, 0, NULL},
        {"--stream-at", OPT_LIST, &stream_at, "instead: sinks 4+(cache-4) decode steps in streams already N tokens long, "
         "timed in turns (the first --caches size; up to 16 N)", 1, 100000000, NULL},
        {"--file", OPT_STR, &file, "with --stream-at: the text to stream, repeated as needed (default: made-up tokens)", 0, 0, "-f"},
        THREADS_OPT(threads),
        DEVICE_OPT(device),
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    int pr = parse_opts(argc, argv, opts,
                        "usage: sinks speed [options]\n\n"
                        "Per-token decode latency of dense, window, sinks (4 + size-4) and recompute at each\n"
                        "cache size, and recompute / sinks: the speed-up StreamingLLM buys.");
    if (pr) return pr > 0 ? EXIT_OK : EXIT_USAGE;
    if (steps < 1 || recompute_steps < 1) {
        fprintf(stderr, "error: --steps and --recompute-steps must be >= 1\n");
        return 2;
    }
    if (file && !stream_at) {
        fprintf(stderr, "error: --file: only with --stream-at\n");
        return 2;
    }
    if (stream_at) {
        int commas = 0;
        for (const char *c = stream_at; *c; c++) commas += *c == ',';
        if (commas >= MAX_STREAM_AT) {
            fprintf(stderr, "error: --stream-at: at most %d lengths (got %d)\n", MAX_STREAM_AT, commas + 1);
            return 2;
        }
    }
    set_threads(threads);
    Loaded L;
    int lr = load_model_weights(&L, resolve_model(model), NULL, file != NULL, weights_for(weights, device));
    if (lr) return lr == -2 ? 2 : 1;
    if (stream_at) {
        int size = atoi(sizes);
        TokenList text = {0};
        Error err = {{0}};
        if (file && (tokenize_file(&L.tok, file, 0, &text, &err) || (!text.n && err_set(&err, "%s: no tokens", file)))) {
            fprintf(stderr, "error: %s\n", err.msg);
            tokenlist_free(&text);
            loaded_free(&L);
            return 1;
        }
        const char *base = file ? strrchr(file, '/') : NULL;
        printf("command: sinks speed --caches %d --stream-at %s --steps %d --device %s --threads %d%s%s\n\n", size,
               stream_at, steps, device, threads, file ? " --file " : "", file ? (base ? base + 1 : file) : "");
        double load0 = load1();
        int rc = speed_stream_at(&L.model, size, stream_at, &text, steps, device);
        printf("Load average (1 minute) of the machine: %.2f at the start, %.2f at the end, on %d cores.\n", load0,
               load1(), (int)sysconf(_SC_NPROCESSORS_ONLN));
        tokenlist_free(&text);
        loaded_free(&L);
        return rc;
    }
    int gpu = strcmp(device, "cpu") != 0;
    FILE *cf = NULL;
    if (csv && !(cf = fopen(csv, "w"))) {
        fprintf(stderr, "error: --csv %s: cannot write\n", csv);
        loaded_free(&L);
        return EXIT_IO;
    }
    if (cf) fprintf(cf, "policy,cache,median_ms,min_ms,max_ms,q1_ms,q3_ms,steps\n");
    double load0 = load1();
    char nthreads[32];
    snprintf(nthreads, sizeof nthreads, "%d", threads);
    printf("command: sinks speed --caches %s --steps %d --recompute-steps %d --device %s --threads %s\n\n", sizes,
           steps, recompute_steps, device, threads ? nthreads : "0 (all cores)");
    printf("Milliseconds per decode step: the median of %d steps (recompute: %d), the fastest and slowest step in\n"
           "brackets. The four policies take their steps in turns (see time_interleaved), so load from other\n"
           "processes falls on all of them alike.\n\n", steps, recompute_steps);
    printf("| cache | dense | window | sinks 4+(cache-4) | recompute | recompute / sinks (medians) |\n");
    printf("|---|---|---|---|---|---|\n");
    fflush(stdout);
    char *list = strdup(sizes);
    Error err = {{0}};
    int rc = 0;
    static const char *names[4] = {"dense", "window", "sinks", "recompute"};
    for (char *tk = strtok(list, ","); tk && !rc; tk = strtok(NULL, ",")) {
        int size = atoi(tk);
        if (size < 8) continue;
        Timed t[4] = {{.p = {.kind = POLICY_DENSE, .n_sink = 0, .window = 0, .chunk = 0, .reference_prefill = 0}, .steps = steps},
                      {.p = {.kind = POLICY_WINDOW, .n_sink = 0, .window = size, .chunk = 0, .reference_prefill = 0}, .steps = steps},
                      {.p = {.kind = POLICY_SINKS, .n_sink = 4, .window = size - 4, .chunk = 0, .reference_prefill = 0}, .steps = steps},
                      {.p = {.kind = POLICY_RECOMPUTE, .n_sink = 0, .window = size, .chunk = 0, .reference_prefill = 0}, .steps = recompute_steps}};
        if (time_interleaved(t, 4, &L.model, size, NULL, device, &err)) {
            fprintf(stderr, "error: %s\n", err.msg);
            rc = 1;
        } else {
            printf("| %d |", size);
            for (int i = 0; i < 4; i++) {
                double med = quantile(t[i].dt, t[i].n, 0.5) * 1e3, lo = t[i].dt[0] * 1e3, hi = t[i].dt[t[i].n - 1] * 1e3;
                // GPU steps take a fraction of a millisecond: three decimals there
                printf(gpu && i < 3 ? " %.3f (%.3f-%.3f) |" : " %.1f (%.1f-%.1f) |", med, lo, hi);
                if (cf)
                    fprintf(cf, "%s,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%d\n", names[i], size, med, lo, hi,
                            quantile(t[i].dt, t[i].n, 0.25) * 1e3, quantile(t[i].dt, t[i].n, 0.75) * 1e3, t[i].n);
            }
            printf(gpu ? " %.0fx |\n" : " %.1fx |\n", quantile(t[3].dt, t[3].n, 0.5) / quantile(t[2].dt, t[2].n, 0.5));
            fflush(stdout);
        }
        for (int i = 0; i < 4; i++) {
            if (t[i].live) stream_free(&t[i].r);
            free(t[i].dt);
        }
    }
    printf("\nLoad average (1 minute) of the machine: %.2f at the start, %.2f at the end, on %d cores.\n", load0,
           load1(), (int)sysconf(_SC_NPROCESSORS_ONLN));
    if (cf && fclose(cf)) {
        fprintf(stderr, "error: --csv %s: cannot write\n", csv);
        rc = EXIT_IO;
    }
    free(list);
    loaded_free(&L);
    return rc;
}
