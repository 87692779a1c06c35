// sinks train: train a small Llama-family model from scratch (ref_cpu/train.c) on the
// Bigram-Backcopy task or on the bytes of a text, and watch attention sinks form. At log-spaced
// steps it saves a checkpoint (a Hugging Face directory every `sinks` command reads), measures
// every head on a fixed evaluation batch, and at the end draws the pictures:
//   OUT/sinks.csv      per checkpoint and head: loss, sink scores, value and residual norms
//   OUT/loss.csv       training loss by step
//   OUT/ckpt-NNNNNN/   the checkpoints
//   --sheet PNG        one head's attention map at every checkpoint (a contact sheet)
//   --chart PNG        sink score against step for every head, and the loss
//   --stream-csv CSV   perplexity of the final model streamed past its training length under
//                      dense, window and sink caches (--stream-tokens)
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bbc_task.h"
#include "checkpoint.h"
#include "cli.h"
#include "font.h"
#include "heatmap.h"
#include "lineplot.h"
#include "mapfile.h"
#include "train.h"
#include "trainstream.h"

typedef struct {
    const char *task, *text, *out, *sheet, *chart, *stream_csv, *attn, *optim, *label, *caches;
    int vocab, triggers, layers, dim, heads, hidden, seq_len, batch, steps, warmup, seed, n_ckpt, far, threads;
    int sink_token, show_layer, show_head, stream_tokens, eval_batch, no_ckpt;
    float lr, wd;
} TrainOpts;

// Where training sequences come from: Bigram-Backcopy samples, or byte windows of a text.
typedef struct {
    int is_text;
    BbcTask bbc;
    unsigned char *bytes; // the text
    size_t n_train, n_all; // bytes [0, n_train) train; [n_train, n_all) evaluation
    int sink;             // token prepended to every sequence, or -1
} Data;

// seq[n]: one sequence (sink token first when there is one). eval: from the held-out part.
static void data_sample(const Data *d, Rng *r, int *seq, int n, int eval) {
    int off = d->sink >= 0;
    if (off) seq[0] = d->sink;
    if (!d->is_text) {
        bbc_sample(&d->bbc, r, seq + off, n - off);
        return;
    }
    size_t lo = eval ? d->n_train : 0, hi = eval ? d->n_all : d->n_train;
    size_t start = lo + (size_t)(rng_uniform(r) * (double)(hi - lo - (size_t)n));
    for (int i = off; i < n; i++) seq[i] = d->bytes[start + i - off];
}

static int is_trigger(const Data *d, int tok) { return !d->is_text && bbc_is_trigger(&d->bbc, tok); }

// ANCHOR: head_stats
// One head on the evaluation batch: the mean attention on position 0 from the queries at
// positions >= far (all of them, those on trigger tokens, the others), the mean norm of the
// first token's value vector and of the others'.
typedef struct {
    double sink, sink_trigger, sink_other, vnorm_first, vnorm_rest;
} HeadStats;

static HeadStats head_stats(const TrainModel *m, const Data *d, int l, int h, int B, int T, int far) {
    int D = m->cfg.dim, H = m->cfg.n_heads, hd = D / H;
    size_t BT = (size_t)B * T;
    HeadStats s = {0};
    double n_all = 0, n_trig = 0, n_other = 0, n_rest = 0;
    for (int b = 0; b < B; b++) {
        const real *A = m->a.att + l * BT * H * T + ((size_t)b * H + h) * T * T; // [T, T]
        for (int t = far; t < T; t++) {
            double a0 = A[(size_t)t * T];
            s.sink += a0, n_all++;
            if (is_trigger(d, m->tokens[b * T + t])) s.sink_trigger += a0, n_trig++;
            else s.sink_other += a0, n_other++;
        }
        for (int t = 0; t < T; t++) {
            const real *v = m->a.v + l * BT * D + ((size_t)b * T + t) * D + h * hd;
            double nv = 0;
            for (int i = 0; i < hd; i++) nv += v[i] * v[i];
            if (t == 0) s.vnorm_first += sqrt(nv) / B;
            else s.vnorm_rest += sqrt(nv), n_rest++;
        }
    }
    s.sink /= n_all > 0 ? n_all : 1;
    s.sink_trigger = n_trig > 0 ? s.sink_trigger / n_trig : NAN;
    s.sink_other = n_other > 0 ? s.sink_other / n_other : NAN;
    s.vnorm_rest /= n_rest > 0 ? n_rest : 1;
    return s;
}
// END: head_stats

// Mean norm of the residual stream leaving layer l at position 0, and at the other positions.
static void residual_norms(double *first, double *rest, const TrainModel *m, int l, int B, int T) {
    int D = m->cfg.dim;
    size_t BT = (size_t)B * T;
    *first = *rest = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const real *x = m->a.x + (l + 1) * BT * D + ((size_t)b * T + t) * D;
            double n2 = 0;
            for (int i = 0; i < D; i++) n2 += x[i] * x[i];
            if (t == 0) *first += sqrt(n2) / B;
            else *rest += sqrt(n2) / ((double)B * (T - 1));
        }
}

// K checkpoint steps, log-spaced from 1 to steps, with step 0 in front; returns how many.
static int log_steps(int *out, int K, int steps) {
    int n = 0;
    out[n++] = 0;
    for (int i = 0; i < K; i++) {
        int s = (int)lround(pow((double)steps, K > 1 ? (double)i / (K - 1) : 1.0));
        if (s > out[n - 1]) out[n++] = s;
    }
    return n;
}

static int draw_sheet(const char *path, const float *maps, const int *steps, const double *score, int n, int T,
                      int layer, int head, const char *what, Error *err) {
    int cell = T <= 48 ? 3 : T <= 96 ? 2 : 1, side = T * cell, cols = n < 6 ? n : 6, rows = (n + cols - 1) / cols;
    int pw = side + 16, ph = side + 30;
    char title[320];
    snprintf(title, sizeof title, "Layer %d, head %d: attention across training (%s)", layer, head, what);
    int w = 20 + cols * pw + 100, tw = text_width(title, 2) + 40;
    Image im;
    if (image_init(&im, w > tw ? w : tw, 60 + rows * ph + 10, RGB_WHITE, err)) return -1;
    draw_text(&im, 20, 10, title, 2, RGB_BLACK);
    draw_text(&im, 20, 32, "rows: queries, columns: keys (position 0 at the left); one evaluation sequence", 1,
              RGB_BLACK);
    ColorScale cs = {0, 1, 0};
    for (int i = 0; i < n; i++) {
        int x = 20 + (i % cols) * pw, y = 60 + (i / cols) * ph;
        char label[64];
        snprintf(label, sizeof label, "step %d  sink %.2f", steps[i], score[i]);
        draw_text(&im, x, y, label, 1, RGB_BLACK);
        heatmap_draw(&im, x, y + 12, maps + (size_t)i * T * T, T, T, cell, &cs);
    }
    colorbar_draw(&im, 20 + cols * pw + 10, 72, 14, rows * ph - 40, &cs, "attention");
    int rc = image_write_png(&im, path, err);
    image_free(&im);
    return rc;
}

// Three panels: sink score of the queries that do not need attention (BBC: non-trigger; text:
// all), of the trigger queries (BBC), and the evaluation loss, against the step.
static int draw_chart(const char *path, const double *sink_other, const double *sink_trig, const double *loss,
                      const int *steps, int n, int L, int H, int is_text, const char *what, Error *err) {
    int W = 900, P = 330, panels = is_text ? 2 : 3;
    Image im;
    if (image_init(&im, W, panels * P + 10, RGB_WHITE, err)) return -1;
    int nh = L * H, rc = 0;
    double *x = malloc(n * sizeof(double));
    Series *s = calloc(nh, sizeof(Series));
    char (*names)[16] = calloc(nh, sizeof *names);
    if (!x || !s || !names) rc = err_set(err, "out of memory");
    for (int i = 0; i < n && !rc; i++) x[i] = steps[i];
    char title[320];
    for (int p = 0; p < panels && !rc; p++) {
        const double *y = p == 0 ? sink_other : p == 1 && !is_text ? sink_trig : loss;
        int is_loss = y == loss, ns = is_loss ? 1 : nh;
        for (int k = 0; k < ns; k++) {
            snprintf(names[k], sizeof names[k], is_loss ? "eval loss" : "L%d H%d", k / H, k % H);
            s[k] = (Series){names[k], x + 1, y + (size_t)k * n + 1, n - 1, NULL, NULL}; // step 0 has no place on a log axis
        }
        if (p == 0)
            snprintf(title, sizeof title, "%s: sink score, %s", what, is_text ? "all queries" : "non-trigger queries");
        else if (!is_loss)
            snprintf(title, sizeof title, "%s: sink score, trigger queries", what);
        else
            snprintf(title, sizeof title, "%s: loss on the evaluation batch", what);
        PlotSpec spec = {title, "training step", is_loss ? "cross-entropy (nats)" : "attention on position 0", 1, 0,
                         is_loss ? 0 : 0, is_loss ? 0 : 1, NAN, NULL, NULL, 0};
        rc = lineplot_draw(&im, 0, p * P, W, P, &spec, s, ns, err);
    }
    if (!rc) rc = image_write_png(&im, path, err);
    free(x); free(s); free(names);
    image_free(&im);
    return rc;
}

static int load_text(Data *d, const char *path, Error *err) {
    size_t n;
    char *t = read_text_file(path, &n, err);
    if (!t) return -1;
    d->bytes = (unsigned char *)t;
    d->n_all = n;
    d->n_train = n - n / 10;
    return 0;
}

static int run(const TrainOpts *o, Error *err) {
    Data d = {0};
    d.sink = -1;
    int base_vocab;
    if (strcmp(o->task, "text") == 0) {
        if (!o->text) return err_set(err, "--task text needs --text FILE");
        if (load_text(&d, o->text, err)) return -1;
        d.is_text = 1;
        base_vocab = 256; // byte-level tokens: the model reads the text's bytes
        if (d.n_all - d.n_train < (size_t)o->seq_len * 2 || d.n_train < (size_t)o->seq_len * 2) {
            free(d.bytes);
            return err_set(err, "%s: too short for sequences of %d bytes", o->text, o->seq_len);
        }
    } else if (strcmp(o->task, "bbc") == 0) {
        if (bbc_init(&d.bbc, o->vocab, o->triggers, (uint64_t)o->seed * 7919 + 1, err)) return -1;
        base_vocab = o->vocab;
    } else {
        return err_set(err, "--task: unknown task '%s' (bbc or text)", o->task);
    }
    if (o->sink_token) d.sink = base_vocab;
    TrainConfig cfg = {base_vocab + (o->sink_token ? 1 : 0), o->dim, o->hidden > 0 ? o->hidden : 2 * o->dim, o->layers,
                       o->heads, o->seq_len, 10000.0f, 1e-5f, ATTN_SOFTMAX};
    OptimConfig opt = {OPTIM_ADAMW, o->lr, 0.9f, 0.95f, 1e-8f, o->wd, 1.0f};
    int rc = attn_kind_parse(&cfg.attn, o->attn, err);
    if (!rc && strcmp(o->optim, "sgd") == 0) opt.kind = OPTIM_SGD;
    else if (!rc && strcmp(o->optim, "adamw") != 0) rc = err_set(err, "--optim: unknown optimiser '%s' (adamw or sgd)", o->optim);
    if (!rc && o->far >= o->seq_len) rc = err_set(err, "--far %d must be below --seq-len %d", o->far, o->seq_len);
    if (!rc && (o->show_layer >= o->layers || o->show_head >= o->heads))
        rc = err_set(err, "--show-layer/--show-head: the model has %d layers of %d heads", o->layers, o->heads);
    if (!rc && mkdir(o->out, 0755) && errno != EEXIST) rc = err_set(err, "%s: cannot create: %s", o->out, strerror(errno));
    TrainModel m;
    int B = o->batch, T = o->seq_len, EB = o->eval_batch < B ? o->eval_batch : B;
    if (!rc) rc = train_init(&m, &cfg, B, T, err);
    if (rc) {
        bbc_free(&d.bbc);
        free(d.bytes);
        return -1;
    }
    train_init_weights(&m, (uint64_t)o->seed);
    int L = cfg.n_layers, H = cfg.n_heads, V = cfg.vocab_size, ck[64];
    int n_ck = log_steps(ck, o->n_ckpt, o->steps);
    // the evaluation batch: fixed, from its own seed (and the held-out part of a text)
    int *etok = malloc((size_t)EB * T * sizeof(int)), *etgt = malloc((size_t)EB * T * sizeof(int));
    int *tok = malloc((size_t)B * T * sizeof(int)), *tgt = malloc((size_t)B * T * sizeof(int));
    int *seq = malloc((T + 1) * sizeof(int));
    float *maps = malloc((size_t)n_ck * L * H * T * T * sizeof(float)); // eval sequence 0, every head
    double *so = malloc((size_t)L * H * n_ck * sizeof(double)), *st = malloc((size_t)L * H * n_ck * sizeof(double));
    double *sa = malloc((size_t)L * H * n_ck * sizeof(double)), *eloss = malloc(n_ck * sizeof(double));
    char path[4096];
    snprintf(path, sizeof path, "%s/sinks.csv", o->out);
    FILE *csv = fopen(path, "w");
    snprintf(path, sizeof path, "%s/loss.csv", o->out);
    FILE *lcsv = fopen(path, "w");
    if (!etok || !etgt || !tok || !tgt || !seq || !maps || !so || !st || !sa || !eloss) rc = err_set(err, "out of memory");
    else if (!csv || !lcsv) rc = err_set(err, "%s: cannot write", o->out);
    Rng er, tr;
    rng_seed(&er, (uint64_t)o->seed + 1000003);
    rng_seed(&tr, (uint64_t)o->seed + 17);
    for (int b = 0; b < EB && !rc; b++) {
        data_sample(&d, &er, seq, T + 1, 1);
        for (int t = 0; t < T; t++) etok[b * T + t] = seq[t], etgt[b * T + t] = seq[t + 1];
    }
    if (!rc) {
        fprintf(csv, "step,layer,head,loss,sink,sink_trigger,sink_other,vnorm_first,vnorm_rest,resnorm_first,resnorm_rest\n");
        fprintf(lcsv, "step,loss,lr,grad_norm\n");
    }
    double t0 = now_seconds();
    for (int step = 0, ci = 0; step <= o->steps && !rc; step++) {
        if (ci < n_ck && step == ck[ci]) { // measure and save
            double loss = train_forward(&m, etok, etgt, EB, T);
            eloss[ci] = loss;
            for (int l = 0; l < L; l++) {
                double rf, rr;
                residual_norms(&rf, &rr, &m, l, EB, T);
                for (int h = 0; h < H; h++) {
                    HeadStats s = head_stats(&m, &d, l, h, EB, T, o->far);
                    int k = l * H + h;
                    so[(size_t)k * n_ck + ci] = d.is_text ? s.sink : s.sink_other;
                    st[(size_t)k * n_ck + ci] = s.sink_trigger;
                    sa[(size_t)k * n_ck + ci] = s.sink;
                    fprintf(csv, "%d,%d,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f\n", step, l, h, loss, s.sink,
                            s.sink_trigger, s.sink_other, s.vnorm_first, s.vnorm_rest, rf, rr);
                    const real *A = m.a.att + (size_t)l * EB * T * H * T + (size_t)h * T * T; // sequence 0
                    float *dst = maps + (((size_t)ci * L + l) * H + h) * T * T;
                    for (size_t i = 0; i < (size_t)T * T; i++) dst[i] = (float)A[i];
                }
            }
            if (!o->no_ckpt) {
                snprintf(path, sizeof path, "%s/ckpt-%06d", o->out, step);
                rc = checkpoint_write(&m, path, d.sink, err);
            }
            fflush(csv); // a long run can be watched as it goes
            fprintf(stderr, "step %6d  eval loss %.4f  (%.0f s)\n", step, loss, now_seconds() - t0);
            ci++;
        }
        if (step == o->steps || rc) break;
        for (int b = 0; b < B; b++) {
            data_sample(&d, &tr, seq, T + 1, 0);
            for (int t = 0; t < T; t++) tok[b * T + t] = seq[t], tgt[b * T + t] = seq[t + 1];
        }
        double loss = train_forward(&m, tok, tgt, B, T);
        train_backward(&m);
        float lr = step < o->warmup ? o->lr * (step + 1) / o->warmup : o->lr; // linear warm-up, then constant
        double gn = optim_step(&m, &opt, lr);
        fprintf(lcsv, "%d,%.6f,%.6g,%.6f\n", step + 1, loss, lr, gn);
        if (!isfinite(loss)) rc = err_set(err, "the loss diverged at step %d (lower --lr)", step + 1);
    }
    if (!rc && (ferror(csv) || ferror(lcsv))) rc = err_set(err, "%s: write failed", o->out);
    if (csv && fclose(csv) && !rc) rc = err_set(err, "%s/sinks.csv: write failed", o->out);
    if (lcsv && fclose(lcsv) && !rc) rc = err_set(err, "%s/loss.csv: write failed", o->out);
    // the head shown: the one whose final sink score is highest, unless one was asked for
    int sl = o->show_layer, sh = o->show_head;
    if (!rc && (sl < 0 || sh < 0)) {
        int best = 0;
        for (int k = 1; k < L * H; k++)
            if (so[(size_t)k * n_ck + n_ck - 1] > so[(size_t)best * n_ck + n_ck - 1]) best = k;
        sl = best / H, sh = best % H;
    }
    char what[160];
    snprintf(what, sizeof what, "%s, %d layer%s, %s%s%s", d.is_text ? "bytes of text" : "Bigram-Backcopy", L,
             L > 1 ? "s" : "", o->attn, opt.kind == OPTIM_SGD ? ", SGD" : "", o->sink_token ? ", sink token" : "");
    if (o->label) snprintf(what, sizeof what, "%s", o->label);
    if (!rc && o->sheet) {
        float *one = malloc((size_t)n_ck * T * T * sizeof(float));
        double *sc = malloc(n_ck * sizeof(double));
        if (!one || !sc) rc = err_set(err, "out of memory");
        for (int i = 0; i < n_ck && !rc; i++) {
            memcpy(one + (size_t)i * T * T, maps + (((size_t)i * L + sl) * H + sh) * T * T, (size_t)T * T * sizeof(float));
            sc[i] = so[(size_t)(sl * H + sh) * n_ck + i];
        }
        if (!rc) rc = draw_sheet(o->sheet, one, ck, sc, n_ck, T, sl, sh, what, err);
        free(one);
        free(sc);
    }
    if (!rc && o->chart) rc = draw_chart(o->chart, so, st, eloss, ck, n_ck, L, H, d.is_text, what, err);
    if (!rc) {
        printf("%s: %d steps in %.0f s; eval loss %.4f -> %.4f; shown head L%d H%d\n", what, o->steps,
               now_seconds() - t0, eloss[0], eloss[n_ck - 1], sl, sh);
        for (int k = 0; k < L * H; k++)
            printf("  L%d H%d  sink score %s %.3f -> %.3f%s\n", k / H, k % H, d.is_text ? "(all queries)" : "(non-trigger)",
                   so[(size_t)k * n_ck], so[(size_t)k * n_ck + n_ck - 1], "");
    }
    // ANCHOR: stream_table
    // The final model reads one long held-out stream, past its training length, under each cache.
    if (!rc && o->stream_csv && o->stream_tokens > 0) {
        int n = o->stream_tokens, *s = malloc(n * sizeof(int)), S[8], W[8], nc = 0;
        double *nll = malloc(n * sizeof(double));
        FILE *f = fopen(o->stream_csv, "w");
        if (!s || !nll || !f) rc = err_set(err, "%s: cannot write", o->stream_csv);
        if (!rc) { // "S+W,S+W,...": W 0 means dense
            const char *p = o->caches;
            while (*p && nc < 8) {
                if (sscanf(p, "%d+%d", &S[nc], &W[nc]) != 2) {
                    rc = err_set(err, "--caches: '%s' is not a list of S+W", o->caches);
                    break;
                }
                nc++;
                p = strchr(p, ',');
                if (!p) break;
                p++;
            }
        }
        if (!rc) {
            Rng sr;
            rng_seed(&sr, (uint64_t)o->seed + 99991);
            if (d.is_text) { // n bytes of the held-out part, from its start
                int off = d.sink >= 0;
                if (off) s[0] = d.sink;
                for (int i = off; i < n; i++) s[i] = d.bytes[d.n_train + (size_t)(i - off) % (d.n_all - d.n_train)];
            } else {
                data_sample(&d, &sr, s, n, 1);
            }
            char name[160]; // the run's name as one CSV field
            snprintf(name, sizeof name, "%s", what);
            for (char *c = name; *c; c++) *c = *c == ',' ? ';' : *c;
            fprintf(f, "model,cache,sinks,window,tokens,ppl\n");
            for (int c = 0; c < nc && !rc; c++) {
                rc = train_stream_nll(nll, &m, s, n, S[c], W[c], err);
                double sum = 0;
                for (int i = 0; i < n - 1; i++) sum += nll[i];
                if (!rc) fprintf(f, "%s,%d+%d,%d,%d,%d,%.4f\n", name, S[c], W[c], S[c], W[c], n, exp(sum / (n - 1)));
            }
        }
        if (f && fclose(f) && !rc) rc = err_set(err, "%s: write failed", o->stream_csv);
        free(s);
        free(nll);
    }
    // END: stream_table
    (void)V;
    free(etok); free(etgt); free(tok); free(tgt); free(seq); free(maps); free(so); free(st); free(sa); free(eloss);
    bbc_free(&d.bbc);
    free(d.bytes);
    train_free(&m);
    return rc;
}

int cmd_train(int argc, char **argv) {
    TrainOpts o = {"bbc", NULL, "train-out", NULL, NULL, NULL, "softmax", "adamw", NULL, "0+0,0+32,1+31,4+28",
                   64, 3, 1, 32, 2, 0, 64, 8, 1000, 50, 1, 12, 16, 0, 0, -1, -1, 0, 8, 0, 3e-3f, 0.01f};
    Opt opts[] = {
        {"--task", OPT_STR, &o.task, "bbc (Bigram-Backcopy, default) or text (bytes of --text)", 0, 0, NULL},
        {"--text", OPT_STR, &o.text, "the text for --task text, e.g. ../shared/data/war-and-peace.txt", 0, 0, NULL},
        {"--vocab", OPT_INT, &o.vocab, "bbc: vocabulary size, BOS included (default 64)", 4, 65536, NULL},
        {"--triggers", OPT_INT, &o.triggers, "bbc: trigger tokens (default 3)", 0, 65536, NULL},
        {"--layers", OPT_INT, &o.layers, "transformer layers (default 1)", 1, 64, NULL},
        {"--dim", OPT_INT, &o.dim, "model width (default 32)", 2, 4096, NULL},
        {"--heads", OPT_INT, &o.heads, "attention heads (default 2)", 1, 256, NULL},
        {"--hidden", OPT_INT, &o.hidden, "SwiGLU width (default 2 x dim)", 0, 16384, NULL},
        {"--seq-len", OPT_INT, &o.seq_len, "training sequence length T (default 64)", 2, 4096, NULL},
        {"--batch", OPT_INT, &o.batch, "sequences per step (default 8)", 1, 4096, NULL},
        {"--steps", OPT_INT, &o.steps, "optimiser steps (default 1000)", 1, 100000000, NULL},
        {"--lr", OPT_FLOAT, &o.lr, "learning rate (default 3e-3)", 1e-9, 100, NULL},
        {"--wd", OPT_FLOAT, &o.wd, "AdamW weight decay of the matrices (default 0.01)", 0, 10, NULL},
        {"--warmup", OPT_INT, &o.warmup, "steps of linear learning-rate warm-up (default 50)", 0, 100000000, NULL},
        {"--optim", OPT_STR, &o.optim, "adamw (default) or sgd", 0, 0, NULL},
        {"--attn", OPT_STR, &o.attn, "softmax (default), softmax1 (off by one) or sigmoid", 0, 0, NULL},
        {"--sink-token", OPT_FLAG, &o.sink_token, "prepend a learnable sink token to every sequence", 0, 0, NULL},
        {"--seed", OPT_INT, &o.seed, "seed of the weights, the task and the batches (default 1)", 0, 2000000000, NULL},
        {"--checkpoints", OPT_INT, &o.n_ckpt, "log-spaced checkpoints after step 0 (default 12)", 1, 60, NULL},
        {"--no-checkpoint-files", OPT_FLAG, &o.no_ckpt, "measure at the checkpoints but write no model files", 0, 0, NULL},
        {"--far", OPT_INT, &o.far, "queries at positions >= far count toward sink scores (default 16)", 1, 4096, NULL},
        {"--eval-batch", OPT_INT, &o.eval_batch, "evaluation sequences (default 8, at most --batch)", 1, 4096, NULL},
        {"--out-dir", OPT_STR, &o.out, "directory for checkpoints and CSV files (default train-out)", 0, 0, "-o"},
        {"--sheet", OPT_STR, &o.sheet, "PNG: one head's attention map at every checkpoint", 0, 0, NULL},
        {"--chart", OPT_STR, &o.chart, "PNG: sink score of every head, and the loss, against the step", 0, 0, NULL},
        {"--show-layer", OPT_INT, &o.show_layer, "the head the sheet shows (default: highest final sink score)", -1, 63, NULL},
        {"--show-head", OPT_INT, &o.show_head, "(with --show-layer)", -1, 255, NULL},
        {"--label", OPT_STR, &o.label, "name of the run in titles and the stream CSV", 0, 0, NULL},
        {"--stream-tokens", OPT_INT, &o.stream_tokens, "stream this many held-out tokens through the final model", 0, 10000000, NULL},
        {"--stream-csv", OPT_STR, &o.stream_csv, "CSV of the stream's perplexity under each of --caches", 0, 0, NULL},
        {"--caches", OPT_STR, &o.caches, "S+W list for the stream; W 0 is dense (default 0+0,0+32,1+31,4+28)", 0, 0, NULL},
        THREADS_OPT(o.threads),
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    int p = parse_opts(argc, argv, opts, "sinks train [options]: train a small model and watch sinks form");
    if (p) return p > 0 ? EXIT_OK : EXIT_USAGE;
    set_threads(o.threads);
    Error err = {{0}};
    if (run(&o, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        return EXIT_INPUT;
    }
    return EXIT_OK;
}
