// test_kernels: `sinks kernels`, the kernel lab, as a user meets it, on any machine: `list`
// prints every registered version (no GPU needed), an unknown op or version is a usage error
// (exit 2) naming what exists, and `check`/`bench` without a CUDA device exit 4 saying why. On
// a machine with a GPU the checks run instead (and `make test-gpu`'s SINKS_REQUIRE_GPU=1 turns
// a missing device into a failure, as in test_gpu). The expected versions are written here from
// the kernels in gpu/*.cu, not read back from the registry.
#define _GNU_SOURCE
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char tmpdir[256];

typedef struct {
    int code;
    char *out, *err;
} Run;

static void run_free(Run *r) { free(r->out), free(r->err); }

// `sinks ARGS`: exit status, stdout and stderr, under a time limit (a GPU check takes seconds).
static Run run(const char *args) {
    const char *sinks = getenv("SINKS_CLI");
    ck_assert_msg(sinks != NULL, "SINKS_CLI is not set (run the tests through make)");
    char cmd[2048], *err_path = path_join(tmpdir, "err");
    int limit = (int)time_limit(120), st;
    snprintf(cmd, sizeof cmd, "timeout -s KILL %d %s %s </dev/null 2>%s", limit, sinks, args, err_path);
    Run r = {0, capture(cmd, &st), read_text_file(err_path, NULL, NULL)};
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (!r.err) r.err = strdup("");
    ck_assert_msg(r.code != 137, "`sinks %s` ran past its %d s limit", args, limit);
    return r;
}

static int lines_in(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

// Exit 2, one line on stderr starting "error:" with every needle in it, nothing on stdout.
static void expect_usage_error(const char *args, const char *const *needles) {
    Run r = run(args);
    ck_assert_msg(r.code == 2, "`sinks %s`: exit %d, wanted 2 (stderr: %s)", args, r.code, r.err);
    ck_assert_msg(strncmp(r.err, "error: ", 7) == 0 && lines_in(r.err) == 1, "`sinks %s`: stderr '%s'", args, r.err);
    for (; *needles; needles++)
        ck_assert_msg(strstr(r.err, *needles), "`sinks %s` said '%s', wanted '%s'", args, r.err, *needles);
    ck_assert_msg(r.out[0] == '\0', "`sinks %s` printed '%s' before refusing", args, r.out);
    run_free(&r);
}

// Every kernel version the GPU code has (gpu/*.cu dispatchers and gpu/faults.cu).
static const struct {
    const char *op;
    int version;
    const char *status;
} VERSIONS[] = {
    {"matmul", 1, "ready"},      {"matmul", 2, "ready"},      {"matmul", 3, "ready"},
    {"rmsnorm", 1, "ready"},     {"rmsnorm", 2, "ready"},     {"layernorm", 1, "ready"},
    {"layernorm", 2, "ready"},   {"softmax", 1, "ready"},     {"softmax", 2, "ready"},
    {"softmax", 3, "template"},  {"softmax", 101, "fault"},   {"softmax", 102, "fault"},
    {"attention", 1, "ready"},   {"attention", 2, "ready"},   {"attention", 5, "template"},
    {"attention", 101, "fault"},
    {"attention", 102, "fault"}, {"attention_ring", 3, "ready"}, {"attention_ring", 4, "ready"},
    {"matvec_q4_1", 1, "ready"}, {"matvec_q4_1", 2, "template"},
};
#define N_VERSIONS (int)(sizeof VERSIONS / sizeof VERSIONS[0])

START_TEST(list_prints_every_version) {
    Run r = run("kernels list");
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    for (int i = 0; i < N_VERSIONS; i++) {
        char head[96];
        snprintf(head, sizeof head, "%s v%d [%s] ", VERSIONS[i].op, VERSIONS[i].version, VERSIONS[i].status);
        char *p = strstr(r.out, head);
        ck_assert_msg(p && (p == r.out || p[-1] == '\n'), "`kernels list` has no line starting '%s'", head);
        // its next two lines: the kernel and the reference, the limits and their reason
        char *l2 = strchr(p, '\n'), *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
        ck_assert_msg(l2 && l3 && !strncmp(l2 + 1, "    kernel: ", 12) && strstr(l2, "checked against ") < l3,
                      "%s: no kernel/reference line", head);
        ck_assert_msg(!strncmp(l3 + 1, "    limits: atol ", 17), "%s: no limits line", head);
        char *open = strchr(l3 + 1, '('), *end = strchr(l3 + 1, '\n');
        ck_assert_msg(open && end && open < end && end - open > 10, "%s: the limits give no reason", head);
    }
    ck_assert_int_eq(lines_in(r.out), 3 * N_VERSIONS); // and nothing else
    printf("ok kernels list: %d versions, each with kernel, reference, limits and reason\n", N_VERSIONS);
    run_free(&r);
}
END_TEST

START_TEST(unknown_versions_and_ops_refused) {
    expect_usage_error("kernels check softmax 9",
                       (const char *[]){"softmax has no version 9", "versions: 1-2", "template: 3", NULL});
    expect_usage_error("kernels bench softmax 9", (const char *[]){"softmax has no version 9", "1-2", NULL});
    expect_usage_error("kernels check matmul 4", (const char *[]){"matmul has no version 4 (versions: 1-3)", NULL});
    expect_usage_error("kernels check attention_ring 1",
                       (const char *[]){"attention_ring has no version 1 (versions: 3-4)", NULL});
    expect_usage_error("kernels check layernorm 100", (const char *[]){"layernorm has no version 100 (versions: 1-2)", NULL});
    expect_usage_error("kernels check softmax 0", (const char *[]){"VERSION", "1-2", "'0'", NULL});
    expect_usage_error("kernels check softmax two", (const char *[]){"VERSION", "1-2", "'two'", NULL});
    const char *ops[] = {"no kernel op 'nosuchop'", "matmul", "rmsnorm", "layernorm", "softmax", "attention_ring", NULL};
    expect_usage_error("kernels check nosuchop", ops);
    expect_usage_error("kernels bench nosuchop 1", ops);
    printf("ok unknown ops and versions: exit 2, naming those that exist\n");
}
END_TEST

START_TEST(bad_command_lines_refused) {
    expect_usage_error("kernels", (const char *[]){"list, check OP [VERSION] or bench OP [VERSION]", NULL});
    expect_usage_error("kernels chek softmax", (const char *[]){"unknown subcommand 'chek'", NULL});
    expect_usage_error("kernels list softmax", (const char *[]){"takes no arguments", NULL});
    expect_usage_error("kernels check", (const char *[]){"wants an op", "softmax", NULL});
    expect_usage_error("kernels check softmax 1 2", (const char *[]){"'2'", NULL});
    expect_usage_error("kernels list --bogus", (const char *[]){"--bogus", NULL});
    // the new exit code is documented where the others are
    Run r = run("--help");
    ck_assert_msg(r.code == 0 && strstr(r.out, "  4    no GPU"), "sinks --help does not document exit 4:\n%s", r.out);
    run_free(&r);
    r = run("kernels --help");
    ck_assert_msg(r.code == 0 && strstr(r.out, "4 no CUDA device"), "kernels --help does not document exit 4");
    run_free(&r);
}
END_TEST

// Without a device: one line saying why, exit 4, nothing on stdout. With one: every shape of
// softmax v1 and v2 passes, and the unwritten template v3 and the fault v101 fail.
START_TEST(check_and_bench_need_a_gpu) {
    Run r = run("kernels check softmax");
    if (r.code == 4) {
        ck_assert_msg(!getenv("SINKS_REQUIRE_GPU"), "SINKS_REQUIRE_GPU is set, but: %s", r.err);
        ck_assert_msg(!strncmp(r.err, "error: kernels check needs a GPU: ", 34) && lines_in(r.err) == 1, "%s", r.err);
        ck_assert_msg(r.out[0] == '\0', "printed '%s'", r.out);
        const char *more[] = {"kernels check softmax 3", "kernels check attention 101", "kernels bench matmul",
                              "kernels bench attention_ring 4"};
        for (int i = 0; i < 4; i++) {
            Run m = run(more[i]);
            ck_assert_msg(m.code == 4 && strstr(m.err, "needs a GPU") && lines_in(m.err) == 1, "`%s`: exit %d, %s",
                          more[i], m.code, m.err);
            run_free(&m);
        }
        printf("skipped kernels check on the GPU: %s", r.err); // (exit 4 and its line were checked)
        run_free(&r);
        return;
    }
    ck_assert_msg(r.code == 0, "kernels check softmax: exit %d\n%s%s", r.code, r.out, r.err);
    ck_assert_msg(strstr(r.out, "ok softmax v1 rows=9 n=1024 max|d| ") && strstr(r.out, "ok softmax v2 rows=1 n=49152 "),
                  "%s", r.out);
    ck_assert_msg(!strstr(r.out, "FAIL"), "%s", r.out);
    run_free(&r);
    const char *failing[] = {"kernels check softmax 3", "kernels check softmax 101", "kernels check attention 102"};
    for (int i = 0; i < 3; i++) {
        Run f = run(failing[i]);
        ck_assert_msg(f.code == 1 && strstr(f.out, "FAIL "), "`%s`: exit %d\n%s", failing[i], f.code, f.out);
        run_free(&f);
    }
    printf("ok kernels check on the GPU: softmax passes, the template and the faults fail\n");
}
END_TEST

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sinks-kernels-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    int rc;
    {
        const TTest *tests_[] = {list_prints_every_version, unknown_versions_and_ops_refused, bad_command_lines_refused,
                                 check_and_bench_need_a_gpu};
        rc = run_tests("kernels", 300, tests_, 4);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return rc;
}
