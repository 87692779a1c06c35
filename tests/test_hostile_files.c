// Hostile files, as a user who tries to break the readers would write them: runs of text that
// make BPE merging quadratic, tokenizers with 100,000 special tokens, FIFOs and devices where a
// file belongs, models and tokenizers that do not belong together, headers that claim more (or
// less) than their file holds. Each gives a one-line error naming the file, or the right answer,
// in bounded time. (The same suite runs under ASan + UBSan; time limits scale by
// test_time_mult() from testutil.h.)
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gguf.h"
#include "llama2c.h"
#include "model.h"
#include "safetensors.h"
#include "badfile.h"
#include "testutil.h"
#include "tokenizer.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) { return path_join(tmpdir, name); }

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}


static uint32_t rng = 12345;
static uint32_t next_rand(void) { return rng = rng * 1664525u + 1013904223u; }

// n random bytes drawn from `alphabet` (NUL-terminated, so it can be printed)
static char *random_text(size_t n, const char *alphabet) {
    size_t k = strlen(alphabet);
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++) s[i] = alphabet[(next_rand() >> 8) % k];
    s[n] = '\0';
    return s;
}

static Tokenizer neox_tok(void) {
    Tokenizer t;
    Error err = {{0}};
    ck_assert_msg(tokenizer_from_json(&t, path_join(shared_dir(), "tokenizers/gpt-neox-20b/tokenizer.json"), &err) == 0,
                  "%s", err.msg);
    return t;
}

static Tokenizer smollm2_tok(void) {
    Tokenizer t;
    Error err = {{0}};
    ck_assert_msg(default_model() != NULL, "SINKS_MODEL is not set");
    ck_assert_msg(tokenizer_from_gguf(&t, default_model(), &err) == 0, "%s", err.msg);
    return t;
}

static Tokenizer stories_tok(void) {
    Tokenizer t;
    Error err = {{0}};
    ck_assert_msg(tokenizer_from_llama2c(&t, path_join(shared_dir(), "models/stories260K/tok512.bin"), &err) == 0,
                  "%s", err.msg);
    return t;
}

static const char *stories_bin(void) { return path_join(shared_dir(), "models/stories260K/stories260K.bin"); }

// ---------------------------------------------------------------------------------------------
// 1. Long words: merging must be O(n log n), and give the ids of the simple scans.

// Encodes text[n] and returns the seconds it took; the ids go to *out.
static double timed_encode(const Tokenizer *t, const char *text, size_t n, TokenList *out) {
    Error err = {{0}};
    double t0 = seconds();
    ck_assert_msg(tokenizer_encode(t, text, n, 0, out, &err) == 0, "%s", err.msg);
    return seconds() - t0;
}

// 1 MB without a space: before the heap, 40 KB took 50 s and 1 MB would take hours.
START_TEST(megabyte_word_in_bounded_time) {
    Tokenizer toks[3] = {neox_tok(), smollm2_tok(), stories_tok()};
    const char *names[3] = {"gpt-neox", "smollm2", "stories260K"};
    const size_t n = 1 << 20;
    const char *alphabets[3] = {"abcdefghijklmnopqrstuvwxyz", "a", "\xC3\xA9\xE6\x97\xA5"}; // letters, one letter, é and 日
    for (int a = 0; a < 3; a++) {
        char *text = random_text(n, alphabets[a]);
        if (a == 2) // whole characters: é (2 bytes) and 日 (3 bytes), repeated
            for (size_t i = 0; i + 5 <= n; i += 5) memcpy(text + i, "\xC3\xA9\xE6\x97\xA5", 5);
        size_t len = a == 2 ? n / 5 * 5 : n;
        for (int k = 0; k < 3; k++) {
            TokenList ids = {0};
            double s = timed_encode(&toks[k], text, len, &ids);
            ck_assert_msg(s < time_limit(10.0), "%s: 1 MB word %d took %.1f s (limit %.1f s)", names[k], a, s, time_limit(10.0));
            ck_assert_msg(ids.n > 0 && (size_t)ids.n <= len, "%s: %d ids for %zu bytes", names[k], ids.n, len);
            char *back = tokenizer_decode(&toks[k], ids.ids, ids.n);
            ck_assert_msg(strlen(back) >= len && memcmp(back + strlen(back) - len, text, len) == 0,
                          "%s: the 1 MB word does not decode back to itself", names[k]);
            free(back);
            tokenlist_free(&ids);
        }
        free(text);
    }
    for (int k = 0; k < 3; k++) tokenizer_free(&toks[k]);
}
END_TEST

// The heap merges give exactly the ids of the simple O(n^2) scans (the previous algorithm, kept
// as t->simple_merges = 1) on medium texts of every kind: words, one repeated letter, random
// bytes, mixed scripts, the traps of varied.txt.
START_TEST(heap_merges_equal_simple_scans) {
    Tokenizer toks[3] = {neox_tok(), smollm2_tok(), stories_tok()};
    Error err = {{0}};
    size_t vn;
    char *varied = read_text_file(fixture_path("varied.txt"), &vn, &err);
    ck_assert_msg(varied != NULL, "%s", err.msg);
    char bytes[256 + 1];
    for (int i = 0; i < 256; i++) bytes[i] = (char)(i ? i : 1);
    bytes[256] = '\0';
    const char *alphabets[] = {"abcdefghijklmnopqrstuvwxyz", "a", "ab", "aab", "thequickbrownfox", bytes,
                               "ab c\xC3\xA9\xE6\x97\xA5" "0123 ", "   \n\t"};
    int cases = 0;
    for (size_t a = 0; a < sizeof alphabets / sizeof *alphabets; a++)
        for (int rep = 0; rep < 3; rep++) {
            size_t n = 200 + (next_rand() >> 8) % 3000;
            char *text = a == 0 && rep == 0 ? strdup(varied) : random_text(n, alphabets[a]);
            if (a == 0 && rep == 0) n = vn;
            for (int k = 0; k < 3; k++) {
                TokenList fast = {0}, slow = {0};
                toks[k].simple_merges = 0;
                timed_encode(&toks[k], text, n, &fast);
                toks[k].simple_merges = 1;
                timed_encode(&toks[k], text, n, &slow);
                toks[k].simple_merges = 0;
                ck_assert_msg(fast.n == slow.n, "tokenizer %d, alphabet %zu: %d ids, the simple scans give %d", k, a,
                              fast.n, slow.n);
                for (int i = 0; i < fast.n; i++)
                    ck_assert_msg(fast.ids[i] == slow.ids[i], "tokenizer %d, alphabet %zu: id %d is %d, the simple scans give %d",
                                  k, a, i, fast.ids[i], slow.ids[i]);
                tokenlist_free(&fast);
                tokenlist_free(&slow);
                cases++;
            }
            free(text);
        }
    ck_assert_int_eq(cases, 8 * 3 * 3);
    free(varied);
    for (int k = 0; k < 3; k++) tokenizer_free(&toks[k]);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// 2. 100,000 added tokens: loading and encoding stay fast, and the longest one wins.

enum { N_ADDED = 100000 };

// A tokenizer.json: the letters a-z (ids 0-25), "ab" (26) from the merge "a b", then the added
// tokens <x000000>..<x099999> (ids 100 + i), "<x>" (99) and "<x>y" (98).
static char *many_added_json(size_t *len) {
    size_t cap = (size_t)N_ADDED * 64 + 4096, n = 0;
    char *s = malloc(cap);
    n += (size_t)sprintf(s + n, "{\"model\": {\"type\": \"BPE\", \"vocab\": {");
    for (int c = 0; c < 26; c++) n += (size_t)sprintf(s + n, "\"%c\": %d, ", 'a' + c, c);
    n += (size_t)sprintf(s + n, "\"ab\": 26}, \"merges\": [\"a b\"]}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"added_tokens\": [");
    n += (size_t)sprintf(s + n, "{\"id\": 99, \"content\": \"<x>\"}, {\"id\": 98, \"content\": \"<x>y\"}");
    for (int i = 0; i < N_ADDED; i++) n += (size_t)sprintf(s + n, ", {\"id\": %d, \"content\": \"<x%06d>\"}", 100 + i, i);
    n += (size_t)sprintf(s + n, "]}");
    *len = n;
    return s;
}

START_TEST(many_added_tokens_stay_fast) {
    size_t len;
    char *json = many_added_json(&len);
    write_file(tmp_path("added.json"), json, len);
    free(json);
    Tokenizer t;
    Error err = {{0}};
    double t0 = seconds();
    ck_assert_msg(tokenizer_from_json(&t, tmp_path("added.json"), &err) == 0, "%s", err.msg);
    double load = seconds() - t0;
    ck_assert_msg(load < time_limit(3.0), "loading %d added tokens took %.2f s (limit %.2f s)", N_ADDED, load, time_limit(3.0));
    // hand-derived ids: "ab" merges; the longest added token at a position wins
    const char *text = "ab<x000042>cab<x>yq<x>q<x099999><x09999";
    int want[] = {26, 100 + 42, 2, 26, 98, 16, 99, 16, 100 + 99999, /* "<x09999" is no token: */};
    TokenList ids = {0};
    ck_assert(tokenizer_encode(&t, text, strlen(text), 0, &ids, &err) == 0);
    int n_want = (int)(sizeof want / sizeof *want);
    ck_assert_msg(ids.n >= n_want, "%d ids", ids.n);
    for (int i = 0; i < n_want; i++) ck_assert_msg(ids.ids[i] == want[i], "id %d is %d, want %d", i, ids.ids[i], want[i]);
    for (int i = n_want; i < ids.n; i++) // "<" and ">" have no symbol in this vocabulary: dropped
        ck_assert_msg(ids.ids[i] == 23 || ids.ids[i] < 26, "tail id %d", ids.ids[i]);
    tokenlist_free(&ids);
    // 1 MB of text with an added token every ~100 bytes; before the trie: one comparison per
    // added token and position, 10^11 in all
    size_t n = 1 << 20;
    char *big = random_text(n, "abcdefghijklmnopqrstuvwxyz");
    int planted = 0;
    for (size_t i = 0; i + 10 < n; i += 100 + (next_rand() >> 8) % 50, planted++) {
        char tok[16];
        snprintf(tok, sizeof tok, "<x%06u>", (next_rand() >> 8) % N_ADDED);
        memcpy(big + i, tok, 9);
    }
    double s = timed_encode(&t, big, n, &ids);
    ck_assert_msg(s < time_limit(3.0), "1 MB with %d added tokens in it took %.2f s (limit %.2f s)", planted, s, time_limit(3.0));
    int found = 0;
    for (int i = 0; i < ids.n; i++) found += ids.ids[i] >= 100;
    ck_assert_int_eq(found, planted);
    tokenlist_free(&ids);
    free(big);
    tokenizer_free(&t);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// 3. FIFOs, directories and devices where a file belongs: an error at once, never a wait.

START_TEST(non_regular_files_fail_at_once) {
    const char *fifos[] = {"fifo.gguf", "fifo.bin", "fifo.json", "hf_a/config.json", "hf_b/model.safetensors",
                           "hf_c/model.safetensors.index.json", "tokdir/tok512.bin"};
    mkdir(tmp_path("hf_a"), 0755);
    mkdir(tmp_path("hf_b"), 0755);
    mkdir(tmp_path("hf_c"), 0755);
    mkdir(tmp_path("tokdir"), 0755);
    mkdir(tmp_path("dir.json"), 0755);
    mkdir(tmp_path("dir.gguf"), 0755);
    for (size_t i = 0; i < sizeof fifos / sizeof *fifos; i++)
        ck_assert_msg(mkfifo(tmp_path(fifos[i]), 0644) == 0, "mkfifo %s", fifos[i]);
    Error e = {{0}};
    char *cfg = read_text_file(fixture_path("neox_parallel/config.json"), NULL, &e);
    ck_assert_ptr_nonnull(cfg);
    write_file(tmp_path("hf_b/config.json"), cfg, strlen(cfg));
    write_file(tmp_path("hf_c/config.json"), cfg, strlen(cfg));
    free(cfg);
    // a real llama2.c checkpoint header beside a FIFO named like its tokenizer
    size_t n;
    uint8_t *bin = slurp(stories_bin(), &n);
    write_file(tmp_path("tokdir/model.bin"), bin, n);
    free(bin);

    double t0 = seconds();
    Model m;
    Tokenizer t;
    Error err = {{0}};
    EXPECT_ERROR(model_load(&m, tmp_path("fifo.gguf"), &err), err, "fifo.gguf");
    EXPECT_ERROR(model_load(&m, tmp_path("fifo.bin"), &err), err, "fifo.bin");
    EXPECT_ERROR(model_load(&m, tmp_path("hf_a"), &err), err, "config.json");
    EXPECT_ERROR(model_load(&m, tmp_path("hf_b"), &err), err, "model.safetensors");
    EXPECT_ERROR(model_load(&m, tmp_path("hf_c"), &err), err, "model.safetensors.index.json");
    EXPECT_ERROR(model_load(&m, "/dev/zero", &err), err, "/dev/zero");
    EXPECT_ERROR(model_load(&m, tmp_path("dir.gguf"), &err), err, "dir.gguf"); // a directory without config.json
    EXPECT_ERROR(tokenizer_load(&t, tmp_path("fifo.json"), NULL, &err), err, "fifo.json");
    EXPECT_ERROR(tokenizer_load(&t, "x", tmp_path("fifo.json"), &err), err, "fifo.json");
    EXPECT_ERROR(tokenizer_load(&t, "x", tmp_path("fifo.gguf"), &err), err, "fifo.gguf");
    EXPECT_ERROR(tokenizer_load(&t, "x", tmp_path("fifo.bin"), &err), err, "fifo.bin");
    EXPECT_ERROR(tokenizer_load(&t, tmp_path("fifo.bin"), NULL, &err), err, "fifo.bin");
    EXPECT_ERROR(tokenizer_load(&t, tmp_path("tokdir/model.bin"), NULL, &err), err, "tok512.bin");
    EXPECT_ERROR(tokenizer_load(&t, "x", "/dev/zero", &err), err, "/dev/zero");
    EXPECT_ERROR(tokenizer_load(&t, "x", "/dev/null", &err), err, "/dev/null");
    EXPECT_ERROR(tokenizer_load(&t, tmp_path("hf_a"), NULL, &err), err, "tokenizer.json");
    EXPECT_ERROR(tokenizer_from_json(&t, tmp_path("fifo.json"), &err), err, "fifo.json");
    EXPECT_ERROR(tokenizer_from_json(&t, tmp_path("dir.json"), &err), err, "dir.json");
    EXPECT_ERROR(tokenizer_from_json(&t, "/dev/zero", &err), err, "/dev/zero");
    EXPECT_ERROR(tokenizer_from_gguf(&t, tmp_path("fifo.gguf"), &err), err, "fifo.gguf");
    EXPECT_ERROR(tokenizer_from_llama2c(&t, tmp_path("fifo.bin"), &err), err, "fifo.bin");
    EXPECT_ERROR(tokenizer_from_llama2c(&t, "/dev/zero", &err), err, "/dev/zero");
    double s = seconds() - t0;
    ck_assert_msg(s < time_limit(2.0), "the non-regular files took %.1f s", s);

    // and the CLI: one line naming the file, non-zero exit, within seconds
    const char *cli = getenv("SINKS_CLI");
    ck_assert_msg(cli != NULL, "SINKS_CLI is not set (run the tests through make)");
    const char *args[][2] = {
        {"generate --steps 1 --prompt hi --model", "fifo.gguf"},
        {"generate --steps 1 --prompt hi --model", "fifo.bin"},
        {"tokenize --text hi --tokenizer", "fifo.json"},
        {"tokenize --text hi --model", "fifo.bin"},
    };
    for (size_t i = 0; i < sizeof args / sizeof *args; i++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "timeout %d %s %s %s 2>&1 >/dev/null </dev/null", (int)time_limit(10), cli, args[i][0],
                 tmp_path(args[i][1]));
        int st;
        char *out = capture(cmd, &st);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 124, "`%s` exited %d", cmd, WEXITSTATUS(st));
        ck_assert_msg(strstr(out, args[i][1]) != NULL && strncmp(out, "error: ", 7) == 0, "`%s` said '%s'", cmd, out);
        free(out);
    }
}
END_TEST

// ---------------------------------------------------------------------------------------------
// 4. Mismatches: files that are each well-formed but do not belong together, or headers that
// describe another model than the file holds.

START_TEST(tokenizer_must_fit_the_model) {
    Tokenizer stories = stories_tok(), neox = neox_tok(), smol = smollm2_tok();
    Error err = {{0}};
    // 512 tokens for a 49152-row embedding; 50277 tokens for a 512-row one
    EXPECT_ERROR(tokenizer_check_model(&stories, 49152, "smollm2.gguf", &err), err, "smollm2.gguf");
    ck_assert_msg(strstr(err.msg, "tok512.bin") != NULL, "does not name the tokenizer: %s", err.msg);
    EXPECT_ERROR(tokenizer_check_model(&neox, 512, "stories260K.bin", &err), err, "stories260K.bin");
    ck_assert_msg(strstr(err.msg, "tokenizer.json") != NULL, "does not name the tokenizer: %s", err.msg);
    EXPECT_ERROR(tokenizer_check_model(&smol, 49151, "m.gguf", &err), err, "m.gguf"); // one id too many
    // pairs that belong together, padding included (Pythia's embedding: 50304 rows)
    ck_assert_msg(tokenizer_check_model(&stories, 512, "stories260K.bin", &err) == 0, "%s", err.msg);
    ck_assert_msg(tokenizer_check_model(&smol, 49152, "smollm2.gguf", &err) == 0, "%s", err.msg);
    ck_assert_msg(tokenizer_check_model(&neox, 50304, "pythia", &err) == 0, "%s", err.msg);
    ck_assert_msg(tokenizer_check_model(&neox, 50432, "neox-20b", &err) == 0, "%s", err.msg);
    tokenizer_free(&stories);
    tokenizer_free(&neox);
    tokenizer_free(&smol);
    // the CLI refuses the pair before generating anything
    const char *cli = getenv("SINKS_CLI");
    ck_assert_msg(cli != NULL, "SINKS_CLI is not set (run the tests through make)");
    char cmd[3072];
    snprintf(cmd, sizeof cmd, "%s generate --steps 4 --prompt hi --model %s --tokenizer %s 2>&1 </dev/null", cli,
             stories_bin(), path_join(shared_dir(), "tokenizers/gpt-neox-20b/tokenizer.json"));
    int st;
    char *out = capture(cmd, &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "`%s` exited 0: %s", cmd, out);
    ck_assert_msg(strncmp(out, "error: ", 7) == 0 && strstr(out, "stories260K.bin") && strstr(out, "tokenizer.json") &&
                      strchr(out, '\n') == out + strlen(out) - 1,
                  "`%s` said '%s'", cmd, out);
    free(out);
}
END_TEST

START_TEST(llama2c_header_must_match_the_file) {
    size_t n;
    uint8_t *full = slurp(stories_bin(), &n);
    Llama2cFile f;
    Error err = {{0}};
    ck_assert_msg(llama2c_parse(&f, full, n, "ok.bin", &err) == 0, "%s", err.msg); // exact: the real file
    int32_t h0[7];
    memcpy(h0, full, sizeof h0);
    // smaller models than the file holds (fewer layers, a narrower MLP, fewer tokens, a shorter
    // context), and larger ones; each field in turn
    for (int field = 0; field < 7; field++)
        for (int delta = -2; delta <= 2; delta++) {
            if (delta == 0) continue;
            int32_t h[7];
            memcpy(h, h0, sizeof h);
            h[field] += field == 0 ? delta * 16 : field == 3 || field == 4 ? (delta > 0 ? 8 : -4) : delta;
            if (field == 3 || field == 4) h[4] = h[3] = field == 3 ? h[3] : h[4];
            memcpy(full, h, sizeof h);
            err.msg[0] = '\0';
            int rc = llama2c_parse(&f, full, n, "mismatch.bin", &err);
            ck_assert_msg(rc != 0, "header {%d %d %d %d %d %d %d} accepted for the stories260K weights", h[0], h[1], h[2],
                          h[3], h[4], h[5], h[6]);
            ck_assert_msg(strstr(err.msg, "mismatch.bin"), "%s", err.msg);
        }
    // the file one float longer than its header says
    memcpy(full, h0, sizeof h0);
    uint8_t *longer = malloc(n + 4);
    memcpy(longer, full, n);
    memset(longer + n, 0, 4);
    EXPECT_ERROR(llama2c_parse(&f, longer, n + 4, "longer.bin", &err), err, "do not match");
    free(longer);
    // vocab_size INT32_MIN: -INT32_MIN overflows (UBSan saw it), in the parser and in the
    // tokenizer lookup beside the checkpoint
    int32_t hmin[7] = {64, 172, 5, 8, 4, INT32_MIN, 512};
    memcpy(full, hmin, sizeof hmin);
    EXPECT_ERROR(llama2c_parse(&f, full, n, "min.bin", &err), err, "min.bin");
    write_file(tmp_path("min.bin"), full, 64);
    Tokenizer t;
    EXPECT_ERROR(tokenizer_load(&t, tmp_path("min.bin"), NULL, &err), err, "min.bin");
    // a 7B header on a small file: "too small for the header", not "out of memory"
    int32_t h7b[7] = {4096, 11008, 32, 32, 32, 32000, 2048};
    memcpy(full, h7b, sizeof h7b);
    write_file(tmp_path("7b.bin"), full, n);
    Model m;
    EXPECT_ERROR(model_load(&m, tmp_path("7b.bin"), &err), err, "7b.bin: truncated: the header needs");
    free(full);
}
END_TEST

// A minimal GGUF writer: string and u32/f32 metadata, F32 tensors.
typedef struct {
    uint8_t *b;
    size_t n;
} Buf;
static void put(Buf *b, const void *p, size_t n) {
    b->b = realloc(b->b, b->n + n);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void put_str(Buf *b, const char *s) {
    uint64_t n = strlen(s);
    put(b, &n, 8);
    put(b, s, n);
}
static void put_kv_u32(Buf *b, const char *k, uint32_t v) {
    uint32_t ty = GGUF_U32;
    put_str(b, k);
    put(b, &ty, 4);
    put(b, &v, 4);
}

// A GGUF whose llama metadata claims dim/hidden/layers, with one small token_embd tensor.
static void write_claiming_gguf(const char *path, uint32_t dim, uint32_t hidden, uint32_t layers) {
    Buf b = {0};
    uint32_t version = 3, ty;
    uint64_t n_tensors = 1, n_kv = 7;
    put(&b, "GGUF", 4);
    put(&b, &version, 4);
    put(&b, &n_tensors, 8);
    put(&b, &n_kv, 8);
    put_str(&b, "general.architecture");
    ty = GGUF_STRING;
    put(&b, &ty, 4);
    put_str(&b, "llama");
    put_kv_u32(&b, "llama.block_count", layers);
    put_kv_u32(&b, "llama.embedding_length", dim);
    put_kv_u32(&b, "llama.feed_forward_length", hidden);
    put_kv_u32(&b, "llama.attention.head_count", 32);
    put_kv_u32(&b, "llama.context_length", 2048);
    put_str(&b, "llama.attention.layer_norm_rms_epsilon");
    ty = GGUF_F32;
    float eps = 1e-5f;
    put(&b, &ty, 4);
    put(&b, &eps, 4);
    put_str(&b, "token_embd.weight");
    uint32_t n_dims = 2, f32 = 0;
    uint64_t ne[2] = {dim, 2}, off = 0;
    put(&b, &n_dims, 4);
    put(&b, ne, 16);
    put(&b, &f32, 4);
    put(&b, &off, 8);
    while (b.n % 32) put(&b, "", 1);
    float *w = calloc(2 * dim, sizeof *w);
    put(&b, w, 2 * dim * sizeof *w);
    free(w);
    write_file(path, b.b, b.n);
    free(b.b);
}

START_TEST(big_claims_in_small_files) {
    Model m;
    Error err = {{0}};
    // 7B sizes (about 27 GB of fp32): the file is too small, whatever memory the machine has
    write_claiming_gguf(tmp_path("7b.gguf"), 4096, 11008, 32);
    EXPECT_ERROR(model_load(&m, tmp_path("7b.gguf"), &err), err, "7b.gguf: too small for its header's sizes");
    write_claiming_gguf(tmp_path("huge.gguf"), 65536, 262144, 1024);
    EXPECT_ERROR(model_load(&m, tmp_path("huge.gguf"), &err), err, "huge.gguf: too small for its header's sizes");
    // a Hugging Face config that asks for more weights than model.safetensors holds
    Error e = {{0}};
    char *cfg = read_text_file(fixture_path("neox_parallel/config.json"), NULL, &e);
    char *p = strstr(cfg, "\"num_hidden_layers\": 2");
    ck_assert_ptr_nonnull(p);
    memcpy(p, "\"num_hidden_layers\": 9", 22);
    mkdir(tmp_path("hf7"), 0755);
    write_file(tmp_path("hf7/config.json"), cfg, strlen(cfg));
    free(cfg);
    size_t n;
    uint8_t *st = slurp(fixture_path("neox_parallel/model.safetensors"), &n);
    write_file(tmp_path("hf7/model.safetensors"), st, n);
    free(st);
    EXPECT_ERROR(model_load(&m, tmp_path("hf7"), &err), err, "hf7: too small");
    // a GGUF cut short: an error, and nothing left allocated (LeakSanitizer checks at exit)
    uint8_t *gg = slurp(fixture_path("types.gguf"), &n);
    write_file(tmp_path("cut.gguf"), gg, n / 2);
    free(gg);
    EXPECT_ERROR(model_load(&m, tmp_path("cut.gguf"), &err), err, "cut.gguf");
    // and the CLI: no "out of memory", no hint to run `make model`
    const char *cli = getenv("SINKS_CLI");
    ck_assert_msg(cli != NULL, "SINKS_CLI is not set (run the tests through make)");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s generate --steps 1 --model %s 2>&1 </dev/null", cli, tmp_path("7b.gguf"));
    int status;
    char *out = capture(cmd, &status);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0, "exited 0: %s", out);
    ck_assert_msg(strstr(out, "too small") && !strstr(out, "out of memory") && !strstr(out, "make model"), "said '%s'", out);
    free(out);
}
END_TEST

// safetensors with tensors of no elements: legal (the format's reference reader accepts an empty
// tensor at the boundary between two others), and no overlap with their neighbours.
START_TEST(zero_size_safetensors_tensors) {
    const char *headers[] = {
        "{\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
        "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
        "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"z\":{\"dtype\":\"F16\",\"shape\":[0,4],\"data_offsets\":[8,8]}}",
        "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"z\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[4,4]}}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof *headers; i++) {
        uint64_t hlen = strlen(headers[i]);
        size_t n = 8 + hlen + 8;
        uint8_t *buf = calloc(1, n);
        memcpy(buf, &hlen, 8);
        memcpy(buf + 8, headers[i], hlen);
        SafeTensors s;
        memset(&s, 0, sizeof s);
        Error err = {{0}};
        ck_assert_msg(safetensors_parse(&s, buf, n, "zero.safetensors", &err) == 0, "header %zu: %s", i, err.msg);
        const STTensor *z = safetensors_find(&s, "z");
        ck_assert_ptr_nonnull(z);
        ck_assert_int_eq(z->n_elements, 0);
        safetensors_close(&s);
        free(buf);
    }
    // a real overlap is still one
    const char *bad = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    uint64_t hlen = strlen(bad);
    uint8_t *buf = calloc(1, 8 + hlen + 8);
    memcpy(buf, &hlen, 8);
    memcpy(buf + 8, bad, hlen);
    SafeTensors s;
    memset(&s, 0, sizeof s);
    Error err = {{0}};
    EXPECT_ERROR(safetensors_parse(&s, buf, 8 + hlen + 8, "overlap.safetensors", &err), err, "'a' and 'b' overlap");
    safetensors_close(&s);
    free(buf);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// 5. Every input that once broke a parser (fuzzers, sanitizers), replayed: an error or a
// success, never a crash or a sanitizer report. tests/fixtures/hostile/<parser>-<what>.

START_TEST(replay_hostile_inputs) {
    DIR *d = opendir(fixture_path("hostile"));
    ck_assert_msg(d != NULL, "no %s", fixture_path("hostile"));
    int replayed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", fixture_path("hostile"), e->d_name);
        size_t n;
        uint8_t *data = slurp(path, &n);
        Error err = {{0}};
        Tokenizer t;
        if (strncmp(e->d_name, "gguf-", 5) == 0) {
            GGUF g;
            gguf_parse(&g, data, n, e->d_name, &err);
            gguf_close(&g);
        } else if (strncmp(e->d_name, "safetensors-", 12) == 0) {
            SafeTensors s;
            memset(&s, 0, sizeof s);
            safetensors_parse(&s, data, n, e->d_name, &err);
            safetensors_close(&s);
        } else if (strncmp(e->d_name, "llama2c-", 8) == 0) {
            Llama2cFile f;
            llama2c_parse(&f, data, n, e->d_name, &err);
            if (tokenizer_from_llama2c(&t, path, &err) == 0) tokenizer_free(&t);
            if (tokenizer_load(&t, path, NULL, &err) == 0) tokenizer_free(&t);
        } else if (strncmp(e->d_name, "tokenizer_json-", 15) == 0) {
            if (tokenizer_from_json_text(&t, (const char *)data, n, e->d_name, &err) == 0) {
                TokenList ids = {0};
                tokenizer_encode(&t, "Hello world 123 \xC3\xA9\n", 19, 1, &ids, &err);
                tokenlist_free(&ids);
                tokenizer_free(&t);
            }
        } else if (strncmp(e->d_name, "encode-", 7) == 0) {
            Tokenizer ts[2] = {neox_tok(), stories_tok()};
            for (int k = 0; k < 2; k++) {
                TokenList ids = {0};
                ck_assert(tokenizer_encode(&ts[k], (const char *)data, n, 1, &ids, &err) == 0);
                tokenlist_free(&ids);
                tokenizer_free(&ts[k]);
            }
        } else {
            ck_abort_msg("%s: name it <parser>-<what>", e->d_name);
        }
        free(data);
        replayed++;
    }
    closedir(d);
    ck_assert_int_gt(replayed, 0);
}
END_TEST

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sinks-hostile-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    const TTest *tests[] = {megabyte_word_in_bounded_time,
                            heap_merges_equal_simple_scans,
                            many_added_tokens_stay_fast,
                            non_regular_files_fail_at_once,
                            tokenizer_must_fit_the_model,
                            llama2c_header_must_match_the_file,
                            big_claims_in_small_files,
                            zero_size_safetensors_tensors,
                            replay_hostile_inputs};
    int rc = run_tests("hostile_files", 120, tests, (int)(sizeof tests / sizeof *tests));
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) return 1;
    return rc;
}
