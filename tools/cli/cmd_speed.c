// sinks speed: per-token decode latency of every policy at several cache sizes, in one run.
// The paper's headline: sinks vs sliding window with re-computation (up to 22.2x on a GPU).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Median seconds per decode step once the cache holds `size` tokens.
static double time_policy(const Model *m, Policy p, int size, int steps, const char *device, Error *err, int *ok) {
    Runner s;
    *ok = 0;
    if (policy_validate(&p, &m->cfg, 1, err) || runner_init(&s, m, &p, size + steps + 1, device, err)) return 0;
    int V = m->cfg.vocab_size, *toks = malloc((size_t)(size + steps) * sizeof(int));
    float *logits = malloc((size_t)V * sizeof(float));
    double *dt = malloc((size_t)steps * sizeof(double)), med = 0;
    for (int i = 0; i < size + steps; i++) toks[i] = (int)((i * 7919u + 13) % (unsigned)V);
    // fill the cache (recompute: fill its window of recent tokens)
    if (p.kind == POLICY_RECOMPUTE) {
        runner_prime_recent(&s, toks, size - 1);
    } else if (runner_feed(&s, toks, size, logits, 0, err)) {
        goto out;
    }
    for (int i = 0; i < steps; i++) {
        double t0 = now_seconds();
        if (runner_feed(&s, &toks[size + i], 1, logits, 0, err)) goto out;
        dt[i] = now_seconds() - t0;
    }
    qsort(dt, (size_t)steps, sizeof *dt, cmp_double);
    med = dt[steps / 2];
    *ok = 1;
out:
    free(toks);
    free(logits);
    free(dt);
    runner_free(&s);
    return med;
}

int cmd_speed(int argc, char **argv) {
    const char *model = NULL, *sizes = "256,512,1024,2048", *device = "cpu";
    int steps = 9, recompute_steps = 3, threads = 0;
    Opt opts[] = {
        {"--model", OPT_STR, &model, "model (default " DEFAULT_MODEL_HINT ")"},
        {"--caches", OPT_STR, &sizes, "comma-separated cache sizes (default 256,512,1024,2048)"},
        {"--steps", OPT_INT, &steps, "decode steps timed per policy and size (median; default 9)"},
        {"--recompute-steps", OPT_INT, &recompute_steps, "steps timed for recompute, which is slow (default 3)"},
        {"--threads", OPT_INT, &threads, "OpenMP threads (default: all cores)"},
        DEVICE_OPT(device),
        {NULL, 0, NULL, NULL},
    };
    int pr = parse_opts(argc, argv, opts,
                        "usage: sinks speed [options]\n\n"
                        "Per-token decode latency of dense, window, sinks (4 + size-4) and recompute at each\n"
                        "cache size, and recompute / sinks: the speed-up StreamingLLM buys.");
    if (pr) return pr > 0 ? 0 : 2;
    if (steps < 1 || recompute_steps < 1) {
        fprintf(stderr, "error: --steps and --recompute-steps must be >= 1\n");
        return 2;
    }
    set_threads(threads);
    Loaded L;
    if (load_model_and_tokenizer(&L, resolve_model(model), NULL, 0)) return 1;
    int gpu = strcmp(device, "cpu") != 0;
    printf("command: sinks speed --caches %s --steps %d --recompute-steps %d --device %s (threads: %s)\n", sizes,
           steps, recompute_steps, device, threads ? "set" : "all cores");
    printf("| cache | dense ms/token | window ms/token | sinks ms/token | recompute ms/token | recompute / sinks |\n");
    printf("|---|---|---|---|---|---|\n");
    char *list = strdup(sizes);
    Error err = {{0}};
    int rc = 0;
    for (char *tk = strtok(list, ","); tk; tk = strtok(NULL, ",")) {
        int size = atoi(tk), ok[4];
        if (size < 8) continue;
        double d = time_policy(&L.model, (Policy){POLICY_DENSE, 0, 0, 0, 0}, size, steps, device, &err, &ok[0]);
        double w = time_policy(&L.model, (Policy){POLICY_WINDOW, 0, size, 0, 0}, size, steps, device, &err, &ok[1]);
        double s = time_policy(&L.model, (Policy){POLICY_SINKS, 4, size - 4, 0, 0}, size, steps, device, &err, &ok[2]);
        double r = time_policy(&L.model, (Policy){POLICY_RECOMPUTE, 0, size, 0, 0}, size, recompute_steps, device, &err, &ok[3]);
        if (!ok[0] || !ok[1] || !ok[2] || !ok[3]) {
            fprintf(stderr, "error: %s\n", err.msg);
            rc = 1;
            break;
        }
        // GPU steps take a fraction of a millisecond: three decimals there
        printf(gpu ? "| %d | %.3f | %.3f | %.3f | %.1f | %.0fx |\n" : "| %d | %.1f | %.1f | %.1f | %.1f | %.1fx |\n", size,
               d * 1e3, w * 1e3, s * 1e3, r * 1e3, r / s);
        fflush(stdout);
    }
    free(list);
    loaded_free(&L);
    return rc;
}
