// The streaming commands end to end, driven through pipes as a user (or a script) would:
// chat keeps one cache across turns, generate --endless runs at constant memory, ppl, memory,
// speed and streameval run and report, and bad sizes are refused with one line.
#define _GNU_SOURCE
#include <sys/wait.h>

#include "testutil.h"

static char *run_cli(const char *args, const char *input, int *status) {
    const char *cli = getenv("SINKS_CLI");
    ck_assert_msg(cli != NULL, "SINKS_CLI is not set (run the tests through make)");
    char in_path[] = "/tmp/sinks-cli-in-XXXXXX", cmd[4096];
    int fd = mkstemp(in_path);
    ck_assert(fd >= 0);
    if (input) ck_assert(write(fd, input, strlen(input)) == (ssize_t)strlen(input));
    close(fd);
    snprintf(cmd, sizeof cmd, "%s %s --threads 1 < %s 2>/dev/null", cli, args, in_path);
    char *out = capture(cmd, status);
    unlink(in_path);
    return out;
}

static const char *stories(void) {
    static char p[1024];
    snprintf(p, sizeof p, "--model %s/models/stories260K/stories260K.bin", shared_dir());
    return p;
}

START_TEST(chat_carries_one_cache_across_turns) {
    char args[1200];
    snprintf(args, sizeof args, "chat %s --max-reply 20 --sinks 4 --window 60", stories());
    int st;
    char *out = run_cli(args, "Once upon a time\n/stats\nthere was a cat\n/stats\n/reset\n/stats\n", &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "chat failed: %s", out);
    long seen[3], turns[3];
    int slots[3], S[3], W[3];
    char *p = out;
    for (int i = 0; i < 3; i++) {
        p = strstr(p, "[turns");
        ck_assert_msg(p != NULL, "no /stats line %d in: %s", i, out);
        ck_assert_msg(sscanf(p, "[turns %ld | tokens seen %ld | cache %d tokens of %d+%d", &turns[i], &seen[i],
                             &slots[i], &S[i], &W[i]) == 5, "/stats line: %s", p);
        ck_assert_int_eq(S[i], 4);                // the cache is reported as S+W, as given
        ck_assert_int_eq(W[i], 60);
        p++;
    }
    ck_assert_int_gt(seen[1], seen[0]);           // the second turn added to the same cache...
    ck_assert_int_le(slots[1], 64);               // ...which stays within sinks + window
    ck_assert_int_eq(turns[1], 2);
    ck_assert_ptr_nonnull(strstr(out, "[conversation cleared]"));
    ck_assert_int_eq(seen[2], 0);                 // /reset empties it...
    ck_assert_int_eq(turns[2], 0);                // ...and counts turns from 0 again
    free(out);
}
END_TEST

START_TEST(endless_generation_keeps_going) {
    char args[1200];
    snprintf(args, sizeof args, "generate %s --prompt \"\" --endless --steps 1500 --policy sinks --sinks 4 --window 60 --quiet", stories());
    int st;
    char *out = run_cli(args, NULL, &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "generate --endless failed");
    ck_assert_int_gt(strlen(out), 3000); // 1500 tokens of a 512-token vocabulary: well over 3000 bytes
    free(out);
    snprintf(args, sizeof args, "generate %s --prompt \"\" --endless --policy dense", stories());
    out = run_cli(args, NULL, &st);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0); // dense cannot stream forever
    free(out);
}
END_TEST

START_TEST(ppl_memory_speed_streameval_run) {
    char args[1600];
    int st;
    snprintf(args, sizeof args, "ppl %s --file %s --policy sinks --sinks 4 --window 60 --quiet", stories(), fixture_path("varied.txt"));
    char *out = run_cli(args, NULL, &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "| all |"), "ppl: %s", out);
    free(out);
    snprintf(args, sizeof args, "memory %s --file %s --tokens 2000 --window 60", stories(), fixture_path("varied.txt"));
    out = run_cli(args, NULL, &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "| 2000 |"), "memory: %s", out);
    free(out);
    snprintf(args, sizeof args, "speed %s --caches 64 --steps 3 --recompute-steps 2", stories());
    out = run_cli(args, NULL, &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "| 64 |"), "speed: %s", out);
    free(out);
    snprintf(args, sizeof args, "speed %s --caches 64 --steps 3 --stream-at 100,700 --file %s", stories(),
             fixture_path("varied.txt"));
    out = run_cli(args, NULL, &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "| 100 |") && strstr(out, "| 700 |") &&
                      strstr(out, "sinks 4+60"), "speed --stream-at: %s", out);
    free(out);
    snprintf(args, sizeof args, "streameval %s --lines 12 --every 3 --distances 2 --window 60", stories());
    out = run_cli(args, NULL, &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "| 2 |"), "streameval: %s", out);
    free(out);
}
END_TEST

START_TEST(impossible_cache_sizes_refused) {
    const char *bad[][2] = {
        {"--window 600", "exceeds the model's trained context of 512"},
        {"--window 0", "--window wants an integer in 1.."},
        {"--sinks -2", "--sinks wants an integer in 0.."},
        {"--sinks 600", "--sinks 600 fills the model's trained context of 512 tokens"},
        {"--policy lru", "unknown policy 'lru'"},
        {"--window 10 --chunk 20", "--chunk 20 must not exceed --window 10"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[1600];
        snprintf(args, sizeof args, "ppl %s --file %s %s 2>&1", stories(), fixture_path("varied.txt"), bad[i][0]);
        int st;
        // stderr is wanted here: the `2>&1` in args folds it into what is captured
        char cmd[2000];
        snprintf(cmd, sizeof cmd, "%s %s", getenv("SINKS_CLI"), args);
        char *buf = capture(cmd, &st);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "%s accepted", bad[i][0]);
        ck_assert_msg(strstr(buf, bad[i][1]) != NULL, "%s: said '%s'", bad[i][0], buf);
        free(buf);
    }
}
END_TEST

int main(void) {
    RUN_TESTS("cli", 600,
              chat_carries_one_cache_across_turns,
              endless_generation_keeps_going,
              ppl_memory_speed_streameval_run,
              impossible_cache_sizes_refused);
}
