// sinks kernels: the kernel lab. `list` prints the registry (gpu/registry.c); `check OP [N]`
// runs a version against its ref_cpu function at every shape the tests use (gpu/kernel_check.c,
// the checker tests/test_gpu.c runs too); `bench OP [N]` times it against its bytes-moved floor
// (gpu/kernel_bench.c, as `make bench-kernels`). Parsing, then the work, then the words.
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kernel_bench.h"
#include "kernel_check.h"
#include "kernels.h"
#include "registry.h"

#define KERNELS_USAGE                                                                                        \
    "usage: sinks kernels list\n"                                                                           \
    "       sinks kernels check OP [VERSION]\n"                                                             \
    "       sinks kernels bench OP [VERSION]\n\n"                                                           \
    "The GPU kernels, by op and numbered version (gpu/registry.c): a lab for writing your own.\n"           \
    "  list   every op and version: what it does, the kernel function, the ref_cpu function it is\n"       \
    "         checked against, its limits and why (needs no GPU)\n"                                         \
    "  check  runs VERSION (every ready version when none is given) at every shape the tests use,\n"       \
    "         against the ref_cpu function, on random inputs with the output poisoned with NaN:\n"         \
    "         one line a shape, \"ok ... max|d| ... nmse ...\" or \"FAIL ...: why\". A shape passes when\n" \
    "         every element is within atol + rtol * |cpu| and the normalised squared error is\n"         \
    "         within nmse. A template version (not written yet) and a fault version (written\n"          \
    "         wrong on purpose, to show that the check catches it) fail.\n"                              \
    "  bench  times VERSION (every ready one) at the default model's shapes beside its floor: the\n"     \
    "         bytes it must move at the GPU's measured copy bandwidth\n\n"                                \
    "Adding version N of an op: the kernel and its `case N:` in gpu/OP.cu's dispatcher, its line in\n"    \
    "gpu/registry.c, then `sinks kernels check OP N`.\n\n"                                                  \
    "exit status: 0 every shape passed; 1 a shape failed, or the version is a template or a fault;\n"   \
    "2 an unknown op or version (the message names those that exist) or a bad command line;\n"           \
    "4 no CUDA device (check and bench need one; list does not)."

// `list`: every registered version, three lines each.
static int kernels_list(void) {
    int n;
    const KernelInfo *t = kernel_table(&n);
    for (int i = 0; i < n; i++) {
        const KernelInfo *k = &t[i];
        printf("%s v%d [%s] %s\n", k->op, k->version, kernel_status_name(k->status), k->desc);
        printf("    kernel: %s; checked against %s\n", k->kernel, k->ref);
        printf("    limits: atol %.0e rtol %.0e nmse %.0e (%s)\n", k->lim.atol, k->lim.rtol, k->lim.nmse, k->lim.why);
    }
    return EXIT_OK;
}

// After a check of one version: what a template or a fault means.
static void explain_status(const KernelInfo *k, int failed) {
    if (k->status == KERNEL_TEMPLATE)
        fprintf(stderr, "%s v%d is a template, not written yet: write %s, then mark it KERNEL_READY on its line in "
                        "gpu/registry.c\n", k->op, k->version, k->kernel);
    else if (k->status == KERNEL_FAULT)
        fprintf(stderr, "%s v%d is written wrong on purpose (%s): %s\n", k->op, k->version, k->desc,
                failed > 0 ? "the check caught it, as it must" : "THE CHECK DID NOT CATCH IT");
}

// The versions of op that `check OP` leaves out, named so they can be run one by one.
static void mention_others(const char *op) {
    int n;
    const KernelInfo *t = kernel_table(&n);
    for (int i = 0; i < n; i++)
        if (!strcmp(t[i].op, op) && t[i].status != KERNEL_READY)
            printf("%s v%d: %s, not checked here (sinks kernels check %s %d)\n", op, t[i].version,
                   kernel_status_name(t[i].status), op, t[i].version);
}

static int kernels_check(const char *op, int version) {
    Error err = {{0}};
    const KernelInfo *k = version ? kernel_lookup(op, version, &err) : NULL;
    int failed = version ? kernel_check(stdout, op, version, &err) : kernel_check_ready(stdout, op, &err);
    if (failed < 0) {
        fprintf(stderr, "error: %s\n", err.msg);
        return EXIT_INPUT;
    }
    if (k) explain_status(k, failed);
    else mention_others(op);
    if (failed) printf("kernels check %s: %d shape%s FAILED\n", op, failed, failed == 1 ? "" : "s");
    else printf("kernels check %s%s: every shape passed\n", op, version ? "" : " (every ready version)");
    return failed || (k && k->status != KERNEL_READY) ? EXIT_INPUT : EXIT_OK;
}

static int kernels_bench(const char *op, int version) {
    Error err = {{0}};
    if (kernel_bench(stdout, op, version, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        return EXIT_INPUT;
    }
    return EXIT_OK;
}

int cmd_kernels(int argc, char **argv) {
    // the words (list|check|bench, OP, VERSION) come out; parse_opts sees the options (--help)
    const char *word[3] = {NULL, NULL, NULL};
    int n_words = 0, n_opts = 1;
    char **opt_argv = malloc((size_t)(argc + 1) * sizeof *opt_argv);
    if (!opt_argv) {
        fprintf(stderr, "error: out of memory\n");
        return EXIT_INPUT;
    }
    opt_argv[0] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' || n_words == 3) opt_argv[n_opts++] = argv[i]; // a 4th word: parse_opts refuses it
        else word[n_words++] = argv[i];
    }
    opt_argv[n_opts] = NULL;
    Opt opts[] = {{NULL, 0, NULL, NULL, 0, 0, NULL}};
    int pr = parse_opts(n_opts, opt_argv, opts, KERNELS_USAGE);
    free(opt_argv);
    if (pr) return pr > 0 ? EXIT_OK : EXIT_USAGE;
    const char *sub = word[0], *op = word[1];
    int is_list = sub && !strcmp(sub, "list"), is_check = sub && !strcmp(sub, "check"),
        is_bench = sub && !strcmp(sub, "bench");
    if (!is_list && !is_check && !is_bench) {
        if (sub) fprintf(stderr, "error: kernels: unknown subcommand '%s': list, check OP [VERSION] or bench OP [VERSION]\n", sub);
        else fprintf(stderr, "error: kernels wants list, check OP [VERSION] or bench OP [VERSION] (see --help)\n");
        return EXIT_USAGE;
    }
    if (is_list) {
        if (op) {
            fprintf(stderr, "error: kernels list takes no arguments, got '%s'\n", op);
            return EXIT_USAGE;
        }
        return kernels_list();
    }
    Error err = {{0}};
    if (!op) {
        char ops[256];
        kernel_ops_text(ops, sizeof ops);
        fprintf(stderr, "error: kernels %s wants an op: %s\n", sub, ops);
        return EXIT_USAGE;
    }
    if (!kernel_op_known(op)) {
        kernel_lookup(op, 0, &err);
        fprintf(stderr, "error: %s\n", err.msg);
        return EXIT_USAGE;
    }
    int version = 0;
    if (word[2]) {
        char *end;
        long v = strtol(word[2], &end, 10);
        if (*word[2] == '\0' || *end || v < 1 || v > 1000000) {
            char list[256];
            kernel_versions_text(list, sizeof list, op);
            fprintf(stderr, "error: VERSION wants a version number of %s (%s), got '%s'\n", op, list, word[2]);
            return EXIT_USAGE;
        }
        version = (int)v;
        if (!kernel_lookup(op, version, &err)) {
            fprintf(stderr, "error: %s\n", err.msg);
            return EXIT_USAGE;
        }
    }
    char why[256];
    if (gpu_device_ok(why, sizeof why)) {
        fprintf(stderr, "error: kernels %s needs a GPU: %s (`sinks kernels list` needs none)\n", sub, why);
        return EXIT_NO_GPU;
    }
    return is_check ? kernels_check(op, version) : kernels_bench(op, version);
}
