// common.h: what every chapter program needs: where the models are.
#ifndef CHAPTERS_COMMON_H
#define CHAPTERS_COMMON_H

#include <stdio.h>
#include <stdlib.h>

// ../shared (or $SINKS_SHARED)/models/stories260K/<file>
static inline const char *stories(const char *file) {
    static char buf[2][1024];
    static int k;
    const char *shared = getenv("SINKS_SHARED") ? getenv("SINKS_SHARED") : "../shared";
    char *b = buf[k++ % 2];
    snprintf(b, 1024, "%s/models/stories260K/%s", shared, file);
    return b;
}

// The default model, SmolLM2-135M-Instruct (`make model` fetches it).
static inline const char *default_model(void) {
    static char buf[1024];
    if (getenv("SINKS_MODEL")) return getenv("SINKS_MODEL");
    snprintf(buf, sizeof buf, "%s/.cache/streaming-sinks/SmolLM2-135M-Instruct.Q4_1.gguf", getenv("HOME") ? getenv("HOME") : ".");
    return buf;
}

#define CHECK(call, err)                                  \
    do {                                                  \
        if ((call) != 0) {                                \
            fprintf(stderr, "error: %s\n", (err).msg);    \
            return 1;                                     \
        }                                                 \
    } while (0)

// ---- command-line options: `--name value` pairs, every one with a default -------------------
#include <string.h>

typedef struct {
    const char *name;  // "--steps"
    const char *value; // the default, replaced by the command line
    const char *help;
} Opt;

// Fills o[].value from argv. --help prints the options; an unknown option or a missing value is
// a one-line error. Returns 0 to go on, 1 to exit with status *status.
static inline int opts_parse(Opt *o, int n, int argc, char **argv, const char *what, int *status) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("%s\noptions:\n", what);
            for (int k = 0; k < n; k++) printf("  %-14s %s (default: %s)\n", o[k].name, o[k].help, o[k].value);
            *status = 0;
            return 1;
        }
        int k = 0;
        while (k < n && strcmp(argv[i], o[k].name) != 0) k++;
        if (k == n || i + 1 == argc) {
            fprintf(stderr, "error: %s: %s (try --help)\n", argv[i], k == n ? "unknown option" : "needs a value");
            *status = 2;
            return 1;
        }
        o[k].value = argv[++i];
    }
    return 0;
}

static inline const char *opt_str(const Opt *o, int n, const char *name) {
    for (int k = 0; k < n; k++)
        if (strcmp(o[k].name, name) == 0) return o[k].value;
    return NULL;
}

// An integer option in [lo, hi]; a bad value is a one-line error (returns 1).
static inline int opt_int(const Opt *o, int n, const char *name, long lo, long hi, int *out) {
    const char *v = opt_str(o, n, name);
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || x < lo || x > hi) {
        fprintf(stderr, "error: %s %s: expected an integer from %ld to %ld\n", name, v ? v : "", lo, hi);
        return 1;
    }
    *out = (int)x;
    return 0;
}

#define OPTS_PARSE(o, what)                                                                     \
    do {                                                                                        \
        int status_;                                                                            \
        if (opts_parse(o, (int)(sizeof o / sizeof *o), argc, argv, what, &status_)) return status_; \
    } while (0)
#define OPT_STR(o, name) opt_str(o, (int)(sizeof o / sizeof *o), name)
#define OPT_INT(o, name, lo, hi, out)                                                           \
    do {                                                                                        \
        if (opt_int(o, (int)(sizeof o / sizeof *o), name, lo, hi, out)) return 2;                \
    } while (0)

#endif
