// sinks streameval: recall of facts d facts back in a stream, scored by the likelihood of the
// right answer among candidates, under dense, window and sinks caches (the task, its tokens and
// the scorer are ref_cpu/streameval.c). One stream per policy; every question is scored at its
// position in that stream.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "streameval.h"

// The table: one row per distance; dense split at the trained context when the stream passes it.
static void print_table(FILE *f, const EvalTask *t, const EvalTokens *et, EvalOutcome *const *out,
                        const Policy *pols, int ctx_len) {
    char lab[3][64];
    for (int k = 0; k < 3; k++) policy_label(lab[k], sizeof lab[k], &pols[k]);
    int past = et->ids.n > ctx_len; // some questions sit past dense's trained context
    char in[64] = "", beyond[64] = "";
    if (past) snprintf(in, sizeof in, " (answer before token %d)", ctx_len);
    if (past) snprintf(beyond, sizeof beyond, " dense (past token %d) |", ctx_len);
    fprintf(f, "| facts back | tokens back (mean) | questions | fact inside the sinks window | %s%s |%s %s | %s |\n",
            lab[0], in, beyond, lab[1], lab[2]);
    fprintf(f, "|---|---|---|---|---|%s---|---|\n", past ? "---|" : "");
    int W = pols[2].window;
    for (int di = 0; di < t->spec.n_distances; di++) {
        int d = t->spec.distances[di], n = 0, inside = 0, c[3] = {0}, n_in = 0, c_in = 0;
        double back = 0;
        for (int qi = 0; qi < t->n_questions; qi++) {
            const EvalQuestion *q = &t->q[qi];
            if (q->distance != d) continue;
            int a = et->answer_pos[qi], from = et->fact_start[q->target];
            n++, back += a - from;
            inside += a - from <= W; // the whole fact line among the last W tokens
            for (int k = 0; k < 3; k++) c[k] += out[k] && out[k][qi].correct;
            if (a < ctx_len) n_in++, c_in += out[0] && out[0][qi].correct;
        }
        if (!n) continue;
        fprintf(f, "| %d | %.0f | %d | %.0f%% |", d, back / n, n, 100.0 * inside / n);
        if (!out[0]) fprintf(f, " - |%s", past ? " - |" : "");
        else if (!past) fprintf(f, " %.0f%% |", 100.0 * c[0] / n);
        else {
            if (n_in) fprintf(f, " %.0f%% (%d) |", 100.0 * c_in / n_in, n_in);
            else fprintf(f, " - |");
            if (n - n_in) fprintf(f, " %.0f%% (%d) |", 100.0 * (c[0] - c_in) / (n - n_in), n - n_in);
            else fprintf(f, " - |");
        }
        for (int k = 1; k < 3; k++)
            if (out[k]) fprintf(f, " %.0f%% |", 100.0 * c[k] / n);
            else fprintf(f, " - |");
        fprintf(f, "\n");
    }
}

// KEY = value lines for the book: accuracy per policy and distance, and the settings.
static void write_values(FILE *f, const EvalTask *t, const EvalTokens *et, EvalOutcome *const *out,
                         const Policy *pols) {
    const char *name[3] = {"dense", "window", "sinks"};
    fprintf(f, "questions = %d\ntokens = %d\ncandidates = %d\nchance = %.0f%%\nsinks = %d\nwindow = %d\n", t->n_questions,
            et->ids.n, t->spec.n_candidates, 100.0 / t->spec.n_candidates, pols[2].n_sink, pols[2].window);
    for (int k = 0; k < 3; k++) {
        if (!out[k]) continue;
        int all = 0;
        for (int qi = 0; qi < t->n_questions; qi++) all += out[k][qi].correct;
        fprintf(f, "%s_all = %.0f%%\n", name[k], 100.0 * all / t->n_questions);
        for (int di = 0; di < t->spec.n_distances; di++) {
            int d = t->spec.distances[di], n = 0, c = 0;
            double back = 0;
            for (int qi = 0; qi < t->n_questions; qi++)
                if (t->q[qi].distance == d)
                    n++, c += out[k][qi].correct, back += et->answer_pos[qi] - et->fact_start[t->q[qi].target];
            if (!n) continue;
            fprintf(f, "%s_d%d = %.0f%%\n", name[k], d, 100.0 * c / n);
            if (k == 0) fprintf(f, "tokens_back_d%d = %.0f\n", d, back / n);
        }
    }
}

int cmd_streameval(int argc, char **argv) {
    const char *model = NULL, *distances = "1,2,4,8,16,32,64,96", *csv = NULL, *values = NULL,
               *policies = "dense,window,sinks", *weights = NULL,
               *device = "cpu";
    int lines = 240, every = 4, sinks = 4, window = 252, threads = 0, seed = 1, cands = 10;
    Opt opts[] = {
        MODEL_OPT(model),
        WEIGHTS_OPT(weights),
        {"--distances", OPT_LIST, &distances, "how many facts back the questions ask (default 1,2,4,8,16,32,64,96)", 1,
         116, NULL},
        {"--lines", OPT_INT, &lines, "facts in the stream (default 240, about 4.4K tokens with the questions)", 2, 100000,
         NULL},
        {"--every", OPT_INT, &every, "a question after every N facts (default 4)", 1, 100000, NULL},
        {"--candidates", OPT_INT, &cands, "answers offered per question, the right one among them (default 10: all)", 2,
         10, NULL},
        {"--sinks", OPT_INT, &sinks, "S: sink tokens of the sinks cache (default 4)", 0, 65536, NULL},
        {"--window", OPT_INT, &window, "W: recent tokens; the sinks cache holds S+W, the window cache the S+W most recent (default 252)", 1, 1048576, NULL},
        {"--policies", OPT_STR, &policies, "which caches to run, comma-separated (default dense,window,sinks)", 0, 0, NULL},
        {"--seed", OPT_INT, &seed, "seed of the task (default 1)", 0, 2147483647, "-s"},
        {"--csv", OPT_STR, &csv, "write policy,question,distance,tokens_back,answer_pos,answer,picked,correct,logp", 0, 0,
         NULL},
        {"--values", OPT_STR, &values, "write KEY = value lines (accuracy per policy and distance) for the book", 0, 0,
         NULL},
        THREADS_OPT(threads),
        DEVICE_OPT(device),
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    int pr = parse_opts(argc, argv, opts,
                        "usage: sinks streameval [options]\n\n"
                        "A stream of facts (\"The lamp has number 3.\") with a question every few facts about the\n"
                        "one d facts back, answered by likelihood among candidate numbers, for dense, window and\n"
                        "sinks caches of equal size.");
    if (pr) return pr > 0 ? EXIT_OK : EXIT_USAGE;
    int dist[EVAL_MAX_DISTANCES], nd = cli_int_list(distances, dist, EVAL_MAX_DISTANCES);
    Error err = {{0}};
    EvalSpec spec = {lines, every, dist, nd, cands, (uint64_t)seed};
    EvalTask task;
    if (evaltask_init(&task, &spec, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        return EXIT_USAGE;
    }
    set_threads(threads);
    Loaded L;
    if (load_model_weights(&L, resolve_model(model), NULL, 1, weights_for(weights, device))) {
        evaltask_free(&task);
        return EXIT_INPUT;
    }
    Policy pols[3] = {{.kind = POLICY_DENSE, .n_sink = 0, .window = 0, .chunk = 0, .reference_prefill = 0}, {.kind = POLICY_WINDOW, .n_sink = 0, .window = sinks + window, .chunk = 0, .reference_prefill = 0}, {.kind = POLICY_SINKS, .n_sink = sinks, .window = window, .chunk = 0, .reference_prefill = 0}};
    EvalOutcome *out[3] = {NULL, NULL, NULL};
    EvalTokens et;
    int rc = EXIT_USAGE;
    memset(&et, 0, sizeof et);
    for (int k = 0; k < 3; k++)
        if (policy_validate(&pols[k], &L.model.cfg, 0, &err)) goto done;
    rc = EXIT_INPUT;
    if (evaltokens_init(&et, &task, &L.tok, &err)) goto done;
    printf("command: sinks streameval --lines %d --every %d --distances %s --candidates %d --sinks %d --window %d "
           "--seed %d\n\n", lines, every, distances, cands, sinks, window, seed);
    printf("%d facts, %d questions, %d tokens; chance %.0f%% (1 in %d candidates)\n\n", lines, task.n_questions,
           et.ids.n, 100.0 / cands, cands);
    fflush(stdout);
    double t0 = now_seconds();
    // One stream per policy: the whole task is fed through the cache, the questions scored where
    // they stand. Dense keeps every token (it gets a cache as long as the stream).
    for (int k = 0; k < 3; k++) {
        char label[64];
        policy_label(label, sizeof label, &pols[k]);
        if (!strstr(policies, policy_name(pols[k].kind))) continue;
        Stream st;
        if (stream_open(&st, &L.model, &pols[k], et.ids.n, device, &err)) goto done;
        out[k] = calloc((size_t)task.n_questions + 1, sizeof(EvalOutcome));
        int r = out[k] ? streameval_run(out[k], &st, &task, &et, cli_progress() ? label : NULL, &err)
                       : err_set(&err, "out of memory");
        stream_free(&st);
        if (r) goto done;
    }
    // the table last, so that a caption can follow it where the book includes this output
    printf("%.0f s for the streams on %d thread(s).\n\n", now_seconds() - t0, omp_get_max_threads());
    print_table(stdout, &task, &et, out, pols, L.model.cfg.ctx_len);
    rc = EXIT_IO;
    if (csv) {
        FILE *f = fopen(csv, "w");
        if (!f) {
            err_set(&err, "%s: cannot write", csv);
            goto done;
        }
        fprintf(f, "policy,question,distance,tokens_back,answer_pos,answer,picked,correct,logp\n");
        for (int k = 0; k < 3; k++)
            for (int qi = 0; out[k] && qi < task.n_questions; qi++) {
                const EvalQuestion *q = &task.q[qi];
                fprintf(f, "%s,%d,%d,%d,%d,%d,%d,%d,%.4f\n", policy_name(pols[k].kind), qi, q->distance,
                        et.answer_pos[qi] - et.fact_start[q->target], et.answer_pos[qi], q->answer, out[k][qi].picked,
                        out[k][qi].correct, out[k][qi].lp_answer);
            }
        if (cli_close(f, csv)) goto done;
    }
    if (values) {
        FILE *f = fopen(values, "w");
        if (!f) {
            err_set(&err, "%s: cannot write", values);
            goto done;
        }
        write_values(f, &task, &et, out, pols);
        if (cli_close(f, values)) goto done;
    }
    rc = cli_check_write(stdout, "stdout") ? EXIT_IO : EXIT_OK;
done:
    if (rc != EXIT_OK && err.msg[0]) fprintf(stderr, "error: %s\n", err.msg);
    for (int k = 0; k < 3; k++) free(out[k]);
    evaltokens_free(&et);
    evaltask_free(&task);
    loaded_free(&L);
    return rc;
}
