// The command line as a hostile (or just careless) user meets it: junk and out-of-range numbers
// for every numeric option of every command, llama.cpp's short flags and --opt=value, "did you
// mean", --version, documented exit codes, write errors on every writing command, signals that
// must not lose --out text or CSV rows, ppl and chat interrupted, a llama2.c model that ends its
// story with BOS. Each case runs the CLI binary ($SINKS_CLI) with a time limit: a hang fails.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static char tmpdir[256];

static const char *cli(void) {
    const char *c = getenv("SINKS_CLI");
    ck_assert_msg(c != NULL, "SINKS_CLI is not set (run the tests through make)");
    return c;
}
static const char *stories(void) { return path_join(shared_dir(), "models/stories260K/stories260K.bin"); }
static const char *novel(void) { return path_join(shared_dir(), "data/war-and-peace.txt"); }
static const char *tmp(const char *name) { return path_join(tmpdir, name); }
// Seconds a case may take: sanitizer builds run several times slower.
static int limit(int seconds) { return (int)time_limit(seconds); } // scaled in one place: testutil.h

static char *slurp(const char *path) {
    Error e = {{0}};
    char *s = read_text_file(path, NULL, &e);
    return s ? s : strdup("");
}

typedef struct {
    int code;        // exit status, or 128 + signal when killed (the time limit kills with 9)
    char *out, *err; // what it wrote to stdout and stderr
} Run;

static void run_free(Run *r) { free(r->out), free(r->err); }

// `sinks ARGS < stdin_path` with stdout and stderr to files, under a time limit.
static Run run_in(const char *args, const char *stdin_path, int seconds) {
    char cmd[8192];
    // our redirections first: those in args (">/dev/full", "2>&1") come later and win
    snprintf(cmd, sizeof cmd, "timeout -s KILL %d %s <%s >%s 2>%s %s", limit(seconds), cli(),
             stdin_path ? stdin_path : "/dev/null", tmp("out"), tmp("err"), args);
    int st = system(cmd);
    Run r = {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), slurp(tmp("out")), slurp(tmp("err"))};
    ck_assert_msg(r.code != 137, "`sinks %s` ran past its %d s limit", args, limit(seconds));
    return r;
}
static Run run(const char *args) { return run_in(args, NULL, 60); }

static int lines_in(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

// A usage error: exit 2, and one line on stderr that starts "error:" and holds the needles.
static void expect_usage_error2(const char *args, const char *needle, const char *needle2) {
    Run r = run(args);
    ck_assert_msg(r.code == 2, "`sinks %s`: exit %d, wanted 2 (stderr: %s)", args, r.code, r.err);
    ck_assert_msg(strncmp(r.err, "error: ", 7) == 0 && lines_in(r.err) == 1, "`sinks %s`: stderr '%s'", args, r.err);
    ck_assert_msg(strstr(r.err, needle) != NULL, "`sinks %s` said '%s', wanted '%s'", args, r.err, needle);
    ck_assert_msg(!needle2 || strstr(r.err, needle2), "`sinks %s` said '%s', wanted '%s'", args, r.err, needle2);
    ck_assert_msg(r.out[0] == '\0', "`sinks %s` printed '%s' before refusing", args, r.out);
    run_free(&r);
}
static void expect_usage_error(const char *args, const char *needle) { expect_usage_error2(args, needle, NULL); }

// ---- numbers ---------------------------------------------------------------------------------

// Every numeric option of every command, with the range it must accept (written here from the
// commands' meaning, not read back from the program).
typedef struct {
    const char *cmd, *opt;
    long lo, hi;
    int list; // comma-separated
} NumOpt;

static const NumOpt NUMERIC[] = {
    {"generate", "--n-predict", 0, 100000000, 0}, {"generate", "--report", 1, 1000000000, 0},
    {"generate", "--top-k", 0, 1000000, 0},       {"generate", "--seed", 0, 2147483647, 0},
    {"generate", "--threads", 0, 1024, 0},        {"generate", "--sinks", 0, 65536, 0},
    {"generate", "--window", 1, 16777216, 0},     {"generate", "--chunk", 0, 65536, 0},
    {"chat", "--n-predict", 1, 100000000, 0},     {"chat", "--top-k", 0, 1000000, 0},
    {"chat", "--seed", 0, 2147483647, 0},         {"chat", "--threads", 0, 1024, 0},
    {"chat", "--sinks", 0, 65536, 0},             {"chat", "--window", 1, 16777216, 0},
    {"chat", "--chunk", 0, 65536, 0},             {"ppl", "--tokens", 0, 1000000000, 0},
    {"ppl", "--skip", 0, 1000000000, 0},          {"ppl", "--threads", 0, 1024, 0},
    {"ppl", "--sinks", 0, 65536, 0},              {"ppl", "--window", 1, 16777216, 0},
    {"ppl", "--chunk", 0, 65536, 0},              {"memory", "--tokens", 1, 1000000000, 0},
    {"memory", "--threads", 0, 1024, 0},          {"memory", "--sinks", 0, 65536, 0},
    {"memory", "--window", 1, 16777216, 0},       {"memory", "--chunk", 0, 65536, 0},
    {"speed", "--caches", 8, 65536, 1},           {"speed", "--n-predict", 1, 100000, 0},
    {"speed", "--recompute-steps", 1, 10000, 0},  {"speed", "--threads", 0, 1024, 0},
    {"streameval", "--distances", 1, 116, 1},     {"streameval", "--lines", 2, 100000, 0},
    {"streameval", "--candidates", 2, 10, 0},
    {"streameval", "--every", 1, 100000, 0},      {"streameval", "--sinks", 0, 65536, 0},
    {"streameval", "--window", 1, 1048576, 0},    {"streameval", "--seed", 0, 2147483647, 0},
    {"streameval", "--threads", 0, 1024, 0},      {"attn", "--tokens", 2, 1048576, 0},
    {"attn", "--skip", 0, 1000000000, 0},         {"attn", "--size", 16, 1024, 0},
    {"attn", "--head-size", 16, 4096, 0},         {"attn", "--far", 0, 1048576, 0},
    {"attn", "--threads", 0, 1024, 0},            {"attn", "--sinks", 0, 65536, 0},
    {"attn", "--window", 1, 16777216, 0},         {"attn", "--chunk", 0, 65536, 0},
    {"collapse", "--skip", 0, 1000000000, 0},     {"collapse", "--sinks", 1, 65536, 0},
    {"collapse", "--window", 1, 65536, 0},        {"collapse", "--after", 16, 1000000, 0},
    {"collapse", "--layer", 0, 4096, 0},          {"collapse", "--smooth", 1, 1000000, 0},
    {"collapse", "--threads", 0, 1024, 0},        {"plot", "--width", 200, 8000, 0},
    {"plot", "--height", 150, 8000, 0},           {"plot", "--tokens", 2, 24, 0},
    {"plot", "--cache", 2, 23, 0},                {"plot", "--sinks", 1, 22, 0},
    {"bench", "--threads", 1, 1024, 1},
    {"bench", "--prompt", 1, 1048576, 0},         {"bench", "--n-predict", 2, 1048576, 0},
    {"bench", "--window", 1, 1048576, 0},         {"bench", "--depth", 0, 1048576, 0},
    {"speed", "--stream-at", 1, 100000000, 1},
    {"gpucheck", "--tokens", 2, 10000000, 0},
    {"gpucheck", "--n-predict", 0, 1000000, 0},   {"gpucheck", "--threads", 0, 1024, 0},
    {"gpucheck", "--sinks", 0, 65536, 0},         {"gpucheck", "--window", 1, 16777216, 0},
    {"gpucheck", "--chunk", 0, 65536, 0},         {"train", "--vocab", 4, 65536, 0},
    {"generate", "--stride", 1, 65536, 0},        {"chat", "--stride", 1, 65536, 0},
    {"ppl", "--stride", 1, 65536, 0},             {"memory", "--stride", 1, 65536, 0},
    {"attn", "--stride", 1, 65536, 0},            {"gpucheck", "--stride", 1, 65536, 0},
    {"train", "--triggers", 0, 65536, 0},         {"train", "--layers", 1, 64, 0},
    {"train", "--dim", 2, 4096, 0},               {"train", "--heads", 1, 256, 0},
    {"train", "--hidden", 0, 16384, 0},           {"train", "--seq-len", 2, 4096, 0},
    {"train", "--batch", 1, 4096, 0},             {"train", "--steps", 1, 100000000, 0},
    {"train", "--warmup", 0, 100000000, 0},       {"train", "--seed", 0, 2000000000, 0},
    {"train", "--checkpoints", 1, 60, 0},         {"train", "--far", 1, 4096, 0},
    {"train", "--eval-batch", 1, 4096, 0},        {"train", "--show-layer", -1, 63, 0},
    {"train", "--show-head", -1, 255, 0},         {"train", "--stream-tokens", 0, 10000000, 0},
    {"train", "--threads", 0, 1024, 0},
};
#define N_NUMERIC (int)(sizeof NUMERIC / sizeof NUMERIC[0])

START_TEST(numeric_junk_overflow_and_ranges_refused) {
    for (int i = 0; i < N_NUMERIC; i++) {
        const NumOpt *o = &NUMERIC[i];
        char bad[8][64];
        int nb = 0;
        snprintf(bad[nb++], 64, "abc");
        snprintf(bad[nb++], 64, "12abc");
        snprintf(bad[nb++], 64, "99999999999999999999999");
        snprintf(bad[nb++], 64, "%ld", o->hi + 1);
        snprintf(bad[nb++], 64, "%ld", o->lo - 1);
        snprintf(bad[nb++], 64, "''");
        if (o->list) snprintf(bad[nb++], 64, "%ld,abc", o->lo), snprintf(bad[nb++], 64, "%ld,,%ld", o->lo, o->lo);
        for (int k = 0; k < nb; k++) {
            char args[1024], needle[128], range[64];
            snprintf(args, sizeof args, "%s %s %s", o->cmd, o->opt, bad[k]);
            snprintf(needle, sizeof needle, "%s wants", o->opt);
            snprintf(range, sizeof range, "%ld..%ld", o->lo, o->hi); // said, so the user knows what to type
            expect_usage_error2(args, needle, range);
        }
        char args[512];
        snprintf(args, sizeof args, "%s %s=abc", o->cmd, o->opt);
        expect_usage_error(args, o->opt);
        snprintf(args, sizeof args, "%s %s", o->cmd, o->opt);
        expect_usage_error(args, "needs a value");
    }
}
END_TEST

// The table above covers every numeric option each command's --help lists: a new option
// without a range test fails here.
START_TEST(every_numeric_option_is_in_the_table) {
    Run cmds = run("--commands");
    ck_assert_int_eq(cmds.code, 0);
    int checked = 0;
    for (char *c = strtok(cmds.out, "\n"); c; c = strtok(NULL, "\n")) {
        char name[64], args[128];
        snprintf(name, sizeof name, "%s", c);
        snprintf(args, sizeof args, "%s --help", name);
        Run h = run(args);
        ck_assert_msg(h.code == 0, "%s --help: exit %d", name, h.code);
        for (char *p = h.out; (p = strstr(p, "--")) != NULL; p += 2) {
            char opt[64], kind[16];
            if (sscanf(p, "%63s %15s", opt, kind) != 2 || (strcmp(kind, "N") && strcmp(kind, "N,N,..") && strcmp(kind, "X")))
                continue;
            if (!strcmp(kind, "X")) continue; // floats: temperature, top-p, nmse, vline (below)
            int found = 0;
            for (int i = 0; i < N_NUMERIC; i++) found |= !strcmp(NUMERIC[i].cmd, name) && !strcmp(NUMERIC[i].opt, opt);
            ck_assert_msg(found, "`sinks %s %s N` has no range test", name, opt);
            checked++;
        }
        run_free(&h);
    }
    ck_assert_int_ge(checked, N_NUMERIC);
    run_free(&cmds);
    // floats: out of range, junk, inf and nan
    const char *fl[][2] = {{"generate --temperature -1", "--temperature wants a number in 0..100"},
                           {"generate --temp nan", "--temp wants a number"},
                           {"chat --top-p 1.5", "--top-p wants a number in 0..1"},
                           {"generate --top-p inf", "--top-p wants"},
                           {"gpucheck --nmse -1", "--nmse wants a number in 0..1"},
                           {"plot --vline 1e99", "--vline wants a number"}};
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) expect_usage_error(fl[i][0], fl[i][1]);
}
END_TEST

// ---- spellings -------------------------------------------------------------------------------

START_TEST(short_flags_and_equals_form_mean_the_long_options) {
    char a[2048], b[2048];
    snprintf(a, sizeof a, "generate --model %s --prompt \"Once upon\" --n-predict 12 --seed 3 --threads 1 --temperature 0.8 --quiet",
             stories());
    Run long_form = run(a);
    ck_assert_msg(long_form.code == 0 && strlen(long_form.out) > 10, "%s: %s", a, long_form.err);
    const char *variants[] = {"-m %s -p \"Once upon\" -n 12 -s 3 -t 1 --temp 0.8 -q",
                              "--model=%s --prompt=\"Once upon\" --n-predict=12 --seed=3 --threads=1 --temperature=0.8 --quiet",
                              "-m=%s -p=\"Once upon\" --steps 12 -s=3 -t=1 --temp=0.8 -q"};
    for (size_t i = 0; i < 3; i++) {
        char fmt[512];
        snprintf(fmt, sizeof fmt, "generate %s", variants[i]);
        snprintf(b, sizeof b, fmt, stories());
        Run r = run(b);
        ck_assert_msg(r.code == 0 && strcmp(r.out, long_form.out) == 0, "`%s` gave '%s', the long form '%s'", b, r.out,
                      long_form.out);
        run_free(&r);
    }
    // the prompt from a file and from stdin (-f -) is the prompt given with -p
    FILE *f = fopen(tmp("prompt.txt"), "w");
    fputs("Once upon", f);
    fclose(f);
    snprintf(b, sizeof b, "generate -m %s -f %s -n 12 -s 3 -t 1 --temp 0.8 -q", stories(), tmp("prompt.txt"));
    Run r = run(b);
    ck_assert_msg(r.code == 0 && strcmp(r.out, long_form.out) == 0, "-f FILE: '%s'", r.out);
    run_free(&r);
    snprintf(b, sizeof b, "generate -m %s -f - -n 12 -s 3 -t 1 --temp 0.8 -q", stories());
    r = run_in(b, tmp("prompt.txt"), 60);
    ck_assert_msg(r.code == 0 && strcmp(r.out, long_form.out) == 0, "-f -: '%s'", r.out);
    run_free(&r);
    run_free(&long_form);
    // a flag takes no value; a missing prompt file is an input error naming it
    expect_usage_error("generate --quiet=1", "--quiet takes no value");
    snprintf(b, sizeof b, "generate -m %s -f /nonexistent/prompt.txt", stories());
    r = run(b);
    ck_assert_msg(r.code == 1 && strstr(r.err, "/nonexistent/prompt.txt"), "exit %d: %s", r.code, r.err);
    run_free(&r);
}
END_TEST

START_TEST(did_you_mean) {
    expect_usage_error("genrate", "did you mean 'generate'?");
    expect_usage_error("stremeval", "did you mean 'streameval'?");
    expect_usage_error("ppl --windw 5", "did you mean '--window'?");
    expect_usage_error("generate --n-predcit 5", "did you mean '--n-predict'?");
    expect_usage_error("chat --sytem x", "did you mean '--system'?");
    Run r = run("frobnicate");
    ck_assert_msg(r.code == 2 && !strstr(r.err, "did you mean"), "no near command, no guess: %s", r.err);
    run_free(&r);
}
END_TEST

START_TEST(version_help_and_exit_codes) {
    const char *v[] = {"--version", "version"};
    for (int i = 0; i < 2; i++) {
        Run r = run(v[i]);
        ck_assert_msg(r.code == 0 && strncmp(r.out, "sinks ", 6) == 0 && lines_in(r.out) == 1, "%s: '%s'", v[i], r.out);
        run_free(&r);
    }
    Run h = run("--help");
    ck_assert_int_eq(h.code, 0);
    const char *codes[] = {"exit status", "  1 ", "  2 ", "  3 ", "130"};
    for (int i = 0; i < 5; i++) ck_assert_msg(strstr(h.out, codes[i]), "--help does not document '%s'", codes[i]);
    run_free(&h);
    char args[1024];
    // 1: input (a model that is not there), 2: usage, 3: output
    snprintf(args, sizeof args, "generate --model %s/nonexistent.gguf", tmpdir);
    Run r = run(args);
    ck_assert_msg(r.code == 1 && strstr(r.err, "nonexistent.gguf"), "missing model: exit %d %s", r.code, r.err);
    run_free(&r);
    r = run("ppl");
    ck_assert_msg(r.code == 2 && strstr(r.err, "--file"), "ppl without --file: exit %d %s", r.code, r.err);
    run_free(&r);
    r = run("--help >/dev/full");
    ck_assert_msg(r.code == 3 && strstr(r.err, "stdout"), "--help >/dev/full: exit %d %s", r.code, r.err);
    run_free(&r);
    // attn's help says its real default policy, once
    r = run("attn --help");
    ck_assert_msg(strstr(r.out, "(default dense)") && !strstr(r.out, "default sinks"), "attn --help: %s", r.out);
    run_free(&r);
}
END_TEST

// ---- output that must not be lost --------------------------------------------------------------

START_TEST(write_errors_are_reported_for_every_writing_command) {
    const char *m = stories();
    char cases[12][1200];
    const char *names[12];
    int n = 0;
    names[n] = "/dev/full", snprintf(cases[n++], 1200, "generate --model %s --prompt Once --steps 30 --quiet --out /dev/full", m);
    names[n] = "stdout", snprintf(cases[n++], 1200, "generate --model %s --prompt Once --steps 30 --quiet >/dev/full", m);
    names[n] = "/dev/full", snprintf(cases[n++], 1200, "ppl --model %s --file %s --max-tokens 2000 --quiet --csv /dev/full", m, novel());
    names[n] = "stdout", snprintf(cases[n++], 1200, "ppl --model %s --file %s --max-tokens 200 --quiet >/dev/full", m, novel());
    names[n] = "/dev/full",
    snprintf(cases[n++], 1200, "collapse --model %s --file %s --sinks 4 --window 12 --after 16 --csv /dev/full --out %s", m, novel(),
             tmp("c.png"));
    names[n] = "/dev/full",
    snprintf(cases[n++], 1200, "collapse --model %s --file %s --sinks 4 --window 12 --after 16 --out /dev/full", m, novel());
    names[n] = "stdout", snprintf(cases[n++], 1200, "tokenize --model %s --text 'Once upon a time' >/dev/full", m);
    names[n] = "stdout", snprintf(cases[n++], 1200, "inspect --model %s >/dev/full", m);
    names[n] = "/dev/full", snprintf(cases[n++], 1200, "attn --model %s --prompt 'Once upon a time there was' --out-dir /dev/full", m);
    names[n] = "/dev/full", snprintf(cases[n++], 1200, "plot --csv %s --x a --y b --out /dev/full", tmp("xy.csv"));
    names[n] = "stdout", snprintf(cases[n++], 1200, "chat --model %s --max-reply 10 >/dev/full", m);
    FILE *f = fopen(tmp("xy.csv"), "w");
    fputs("a,b\n1,2\n2,3\n", f);
    fclose(f);
    f = fopen(tmp("chat.txt"), "w");
    fputs("Once upon a time\n", f);
    fclose(f);
    struct stat st;
    ck_assert_msg(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode), "/dev/full is not the device here");
    for (int i = 0; i < n; i++) {
        Run r = run_in(cases[i], tmp("chat.txt"), 60);
        // a failed PNG write once removed its path: as root, the /dev/full device itself
        ck_assert_msg(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode), "`sinks %s` removed /dev/full", cases[i]);
        ck_assert_msg(r.code == 3, "`sinks %s`: exit %d, wanted 3 (stderr: %s)", cases[i], r.code, r.err);
        ck_assert_msg(strstr(r.err, "error: ") && strstr(r.err, names[i]), "`sinks %s`: '%s' does not name %s", cases[i],
                      r.err, names[i]);
        run_free(&r);
    }
}
END_TEST

// Starts `sinks args` with stdout to out_path (or to a pipe whose read end is returned in *pipe_rd).
static pid_t spawn(const char *args, const char *out_path, int *pipe_rd) {
    int fds[2] = {-1, -1};
    if (pipe_rd) ck_assert(pipe(fds) == 0);
    if (out_path) unlink(out_path); // an old file's size must not count as new output
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        // Check's own handlers (its SIGINT one kills the test's process group) are not ours
        signal(SIGINT, SIG_DFL), signal(SIGTERM, SIG_DFL), signal(SIGHUP, SIG_DFL);
        int out = pipe_rd ? fds[1] : open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(tmp("spawn.err"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        dup2(out, 1), dup2(err, 2), dup2(in, 0);
        if (pipe_rd) close(fds[0]);
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "exec %s %s", cli(), args);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    if (pipe_rd) close(fds[1]), *pipe_rd = fds[0];
    return pid;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

// Waits until path holds at least `bytes`, or fails after the limit.
static void wait_for_bytes(const char *path, long bytes, pid_t pid, int seconds) {
    double t0 = (double)time(NULL);
    while (file_size(path) < bytes) {
        ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "the command ended before writing %ld bytes to %s", bytes, path);
        ck_assert_msg(time(NULL) - t0 < limit(seconds), "%s: no %ld bytes after %d s", path, bytes, limit(seconds));
        usleep(20000);
    }
}

// Exit status of pid (1000 + N if signal N killed it), killing it after the limit.
static int wait_exit(pid_t pid, int seconds) {
    for (int i = 0; i < limit(seconds) * 50; i++) {
        int st;
        // killed by a signal is not the same as exiting with 128+N after saving the work
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ck_abort_msg("the command did not exit within %d s", limit(seconds));
    return -1;
}

START_TEST(term_hup_and_pipe_keep_the_out_text) {
    char args[1200];
    snprintf(args, sizeof args, "generate --model %s --prompt '' --endless --steps 0 --quiet --threads 1 --out %s", stories(), tmp("gen.txt"));
    const int sigs[] = {SIGTERM, SIGHUP, SIGINT};
    for (int k = 0; k < 3; k++) {
        unlink(tmp("gen.txt"));
        pid_t pid = spawn(args, tmp("gen.stdout"), NULL);
        wait_for_bytes(tmp("gen.stdout"), 2000, pid, 60);
        kill(pid, sigs[k]);
        int code = wait_exit(pid, 30);
        ck_assert_msg(code == 128 + sigs[k], "signal %d: exit %d, wanted %d", sigs[k], code, 128 + sigs[k]);
        // --out holds every token that reached stdout (stdout ends with the final newline)
        char *out = slurp(tmp("gen.txt")), *so = slurp(tmp("gen.stdout"));
        ck_assert_msg(strlen(out) >= 2000, "signal %d: --out has %zu bytes", sigs[k], strlen(out));
        ck_assert_msg(strlen(so) == strlen(out) + 1 && strncmp(so, out, strlen(out)) == 0,
                      "signal %d: --out (%zu bytes) is not what stdout got (%zu bytes)", sigs[k], strlen(out), strlen(so));
        free(out), free(so);
    }
    // a closed pipe: stdout's reader goes away after 300 bytes; --out keeps at least those
    int rd;
    pid_t pid = spawn(args, NULL, &rd);
    char got[300];
    size_t n = 0;
    while (n < sizeof got) {
        ssize_t k = read(rd, got + n, sizeof got - n);
        ck_assert_msg(k > 0, "the pipe ended after %zu bytes", n);
        n += (size_t)k;
    }
    close(rd);
    int code = wait_exit(pid, 30);
    ck_assert_msg(code == 3, "closed pipe: exit %d, wanted 3 (an output error)", code);
    char *out = slurp(tmp("gen.txt")), *err = slurp(tmp("spawn.err"));
    ck_assert_msg(strlen(out) >= n && memcmp(out, got, n) == 0, "closed pipe: --out lost text (%zu bytes)", strlen(out));
    ck_assert_msg(strstr(err, "stdout") && strstr(err, "Broken pipe"), "closed pipe: stderr '%s'", err);
    free(out), free(err);
}
END_TEST

START_TEST(ppl_interrupted_prints_its_table_and_a_complete_csv) {
    char args[1200];
    snprintf(args, sizeof args, "ppl --model %s --file %s --threads 1 --csv %s", stories(), novel(), tmp("ppl.csv"));
    unlink(tmp("ppl.csv"));
    pid_t pid = spawn(args, tmp("ppl.out"), NULL);
    wait_for_bytes(tmp("ppl.csv"), 8192, pid, 60);
    kill(pid, SIGINT);
    int code = wait_exit(pid, 30);
    ck_assert_msg(code == 130, "ppl after Ctrl-C: exit %d", code);
    char *out = slurp(tmp("ppl.out")), *csv = slurp(tmp("ppl.csv"));
    char *all = strstr(out, "| all | ");
    ck_assert_msg(all != NULL, "no table after Ctrl-C: '%s'", out);
    int scored = atoi(all + 8);
    ck_assert_msg(scored > 100, "table of %d tokens", scored);
    // the CSV: a header and one whole row per scored token, each position,token,nll; it ends a line
    ck_assert_msg(strncmp(csv, "position,token,nll\n", 19) == 0, "CSV header");
    ck_assert_int_eq(lines_in(csv), scored + 1);
    ck_assert(csv[strlen(csv) - 1] == '\n');
    double sum = 0;
    int pos = 0, tok, rows = 0;
    for (char *l = strchr(csv, '\n') + 1; *l; l = strchr(l, '\n') + 1) {
        double nll;
        ck_assert_msg(sscanf(l, "%d,%d,%lf", &pos, &tok, &nll) == 3 && pos == rows + 1, "CSV row %d: %.40s", rows, l);
        sum += nll, rows++;
    }
    // the table's perplexity is that of the rows the CSV holds
    double ppl = 0;
    ck_assert(sscanf(strstr(all + 8, "| ") + 2, "%lf", &ppl) == 1);
    ck_assert_msg(fabs(ppl - exp(sum / rows)) < 1e-3 * ppl, "table %.3f, CSV %.3f", ppl, exp(sum / rows));
    free(out), free(csv);
}
END_TEST

// ---- chat ------------------------------------------------------------------------------------

START_TEST(chat_ctrl_c_stops_the_reply_and_keeps_the_conversation) {
    // the default model writes long replies: time to interrupt one (stories260K ends them in ms)
    const char *model = default_model();
    if (!model || access(model, R_OK) != 0) {
        printf("chat Ctrl-C through a pipe: skipped, no default model ($SINKS_MODEL)\n");
        return;
    }
    char fifo[300], args[1500];
    snprintf(fifo, sizeof fifo, "%s", tmp("chat.fifo"));
    unlink(fifo);
    ck_assert(mkfifo(fifo, 0600) == 0);
    snprintf(args, sizeof args, "chat --model %s --max-reply 4000 --threads 1 < %s", model, fifo);
    pid_t pid = spawn(args, tmp("chat.out"), NULL);
    int w = open(fifo, O_WRONLY);
    ck_assert(w >= 0);
    const char *q = "Write a very long story about a lighthouse keeper.\n";
    ck_assert(write(w, q, strlen(q)) == (ssize_t)strlen(q));
    wait_for_bytes(tmp("chat.out"), 40, pid, 120);
    kill(pid, SIGINT);
    usleep(300000);
    const char *rest = "/stats\n";
    ck_assert(write(w, rest, strlen(rest)) == (ssize_t)strlen(rest));
    close(w); // end of input: chat ends normally
    int code = wait_exit(pid, 120);
    char *out = slurp(tmp("chat.out")), *err = slurp(tmp("spawn.err"));
    ck_assert_msg(code == 0, "chat: exit %d (%s)", code, err);
    ck_assert_msg(strstr(err, "reply stopped"), "no word of the stopped reply: '%s'", err);
    char *st = strstr(out, "[turns 1 |");
    ck_assert_msg(st != NULL, "the conversation was not kept: '%s'", out);
    long seen;
    ck_assert(sscanf(strstr(st, "tokens seen"), "tokens seen %ld", &seen) == 1);
    ck_assert_msg(seen < 2000, "the reply went on after Ctrl-C: %ld tokens seen", seen);
    free(out), free(err);
}
END_TEST

START_TEST(chat_on_a_terminal_ctrl_c_at_the_prompt_exits) {
    int fd;
    pid_t pid = forkpty(&fd, NULL, NULL, NULL);
    ck_assert(pid >= 0);
    if (pid == 0) {
        signal(SIGINT, SIG_DFL), signal(SIGTERM, SIG_DFL);
        execl(cli(), "sinks", "chat", "--model", stories(), "--max-reply", "20", "--threads", "1", (char *)NULL);
        _exit(127);
    }
    // at the first prompt /help; at the second, the up arrow and Enter: libedit's history brings
    // /help back (without line editing the arrow's bytes would be a message); at the third, Ctrl-C
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    char buf[65536];
    size_t n = 0;
    int prompts = 0;
    for (int i = 0; i < limit(60) * 100 && prompts < 3; i++) {
        ssize_t k = read(fd, buf + n, sizeof buf - n - 1);
        if (k > 0) {
            n += (size_t)k, buf[n] = '\0';
            int p = 0;
            for (char *s = buf; (s = strstr(s, "> ")) != NULL; s += 2) p++;
            if (p > prompts && p == 1) ck_assert(write(fd, "/help\r", 6) == 6);
            if (p > prompts && p == 2) ck_assert(write(fd, "\x1b[A\r", 4) == 4);
            prompts = p;
        } else {
            usleep(10000);
        }
    }
    ck_assert_msg(prompts >= 3, "no third prompt: '%s'", buf);
    int helps = 0;
    for (char *s = buf; (s = strstr(s, "/reset  forget")) != NULL; s++) helps++;
    ck_assert_msg(helps == 2, "/help, then the up arrow: %d command lists in '%s'", helps, buf);
    ck_assert(write(fd, "\x03", 1) == 1); // the terminal turns it into SIGINT
    int code = wait_exit(pid, 30);
    ck_assert_msg(code == 130, "Ctrl-C at the prompt: exit %d (1000+N: killed by signal N)", code);
    close(fd);
}
END_TEST

START_TEST(chat_dense_full_cache_says_so_on_its_own_line) {
    FILE *f = fopen(tmp("turns.txt"), "w");
    for (int i = 0; i < 12; i++) fputs("Once upon a time there was a little dog\n", f);
    fclose(f);
    char args[1200];
    snprintf(args, sizeof args, "chat --model %s --policy dense --max-reply 200 --threads 1", stories());
    Run r = run_in(args, tmp("turns.txt"), 60);
    ck_assert_msg(r.code == 0, "chat dense: exit %d (%s)", r.code, r.err);
    char *e = strstr(r.err, "error: the dense cache is full");
    ck_assert_msg(e != NULL && (e == r.err || e[-1] == '\n'), "stderr: '%s'", r.err);
    ck_assert_msg(strstr(e, "--policy sinks"), "does not name chat's option: '%s'", e);
    // the reply before it ended its line on stdout
    ck_assert(r.out[strlen(r.out) - 1] == '\n');
    run_free(&r);
}
END_TEST

// ---- models and output formats ---------------------------------------------------------------

START_TEST(llama2c_story_ends_at_bos) {
    char args[1200];
    snprintf(args, sizeof args, "generate --model %s --prompt 'Once' --steps 3000 --threads 1", stories());
    Run r = run(args);
    ck_assert_int_eq(r.code, 0);
    long decoded = -1;
    char *d = strstr(r.err, "decode ");
    ck_assert(d && sscanf(d, "decode %ld tokens", &decoded) == 1);
    // stories260K ends a story after a few hundred tokens with BOS (id 1): there it stops
    ck_assert_msg(decoded > 20 && decoded < 3000, "decoded %ld tokens", decoded);
    run_free(&r);
    snprintf(args, sizeof args, "tokenize --model %s --text 'Once upon a time' --pieces", stories());
    r = run(args);
    ck_assert_msg(r.code == 0 && strstr(r.out, "\t\" upon\"") && strstr(r.out, "\t\" time\""),
                  "pieces do not show their leading space: '%s'", r.out);
    run_free(&r);
}
END_TEST

START_TEST(reports_do_not_split_words) {
    char args[1200];
    // stdout and stderr into one file, as on a terminal
    snprintf(args, sizeof args, "generate --model %s --prompt '' --endless --steps 600 --report 50 --threads 1 2>&1", stories());
    Run r = run(args);
    ck_assert_int_eq(r.code, 0);
    int reports = 0;
    for (char *p = r.out; (p = strstr(p, "\n[")) != NULL; p++) {
        char *end = strstr(p, "]\n");
        if (!end || strncmp(p, "\n[prefill", 9) == 0) continue;
        ck_assert_msg(strstr(p, "tokens |") && strstr(p, "cache ") && strstr(p, "+"), "report: %.80s", p);
        ck_assert_msg(end[2] == ' ' || end[2] == '\n', "a word goes on after the report: %.100s", p);
        reports++;
    }
    ck_assert_msg(reports >= 8, "%d reports in %s", reports, r.out);
    run_free(&r);
}
END_TEST

START_TEST(json_output_parses) {
    char args[1200];
    snprintf(args, sizeof args, "ppl --model %s --file %s --max-tokens 300 --threads 1 --json", stories(), novel());
    Run r = run(args);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(r.code == 0 && j, "ppl --json: '%s'", r.out);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "tokens")->valueint, 300);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "sinks")->valueint, 4);
    double ppl = cJSON_GetObjectItem(j, "perplexity")->valuedouble;
    cJSON_Delete(j);
    run_free(&r);
    snprintf(args, sizeof args, "ppl --model %s --file %s --max-tokens 300 --threads 1", stories(), novel());
    r = run(args);
    double table = 0;
    ck_assert(sscanf(strstr(r.out, "| all | 300 | "), "| all | 300 | %lf", &table) == 1);
    ck_assert_msg(fabs(table - ppl) < 1e-3, "JSON %.4f vs table %.3f", ppl, table);
    run_free(&r);
    snprintf(args, sizeof args, "inspect --model %s --json", stories());
    r = run(args);
    j = cJSON_Parse(r.out);
    ck_assert_msg(r.code == 0 && j, "inspect --json: '%s'", r.out);
    // stories260K: 5 layers, dim 64, 8 heads, 4 kv heads, vocab 512, context 512 (its header)
    ck_assert_int_eq(cJSON_GetObjectItem(j, "layers")->valueint, 5);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "dim")->valueint, 64);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "kv_heads")->valueint, 4);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "vocab_size")->valueint, 512);
    cJSON_Delete(j);
    run_free(&r);
    snprintf(args, sizeof args, "bench --model %s --json --threads 1 --prompt 16 --steps 4", stories());
    r = run_in(args, NULL, 120);
    j = cJSON_Parse(r.out);
    ck_assert_msg(r.code == 0 && j, "bench --json: '%s'", r.out);
    cJSON *runs = cJSON_GetObjectItem(j, "runs");
    ck_assert_int_eq(cJSON_GetArraySize(runs), 1);
    ck_assert(cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 0), "decode_tok_s")->valuedouble > 0);
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

// --window is W recent tokens everywhere: collapse's two caches hold S+W, the first eviction
// comes after S+W tokens.
START_TEST(window_means_recent_tokens_everywhere) {
    char args[1200];
    snprintf(args, sizeof args, "collapse --model %s --file %s --sinks 4 --window 12 --after 16 --csv %s --out %s --threads 1", stories(),
             novel(), tmp("col.csv"), tmp("col.png"));
    Run r = run(args);
    ck_assert_msg(r.code == 0, "collapse: %s", r.err);
    // S+W = 16 tokens before the first eviction, 16 after: 32 tokens, 31 predictions
    char *csv = slurp(tmp("col.csv"));
    ck_assert_int_eq(lines_in(csv), 1 + 31);
    ck_assert_msg(strstr(r.out, "mean loss of the 15 tokens after the first eviction"), "%s", r.out);
    free(csv);
    run_free(&r);
}
END_TEST

START_TEST(completion_and_option_lists) {
    Run r = run("--completion bash");
    ck_assert_int_eq(r.code, 0);
    FILE *f = fopen(tmp("comp.bash"), "w");
    fputs(r.out, f);
    fclose(f);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "bash -n %s", tmp("comp.bash"));
    ck_assert_msg(system(cmd) == 0, "the completion script is not valid bash");
    ck_assert(strstr(r.out, "generate") && strstr(r.out, "streameval") && strstr(r.out, "--list-options"));
    run_free(&r);
    r = run("generate --list-options");
    ck_assert_msg(r.code == 0 && strstr(r.out, "--n-predict\n") && strstr(r.out, "--policy\n"), "%s", r.out);
    run_free(&r);
    // `make help` names every target the Makefile has (the tests run from the source tree)
    FILE *mk = fopen("Makefile", "r");
    if (!mk) {
        printf("make help: skipped, no Makefile in the working directory\n");
        return;
    }
    int st;
    char *help = capture("make -s --no-print-directory help 2>&1", &st), line[1024];
    ck_assert_msg(st == 0, "make help: %s", help);
    int targets = 0;
    while (fgets(line, sizeof line, mk)) {
        char name[64];
        size_t len = strspn(line, "abcdefghijklmnopqrstuvwxyz0123456789-");
        if (len == 0 || len >= sizeof name || line[len] != ':' || line[len + 1] == '=') continue;
        snprintf(name, sizeof name, "%.*s", (int)len, line);
        int found = 0;
        for (char *p = help; (p = strstr(p, name)) != NULL && !found; p++)
            found = (p == help || strchr(" (", p[-1])) && !strchr("abcdefghijklmnopqrstuvwxyz-", p[len] ? p[len] : ' ');
        ck_assert_msg(found, "`make help` does not mention the target '%s'", name);
        targets++;
    }
    fclose(mk);
    ck_assert_int_gt(targets, 10);
    free(help);
}
END_TEST

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sinks-hostile-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    signal(SIGPIPE, SIG_IGN);
    const TTest *tests[] = {numeric_junk_overflow_and_ranges_refused,
                            every_numeric_option_is_in_the_table,
                            short_flags_and_equals_form_mean_the_long_options,
                            did_you_mean,
                            version_help_and_exit_codes,
                            write_errors_are_reported_for_every_writing_command,
                            term_hup_and_pipe_keep_the_out_text,
                            ppl_interrupted_prints_its_table_and_a_complete_csv,
                            chat_ctrl_c_stops_the_reply_and_keeps_the_conversation,
                            chat_on_a_terminal_ctrl_c_at_the_prompt_exits,
                            chat_dense_full_cache_says_so_on_its_own_line,
                            llama2c_story_ends_at_bos,
                            reports_do_not_split_words,
                            json_output_parses,
                            window_means_recent_tokens_everywhere,
                            completion_and_option_lists};
    int rc = run_tests("hostile_cli", 300, tests, (int)(sizeof tests / sizeof *tests));
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) return 1;
    return rc;
}
