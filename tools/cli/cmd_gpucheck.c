// sinks gpucheck: the GPU model against the CPU reference on real text, end to end. Both run
// the same tokens under the same policy: the first half as one prefill (every row's logits),
// the rest token by token (the decode path). Then each generates greedily from its own logits.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
    double max_abs, max_rel, err2, ref2, nll[2];
    long rows, argmax_same;
} Agreement;

// Row i of the two runs: how far apart, and the loss each gives the next token.
static void compare_row(Agreement *a, const float *cpu, const float *gpu, int V, int next) {
    double row_max = 0, d_max = 0;
    int am_c = 0, am_g = 0;
    for (int v = 0; v < V; v++) {
        double d = fabs((double)gpu[v] - cpu[v]);
        if (isnan(gpu[v])) d = INFINITY;
        d_max = fmax(d_max, d);
        row_max = fmax(row_max, fabs(cpu[v]));
        a->err2 += d * d, a->ref2 += (double)cpu[v] * cpu[v];
        if (cpu[v] > cpu[am_c]) am_c = v;
        if (gpu[v] > gpu[am_g]) am_g = v;
    }
    a->max_abs = fmax(a->max_abs, d_max);
    a->max_rel = fmax(a->max_rel, d_max / row_max);
    a->argmax_same += am_c == am_g;
    a->rows++;
    if (next >= 0) a->nll[0] += nll_of(cpu, V, next), a->nll[1] += nll_of(gpu, V, next);
}

// Same significant digits: what "%.3g" prints.
static int same_digits(double a, double b, int digits) {
    char x[32], y[32];
    snprintf(x, sizeof x, "%.*g", digits, a);
    snprintf(y, sizeof y, "%.*g", digits, b);
    return strcmp(x, y) == 0;
}

int cmd_gpucheck(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *file = NULL;
    int tokens = 1024, gen = 64, threads = 0;
    double nmse_limit = 1e-9;
    float nmse_opt = 0;
    PolicyOpts po = POLICY_DEFAULTS;
    // fp32 on both sides by default. --weights native: the GPU reads the file's blocks and the CPU
    // runs their fp32 copy (the same numbers: only the order of sums differs), so the same limits
    // hold; the CPU's own native path rounds its activations to 8 bits and would not match.
    po.weights = "fp32";
    Opt opts[] = {
        MODEL_OPT(model),
        TOKENIZER_OPT(tokenizer),
        {"--file", OPT_STR, &file, "the text (required), e.g. ../shared/data/war-and-peace.txt", 0, 0, "-f"},
        {"--tokens", OPT_INT, &tokens, "positions compared (default 1024)", 2, 10000000, NULL},
        {"--n-predict", OPT_INT, &gen, "greedy tokens each generates after the text (default 64)", 0, 1000000, "-n --generate"},
        {"--nmse", OPT_FLOAT, &nmse_opt, "largest normalised squared error that passes (default 1e-9)", 0, 1, NULL},
        THREADS_OPT(threads),
        POLICY_OPTS(po),
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    int pr = parse_opts(argc, argv, opts,
                        "usage: sinks gpucheck --file TEXT [options]\n\n"
                        "Runs the text on the CPU and on the GPU (--device cuda) under the same policy and\n"
                        "compares every position's logits, the perplexity, and greedy generation. Exit 0 when\n"
                        "the logits agree within --nmse, the perplexities to 3 significant digits, and the\n"
                        "generated tokens are identical.");
    if (pr) return pr > 0 ? EXIT_OK : EXIT_USAGE;
    if (!file || tokens < 2 || gen < 0 || nmse_opt < 0) {
        fprintf(stderr, "error: --file is required, --tokens must be >= 2, --generate and --nmse >= 0\n");
        return 2;
    }
    if (nmse_opt > 0) nmse_limit = nmse_opt;
    Loaded L;
    Policy pol;
    int lr = load_for_streaming(&L, &pol, model, tokenizer, &po, threads);
    if (lr) return lr;
    int V = L.model.cfg.vocab_size, rc = 1;
    Error err = {{0}};
    TokenList ids = {0};
    Stream run[2];
    memset(run, 0, sizeof run);
    float *lg[2] = {NULL, NULL};
    int *out[2] = {NULL, NULL};
    Model ref = {0};
    const Model *on[2] = {&L.model, &L.model}; // the CPU's model, the GPU's
    if (L.model.n_quant) {
        if (model_fp32_copy(&ref, &L.model, &err)) goto done;
        on[0] = &ref;
    }
    if (tokenize_file(&L.tok, file, 1, &ids, &err)) goto done;
    if (ids.n < tokens + 1) {
        err_set(&err, "%s: %d tokens, --tokens %d needs one more", file, ids.n, tokens);
        goto done;
    }
    int pre = tokens / 2;
    for (int d = 0; d < 2; d++) {
        lg[d] = malloc((size_t)(pre > 1 ? pre : 1) * V * sizeof(float));
        out[d] = malloc((size_t)(gen + 1) * sizeof(int));
        if (!lg[d] || !out[d] || stream_open(&run[d], on[d], &pol, tokens + gen + 1, d ? "cuda" : "cpu", &err))
            goto done;
    }
    Agreement a = {0};
    char label[64];
    policy_label(label, sizeof label, &pol);
    // the prefill: one feed, every row
    for (int d = 0; d < 2; d++)
        if (stream_feed(&run[d], ids.ids, pre, lg[d], 1, &err)) goto done;
    for (int i = 0; i < pre; i++) compare_row(&a, lg[0] + (size_t)i * V, lg[1] + (size_t)i * V, V, ids.ids[i + 1]);
    // the decode path
    for (int i = pre; i < tokens; i++) {
        for (int d = 0; d < 2; d++)
            if (stream_feed(&run[d], &ids.ids[i], 1, lg[d], 0, &err)) goto done;
        compare_row(&a, lg[0], lg[1], V, ids.ids[i + 1]);
        if ((i + 1) % 64 == 0) fprintf(stderr, "\r[%s] %d/%d positions compared", label, i + 1, tokens);
    }
    fprintf(stderr, "\n");
    // greedy generation, each from its own logits
    int diverged = -1;
    double gap = 0;
    for (int s = 0; s < gen; s++) {
        for (int d = 0; d < 2; d++) out[d][s] = argmax(lg[d], V);
        if (out[0][s] != out[1][s] && diverged < 0) {
            diverged = s;
            gap = lg[0][out[0][s]] - lg[0][out[1][s]]; // the CPU's margin between the two choices
        }
        for (int d = 0; d < 2; d++)
            if (stream_feed(&run[d], &out[d][s], 1, lg[d], 0, &err)) goto done;
    }
    double nmse = a.err2 / a.ref2, ppl[2] = {exp(a.nll[0] / a.rows), exp(a.nll[1] / a.rows)};
    int ok_logits = nmse <= nmse_limit, ok_ppl = same_digits(ppl[0], ppl[1], 3), ok_gen = diverged < 0;
    printf("gpucheck: %s, policy %s, %d positions of %s (%d prefilled, %d decoded), then %d greedy tokens\n",
           stream_device(&run[1]), label, tokens, file, pre, tokens - pre, gen);
    printf("weights: %s\n", L.model.n_quant ? "GPU: the file's blocks (--weights native); CPU: their fp32 copy"
                                             : "fp32 on both");
    printf("| check | CPU | GPU | result |\n|---|---|---|---|\n");
    printf("| logits: max abs diff | | %.3g | |\n", a.max_abs);
    printf("| logits: max abs diff / row's max abs logit | | %.3g | |\n", a.max_rel);
    printf("| logits: nmse over all positions | | %.3g | %s (<= %.0e) |\n", nmse, ok_logits ? "pass" : "FAIL", nmse_limit);
    printf("| same argmax | | %ld / %ld | |\n", a.argmax_same, a.rows);
    printf("| perplexity | %.6f | %.6f | %s (3 significant digits) |\n", ppl[0], ppl[1], ok_ppl ? "pass" : "FAIL");
    if (ok_gen) printf("| greedy tokens identical | %d | %d | pass |\n", gen, gen);
    else printf("| greedy tokens identical | first %d | first %d | FAIL: diverged at %d, CPU margin %.3g |\n", diverged,
                diverged, diverged, gap);
    rc = ok_logits && ok_ppl && ok_gen ? 0 : 1;
    if (rc) fprintf(stderr, "gpucheck: the GPU and the CPU disagree (see the table)\n");
done:
    if (err.msg[0]) fprintf(stderr, "error: %s\n", err.msg), rc = 1;
    for (int d = 0; d < 2; d++) stream_free(&run[d]), free(lg[d]), free(out[d]);
    tokenlist_free(&ids);
    model_free(&ref);
    loaded_free(&L);
    return rc;
}
