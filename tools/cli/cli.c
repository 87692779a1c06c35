#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include "mapfile.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void print_usage(const Opt *opts, const char *usage) {
    printf("%s\n\noptions:\n", usage);
    for (const Opt *o = opts; o->name; o++) {
        const char *arg = o->type == OPT_INT ? " N" : o->type == OPT_FLOAT ? " X" : o->type == OPT_STR ? " S" : "";
        char left[48];
        snprintf(left, sizeof left, "%s%s", o->name, arg);
        printf("  %-22s %s\n", left, o->help);
    }
    printf("  %-22s %s\n", "--help", "show this help");
}

int parse_opts(int argc, char **argv, const Opt *opts, const char *usage) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(opts, usage);
            return 1;
        }
        const Opt *o = opts;
        while (o->name && strcmp(o->name, argv[i]) != 0) o++;
        if (!o->name) {
            fprintf(stderr, "error: unknown option '%s' (see --help)\n", argv[i]);
            return -1;
        }
        if (o->type == OPT_FLAG) {
            *(int *)o->dst = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "error: option %s needs a value\n", o->name);
            return -1;
        }
        const char *v = argv[++i];
        char *end;
        errno = 0;
        if (o->type == OPT_INT) {
            long x = strtol(v, &end, 10);
            if (*v == '\0' || *end || errno || x < -2147483647L || x > 2147483647L) {
                fprintf(stderr, "error: option %s wants an integer, got '%s'\n", o->name, v);
                return -1;
            }
            *(int *)o->dst = (int)x;
        } else if (o->type == OPT_FLOAT) {
            float x = strtof(v, &end);
            if (*v == '\0' || *end || errno || !isfinite(x)) {
                fprintf(stderr, "error: option %s wants a number, got '%s'\n", o->name, v);
                return -1;
            }
            *(float *)o->dst = x;
        } else {
            *(const char **)o->dst = v;
        }
    }
    return 0;
}

const char *resolve_model(const char *opt) {
    if (opt) return opt;
    const char *env = getenv("SINKS_MODEL");
    if (env && *env) return env;
    static char path[4096];
    const char *home = getenv("HOME");
    snprintf(path, sizeof path, "%s/.cache/streaming-sinks/SmolLM2-135M-Instruct.Q4_1.gguf", home ? home : ".");
    return path;
}

int load_model_and_tokenizer(Loaded *l, const char *model_path, const char *tokenizer_path, int need_tokenizer) {
    Error err = {{0}};
    memset(l, 0, sizeof *l);
    if (model_load(&l->model, model_path, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        if (!strstr(err.msg, ":") || strstr(err.msg, "no such file")) fprintf(stderr, "hint: run `make model` to fetch the default model\n");
        return -1;
    }
    if (need_tokenizer && tokenizer_load(&l->tok, model_path, tokenizer_path, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        model_free(&l->model);
        return -1;
    }
    return 0;
}

void loaded_free(Loaded *l) {
    tokenizer_free(&l->tok);
    model_free(&l->model);
}

void set_threads(int n) {
    if (n > 0) omp_set_num_threads(n);
}

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

long peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int policy_from_opts(Policy *p, const PolicyOpts *o, const Config *cfg) {
    Error err = {{0}};
    memset(p, 0, sizeof *p);
    if (policy_parse(&p->kind, o->name, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        return -1;
    }
    p->n_sink = o->sinks;
    p->window = o->window;
    if (p->window < 0) { // not given: the paper's 4+1020, shrunk to fit a shorter trained context
        int sinks = p->kind == POLICY_SINKS ? p->n_sink : 0;
        p->window = cfg->ctx_len - sinks < 1020 ? cfg->ctx_len - sinks : 1020;
    }
    p->chunk = o->chunk;
    p->reference_prefill = o->reference_prefill;
    if (policy_validate(p, cfg, o->force, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        return -1;
    }
    return 0;
}

long current_rss_kb(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int has_chat_template(const Tokenizer *t) { return tokenizer_find(t, "<|im_start|>") >= 0; }

int token_ends_turn(const Tokenizer *t, int id) {
    for (int i = 0; i < 4; i++)
        if (t->eot_ids[i] == id) return 1;
    return 0;
}

// ANCHOR: chat_template
char *chatml_turn(const char *role, const char *text) {
    size_t n = strlen(role) + strlen(text) + 32;
    char *s = malloc(n);
    if (s) snprintf(s, n, "<|im_start|>%s\n%s<|im_end|>\n", role, text);
    return s;
}

char *build_prompt(const Tokenizer *t, const char *prompt, const char *system, int raw) {
    if (raw || !has_chat_template(t)) return strdup(prompt);
    char *sys = chatml_turn("system", system), *user = chatml_turn("user", prompt);
    size_t n = (sys ? strlen(sys) : 0) + (user ? strlen(user) : 0) + 32;
    char *s = sys && user ? malloc(n) : NULL;
    if (s) snprintf(s, n, "%s%s<|im_start|>assistant\n", sys, user);
    free(sys);
    free(user);
    return s;
}
// END: chat_template

int load_for_streaming(Loaded *L, Policy *pol, const char *model, const char *tokenizer, const PolicyOpts *po,
                       int threads) {
    set_threads(threads);
    if (load_model_and_tokenizer(L, resolve_model(model), tokenizer, 1)) return 1;
    if (policy_from_opts(pol, po, &L->model.cfg)) {
        loaded_free(L);
        return 2;
    }
    return 0;
}

int tokenize_file(const Tokenizer *t, const char *path, int add_bos, TokenList *out, Error *err) {
    size_t len;
    char *text = read_text_file(path, &len, err);
    if (!text) return -1;
    int rc = tokenizer_encode(t, text, len, add_bos, out, err);
    free(text);
    return rc;
}

// -log p(target) from logits[V], in double precision.
double nll_of(const float *logits, int V, int target) {
    double max = logits[0], sum = 0;
    for (int i = 1; i < V; i++) max = logits[i] > max ? logits[i] : max;
    for (int i = 0; i < V; i++) sum += exp((double)logits[i] - max);
    return log(sum) + max - logits[target];
}

int feed_with_progress(Stream *st, const int *toks, int n, double *nll, const char *what, Error *err) {
    int V = st->model->cfg.vocab_size, B = 64, rc = 0;
    float *logits = malloc((size_t)(nll ? B : 1) * V * sizeof(float));
    if (!logits) return err_set(err, "out of memory");
    double t0 = now_seconds();
    for (int i = 0; i < n && !rc; i += B) {
        int b = n - i < B ? n - i : B;
        rc = stream_feed(st, toks + i, b, logits, nll != NULL, err);
        for (int t = 0; !rc && nll && t < b && i + t + 1 < n; t++)
            nll[i + t] = nll_of(logits + (size_t)t * V, V, toks[i + t + 1]);
        fprintf(stderr, "\r%s: %d/%d tokens  %.1f tok/s   ", what, i + b, n, (i + b) / (now_seconds() - t0));
    }
    fprintf(stderr, "\n");
    free(logits);
    return rc;
}
