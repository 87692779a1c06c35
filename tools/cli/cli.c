#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include "mapfile.h"

#include <errno.h>
#include <signal.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

// "-n, --n-predict N" and "(also --steps)": the spellings of one option as help shows them.
static void opt_spellings(char *left, size_t n, char *also, size_t an, const Opt *o) {
    const char *arg = o->type == OPT_INT ? " N" : o->type == OPT_FLOAT ? " X" : o->type == OPT_LIST ? " N,N,.." : o->type == OPT_STR ? " S" : "";
    char shorts[64] = "";
    also[0] = '\0';
    for (const char *a = o->alias; a && *a;) {
        size_t len = strcspn(a, " ");
        char *dst = a[1] == '-' ? also : shorts;
        size_t cap = a[1] == '-' ? an : sizeof shorts, used = strlen(dst);
        snprintf(dst + used, cap - used, "%.*s, ", (int)len, a);
        a += len + (a[len] == ' ');
    }
    if (also[0]) also[strlen(also) - 2] = '\0';
    snprintf(left, n, "%s%s%s", shorts, o->name, arg);
}

static void print_usage(const Opt *opts, const char *usage) {
    printf("%s\n\noptions:\n", usage);
    for (const Opt *o = opts; o->name; o++) {
        char left[80], also[128];
        opt_spellings(left, sizeof left, also, sizeof also, o);
        printf("  %-24s %s", left, o->help);
        if (o->type == OPT_INT || o->type == OPT_LIST) printf(" [%.0f..%.0f]", o->lo, o->hi);
        else if (o->type == OPT_FLOAT) printf(" [%g..%g]", o->lo, o->hi);
        if (also[0]) printf(" (also %s)", also);
        printf("\n");
    }
    printf("  %-24s %s\n", "-h, --help", "show this help");
}

static int edit_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64) return 99;
    int row[65];
    for (size_t j = 0; j <= m; j++) row[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[m];
}

const char *cli_closest(const char *s, const char *const *names, int n) {
    const char *best = NULL;
    int best_d = 99;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(s, names[i]);
        // a typo, not another word: at most 2 edits, and fewer than a third of the name
        if (d < best_d && d <= 2 && 3 * d <= (int)strlen(names[i])) best = names[i], best_d = d;
    }
    return best;
}

// Whether arg (up to len chars) is o's name or one of its aliases.
static int opt_matches(const Opt *o, const char *arg, size_t len) {
    if (strlen(o->name) == len && strncmp(o->name, arg, len) == 0) return 1;
    for (const char *a = o->alias; a && *a;) {
        size_t l = strcspn(a, " ");
        if (l == len && strncmp(a, arg, len) == 0) return 1;
        a += l + (a[l] == ' ');
    }
    return 0;
}

static void unknown_option(const Opt *opts, const char *arg) {
    const char *names[256];
    char buf[256][48];
    int n = 0;
    for (const Opt *o = opts; o->name && n < 250; o++) {
        names[n++] = o->name;
        for (const char *a = o->alias; a && *a && n < 250;) {
            size_t l = strcspn(a, " ");
            snprintf(buf[n], sizeof buf[n], "%.*s", (int)l, a);
            names[n] = buf[n], n++;
            a += l + (a[l] == ' ');
        }
    }
    names[n++] = "--help";
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, "="), arg);
    const char *near = cli_closest(name, names, n);
    if (near) fprintf(stderr, "error: unknown option '%s'; did you mean '%s'? (see --help)\n", name, near);
    else fprintf(stderr, "error: unknown option '%s' (see --help)\n", name);
}

// One integer in [lo, hi] (decimal, optional sign, nothing after it).
static int parse_int(const char *v, double lo, double hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || end == v || *end || errno || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

int cli_int_list(const char *s, int *out, int max) {
    int n = 0;
    for (const char *p = s; p && *p && n < max;) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p) break;
        out[n++] = (int)x;
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

static int check_list(const Opt *o, const char *name, const char *v) {
    int count = 0;
    const char *p = v;
    for (;;) {
        size_t len = strcspn(p, ",");
        char item[32];
        long x;
        if (len == 0 || len >= sizeof item || ++count > CLI_MAX_LIST) break;
        memcpy(item, p, len);
        item[len] = '\0';
        if (parse_int(item, o->lo, o->hi, &x)) break;
        if (p[len] == '\0') return 0;
        p += len + 1;
    }
    fprintf(stderr, "error: option %s wants a comma-separated list of at most %d integers in %.0f..%.0f, got '%s'\n",
            name, CLI_MAX_LIST, o->lo, o->hi, v);
    return -1;
}

int parse_opts(int argc, char **argv, const Opt *opts, const char *usage) {
    for (const Opt *o = opts; o->name; o++)
        if ((o->type == OPT_INT || o->type == OPT_FLOAT || o->type == OPT_LIST) && o->lo == 0 && o->hi == 0) {
            fprintf(stderr, "error: internal: option %s has no range\n", o->name);
            return -1;
        }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_usage(opts, usage);
            return 1;
        }
        if (strcmp(arg, "--list-options") == 0) { // for the shell completion
            for (const Opt *o = opts; o->name; o++) printf("%s\n", o->name);
            printf("--help\n");
            return 1;
        }
        const char *eq = arg[0] == '-' ? strchr(arg, '=') : NULL;
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        const Opt *o = opts;
        while (o->name && !opt_matches(o, arg, len)) o++;
        if (!o->name) {
            if (arg[0] != '-') fprintf(stderr, "error: unexpected argument '%s': options start with - (see --help)\n", arg);
            else unknown_option(opts, arg);
            return -1;
        }
        char name[64]; // the option as it was spelled, for the messages
        snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), arg);
        if (o->type == OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "error: option %s takes no value, got '%s'\n", name, arg);
                return -1;
            }
            *(int *)o->dst = 1;
            continue;
        }
        if (!eq && i + 1 >= argc) {
            fprintf(stderr, "error: option %s needs a value\n", name);
            return -1;
        }
        const char *v = eq ? eq + 1 : argv[++i];
        if (o->type == OPT_INT) {
            long x;
            if (parse_int(v, o->lo, o->hi, &x)) {
                fprintf(stderr, "error: option %s wants an integer in %.0f..%.0f, got '%s'\n", name, o->lo, o->hi, v);
                return -1;
            }
            *(int *)o->dst = (int)x;
        } else if (o->type == OPT_FLOAT) {
            char *end;
            errno = 0;
            float x = strtof(v, &end);
            if (*v == '\0' || *end || errno || !isfinite(x) || x < o->lo || x > o->hi) {
                fprintf(stderr, "error: option %s wants a number in %g..%g, got '%s'\n", name, o->lo, o->hi, v);
                return -1;
            }
            *(float *)o->dst = x;
        } else if (o->type == OPT_LIST) {
            if (check_list(o, name, v)) return -1;
            *(const char **)o->dst = v;
        } else {
            *(const char **)o->dst = v;
        }
    }
    return 0;
}

// ---- signals and output ----------------------------------------------------------------------

static volatile sig_atomic_t stop_signal; // the one piece of global state: a signal handler's flag

static void on_stop_signal(int sig) {
    if (stop_signal == sig) { // the second one: stop now
        signal(sig, SIG_DFL);
        raise(sig);
    }
    stop_signal = sig;
}

void cli_catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a blocking read returns EINTR, so chat's prompt notices
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cli_stop_signal(void) { return stop_signal; }
void cli_clear_stop(void) { stop_signal = 0; }

int cli_write_failed(FILE *f, const char *path, int errnum) {
    static int stdout_reported; // said once, though each command and main() check it
    if (f == stdout && stdout_reported++) return EXIT_IO;
    fprintf(stderr, "error: %s: cannot write (%s)\n", path, errnum ? strerror(errnum) : "write error");
    return EXIT_IO;
}

int cli_check_write(FILE *f, const char *path) {
    if (!f) return 0;
    errno = 0;
    if (fflush(f) == 0 && !ferror(f)) return 0;
    return cli_write_failed(f, path, errno);
}

int cli_close(FILE *f, const char *path) {
    if (!f) return 0;
    int rc = cli_check_write(f, path);
    errno = 0;
    if (fclose(f) != 0 && !rc) {
        fprintf(stderr, "error: %s: cannot write (%s)\n", path, errno ? strerror(errno) : "write error");
        rc = EXIT_IO;
    }
    return rc;
}

int cli_progress(void) { return isatty(2); }

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
    return load_model_weights(l, model_path, tokenizer_path, need_tokenizer, NULL);
}

int load_model_weights(Loaded *l, const char *model_path, const char *tokenizer_path, int need_tokenizer,
                       const char *weights) {
    Error err = {{0}};
    memset(l, 0, sizeof *l);
    if (weights && strcmp(weights, "fp32") != 0 && strcmp(weights, "native") != 0) {
        fprintf(stderr, "error: --weights: unknown kind '%s' (fp32 or native)\n", weights);
        return -2;
    }
    WeightsKind kind = weights && strcmp(weights, "fp32") == 0 ? WEIGHTS_FP32 : WEIGHTS_NATIVE;
    if (model_load_as(&l->model, model_path, kind, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        if (!strstr(err.msg, ":") || strstr(err.msg, "no such file")) fprintf(stderr, "hint: run `make model` to fetch the default model\n");
        return -1;
    }
    if (need_tokenizer && tokenizer_load(&l->tok, model_path, tokenizer_path, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        model_free(&l->model);
        return -1;
    }
    if (need_tokenizer && tokenizer_check_model(&l->tok, l->model.cfg.vocab_size, model_path, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        loaded_free(l);
        return -1;
    }
    return 0;
}

void loaded_free(Loaded *l) {
    tokenizer_free(&l->tok);
    model_free(&l->model);
}

void set_threads(int n) {
    int cores = omp_get_num_procs();
    if (n > 4 * cores) // allowed, but each step then waits on hundreds of threads sharing a few cores
        fprintf(stderr, "warning: --threads %d on %d cores will run far slower than --threads %d\n", n, cores, cores);
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
        int sinks = policy_def(p->kind)->takes_sinks ? p->n_sink : 0;
        if (cfg->ctx_len - sinks < 1) {
            fprintf(stderr, "error: --sinks %d fills the model's trained context of %d tokens, leaving no room for "
                    "recent tokens: give fewer sinks, or --window W (with --force to go past the context)\n",
                    sinks, cfg->ctx_len);
            return -1;
        }
        p->window = cfg->ctx_len - sinks < POLICY_PAPER_WINDOW ? cfg->ctx_len - sinks : POLICY_PAPER_WINDOW;
    }
    p->chunk = o->chunk;
    p->reference_prefill = o->reference_prefill;
    p->stride = o->stride;
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

// End of text: an end-of-turn id, or BOS, with which llama2.c models start the next story.
int token_ends_turn(const Tokenizer *t, int id) {
    if (t->bos_id >= 0 && id == t->bos_id) return 1;
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
    int lr = load_model_weights(L, resolve_model(model), tokenizer, 1, weights_for(po->weights, po->device));
    if (lr) return lr == -2 ? 2 : 1;
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
        if (cli_progress())
            fprintf(stderr, "\r%s: %d/%d tokens  %.1f tok/s   ", what, i + b, n, (i + b) / (now_seconds() - t0));
    }
    if (cli_progress()) fprintf(stderr, "\n");
    free(logits);
    return rc;
}
