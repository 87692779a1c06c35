// Bad input never crashes: truncated and corrupted model files, bad JSON, unknown
// architectures, out-of-range tokens and impossible sizes each give a one-line error naming the
// file or option, and the CLI exits non-zero. (The same suite runs under ASan + UBSan.)
#define _GNU_SOURCE
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "forward.h"
#include "gguf.h"
#include "llama2c.h"
#include "safetensors.h"
#include "badfile.h"
#include "testutil.h"
#include "tokenizer.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) { return path_join(tmpdir, name); }


// ---------------------------------------------------------------------------------------------
// GGUF

START_TEST(gguf_every_truncation_fails) {
    size_t n;
    uint8_t *full = slurp(fixture_path("types.gguf"), &n);
    GGUF g;
    Error err;
    ck_assert(gguf_parse(&g, full, n, "types", &err) == 0);
    size_t data_end = 0;
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        size_t e = (size_t)(g.tensors[i].data - full) + g.tensors[i].nbytes;
        data_end = e > data_end ? e : data_end;
    }
    gguf_close(&g);
    for (size_t len = 0; len < data_end; len++) {
        uint8_t *cut = malloc(len ? len : 1); // exact-size buffer: ASan sees any over-read
        memcpy(cut, full, len);
        EXPECT_ERROR(gguf_parse(&g, cut, len, "cut.gguf", &err), err, "cut.gguf");
        gguf_close(&g);
        free(cut);
    }
    free(full);
}
END_TEST

// Offset of the field `which` (0 n_dims, 1 ne[0], 2 type, 3 offset) of tensor i's info.
static size_t info_field(const GGUF *g, const uint8_t *base, uint64_t i, int which) {
    const GGUFTensor *t = &g->tensors[i];
    size_t at = (size_t)((const uint8_t *)t->name.ptr - base) + t->name.len;
    if (which == 0) return at;
    if (which == 1) return at + 4;
    if (which == 2) return at + 4 + 8 * t->n_dims;
    return at + 4 + 8 * t->n_dims + 4;
}

static void expect_corrupt(const uint8_t *full, size_t n, size_t at, const void *val, size_t vlen, const char *what) {
    uint8_t *bad = malloc(n);
    memcpy(bad, full, n);
    memcpy(bad + at, val, vlen);
    GGUF g;
    Error err = {{0}};
    int rc = gguf_parse(&g, bad, n, "corrupt.gguf", &err);
    ck_assert_msg(rc != 0, "corruption accepted: %s", what);
    ck_assert_msg(strstr(err.msg, "corrupt.gguf"), "error does not name the file: %s", err.msg);
    gguf_close(&g);
    free(bad);
}

START_TEST(gguf_corrupt_headers_fail) {
    size_t n;
    uint8_t *full = slurp(fixture_path("types.gguf"), &n);
    GGUF g;
    Error err;
    ck_assert(gguf_parse(&g, full, n, "types", &err) == 0);
    uint32_t u32;
    uint64_t u64;
    expect_corrupt(full, n, 0, "GGUX", 4, "bad magic");
    u32 = 1;
    expect_corrupt(full, n, 4, &u32, 4, "version 1");
    u64 = 1ull << 60;
    expect_corrupt(full, n, 8, &u64, 8, "huge tensor count");
    expect_corrupt(full, n, 16, &u64, 8, "huge metadata count");
    u64 = 1ull << 62;
    expect_corrupt(full, n, info_field(&g, full, 0, 3), &u64, 8, "offset past the end");
    u64 = g.tensors[0].offset + 1;
    expect_corrupt(full, n, info_field(&g, full, 0, 3), &u64, 8, "misaligned offset");
    u64 = g.tensors[0].offset;
    expect_corrupt(full, n, info_field(&g, full, 1, 3), &u64, 8, "overlapping tensors");
    u32 = 99;
    expect_corrupt(full, n, info_field(&g, full, 0, 2), &u32, 4, "unknown tensor type");
    u32 = 7;
    expect_corrupt(full, n, info_field(&g, full, 0, 0), &u32, 4, "7 dimensions");
    for (uint64_t i = 0; i < g.n_tensors; i++)
        if (g.tensors[i].type == 2) { // Q4_0: a row of 63 elements is not whole blocks
            u64 = 63;
            expect_corrupt(full, n, info_field(&g, full, i, 1), &u64, 8, "partial quant block");
        }
    u64 = 1ull << 40;
    expect_corrupt(full, n, info_field(&g, full, 0, 1), &u64, 8, "a dimension of 2^40");
    gguf_close(&g);
    free(full);
}
END_TEST

START_TEST(gguf_unknown_architecture) {
    Model m;
    Error err = {{0}};
    // types.gguf says general.architecture = "testarch"
    EXPECT_ERROR(model_load(&m, fixture_path("types.gguf"), &err), err, "unsupported architecture 'testarch'");
    Tokenizer t;
    EXPECT_ERROR(tokenizer_from_gguf(&t, fixture_path("types.gguf"), &err), err, "tokenizer.ggml.model");
}
END_TEST

// ---------------------------------------------------------------------------------------------
// Hugging Face directories

static void make_hf_dir(const char *config, const void *st, size_t st_len) {
    mkdir(tmp_path("hf"), 0755);
    write_file(tmp_path("hf/config.json"), config, strlen(config));
    write_file(tmp_path("hf/model.safetensors"), st, st_len);
}

START_TEST(hf_bad_configs) {
    size_t n;
    uint8_t *st = slurp(fixture_path("neox_parallel/model.safetensors"), &n);
    Model m;
    Error err = {{0}};
    make_hf_dir("{\"model_type\": \"gpt_neox\", ", st, n);
    EXPECT_ERROR(model_load(&m, tmp_path("hf"), &err), err, "config.json: not valid JSON");
    make_hf_dir("{\"model_type\": \"mamba\"}", st, n);
    EXPECT_ERROR(model_load(&m, tmp_path("hf"), &err), err, "unsupported model_type \"mamba\"");
    make_hf_dir("{\"model_type\": \"gpt_neox\", \"hidden_size\": 128}", st, n);
    EXPECT_ERROR(model_load(&m, tmp_path("hf"), &err), err, "config.json: missing \"num_attention_heads\"");
    // a real config with one size changed: the tensors no longer fit it
    char *cfg = read_text_file(fixture_path("neox_parallel/config.json"), NULL, &err);
    char *p = strstr(cfg, "\"intermediate_size\": 384");
    ck_assert_ptr_nonnull(p);
    memcpy(p, "\"intermediate_size\": 383", 24); // (385 would need more weights than the file holds)
    make_hf_dir(cfg, st, n);
    EXPECT_ERROR(model_load(&m, tmp_path("hf"), &err), err, "wrong shape");
    free(cfg);
    free(st);
}
END_TEST

START_TEST(safetensors_bad_files) {
    size_t n;
    uint8_t *st = slurp(fixture_path("neox_parallel/model.safetensors"), &n);
    SafeTensors s;
    Error err = {{0}};
    uint64_t hlen;
    memcpy(&hlen, st, 8);
    for (size_t len = 0; len < n; len += len < 64 ? 1 : 997) { // truncations
        memset(&s, 0, sizeof s);
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, st, len);
        EXPECT_ERROR(safetensors_parse(&s, cut, len, "cut.safetensors", &err), err, "cut.safetensors");
        safetensors_close(&s);
        free(cut);
    }
    uint8_t *bad = malloc(n);
    memcpy(bad, st, n);
    uint64_t huge = 1ull << 62;
    memcpy(bad, &huge, 8);
    memset(&s, 0, sizeof s);
    EXPECT_ERROR(safetensors_parse(&s, bad, n, "bad.safetensors", &err), err, "header length");
    safetensors_close(&s);
    // an offset pointing past the data: rewrite the first "data_offsets":[a,b] to a huge end
    memcpy(bad, st, n);
    char *off = memmem(bad + 8, hlen, "\"data_offsets\":[", 16);
    ck_assert_ptr_nonnull(off);
    char *comma = memchr(off, ',', 40);
    memcpy(comma + 1, "9999999", 7); // digits only: the header stays the same length
    memset(&s, 0, sizeof s);
    EXPECT_ERROR(safetensors_parse(&s, bad, n, "bad.safetensors", &err), err, "bad.safetensors");
    safetensors_close(&s);
    free(bad);
    free(st);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// llama2.c, tokenizers

START_TEST(llama2c_bad_files) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.bin", shared_dir());
    size_t n;
    uint8_t *full = slurp(path, &n);
    Llama2cFile f;
    Error err = {{0}};
    EXPECT_ERROR(llama2c_parse(&f, full, 1000, "cut.bin", &err), err, "cut.bin: truncated");
    EXPECT_ERROR(llama2c_parse(&f, full, 10, "cut.bin", &err), err, "cut.bin");
    int32_t h[7] = {64, 172, 5, 8, 3, 512, 512}; // 8 heads do not share 3 kv heads
    memcpy(full, h, sizeof h);
    EXPECT_ERROR(llama2c_parse(&f, full, n, "heads.bin", &err), err, "heads.bin");
    h[4] = 4;
    h[0] = 1 << 30;
    memcpy(full, h, sizeof h);
    EXPECT_ERROR(llama2c_parse(&f, full, n, "huge.bin", &err), err, "huge.bin: implausible");
    write_file(tmp_path("trunc.bin"), full, 1000);
    Model m;
    EXPECT_ERROR(model_load(&m, tmp_path("trunc.bin"), &err), err, "trunc.bin");
    free(full);
}
END_TEST

START_TEST(tokenizer_bad_files) {
    Tokenizer t;
    Error err = {{0}};
    const char *cases[][2] = {
        {"{\"model\": ", "not valid JSON"},
        {"{\"model\": {\"type\": \"Unigram\"}}", "expected a BPE model"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}",
         "merge #0"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -5}, \"merges\": []}}", "bad id"},
        {"{\"normalizer\": {\"type\": \"NFKD\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}", "NFKD"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        EXPECT_ERROR(tokenizer_from_json_text(&t, cases[i][0], strlen(cases[i][0]), "tok.json", &err), err, cases[i][1]);
    uint8_t trunc[10] = {16, 0, 0, 0, 0, 0, 0, 0, 100, 0}; // token 0 claims 100 bytes
    write_file(tmp_path("tok.bin"), trunc, sizeof trunc);
    EXPECT_ERROR(tokenizer_from_llama2c(&t, tmp_path("tok.bin"), &err), err, "tok.bin");
}
END_TEST

// ---------------------------------------------------------------------------------------------
// Runtime: tokens and sizes

START_TEST(out_of_range_tokens_and_full_cache) {
    Model m;
    Error err = {{0}};
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.bin", shared_dir());
    ck_assert(model_load(&m, path, &err) == 0);
    KVCache c;
    RunState s;
    ck_assert(kvcache_init(&c, &m.cfg, 4, &err) == 0);
    ck_assert(runstate_init(&s, &m.cfg, 4, 4, &err) == 0);
    float logits[512];
    int bad[2] = {1, 512};
    EXPECT_ERROR(model_forward(logits, &m, &c, &s, bad, 2, 0, &err), err, "token id 512 out of range");
    bad[1] = -1;
    EXPECT_ERROR(model_forward(logits, &m, &c, &s, bad, 2, 0, &err), err, "token id -1 out of range");
    ck_assert_int_eq(c.len, 0); // nothing was written
    int five[5] = {1, 2, 3, 4, 5};
    EXPECT_ERROR(model_forward(logits, &m, &c, &s, five, 5, 0, &err), err, "KV cache full");
    KVCache z;
    EXPECT_ERROR(kvcache_init(&z, &m.cfg, 0, &err), err, "cache size");
    runstate_free(&s);
    kvcache_free(&c);
    model_free(&m);
}
END_TEST

// The CLI: a one-line error and a non-zero exit for each bad invocation.
static void expect_cli_error(const char *args, const char *needle) {
    const char *cli = getenv("SINKS_CLI");
    ck_assert_msg(cli != NULL, "SINKS_CLI is not set (run the tests through make)");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s </dev/null", cli, args, tmp_path("out"), tmp_path("err"));
    int st = system(cmd);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "`sinks %s` exited 0", args);
    Error e = {{0}};
    char *msg = read_text_file(tmp_path("err"), NULL, &e);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, needle) != NULL, "`sinks %s` said '%s', wanted '%s'", args, msg, needle);
    ck_assert_msg(strncmp(msg, "error: ", 7) == 0, "`sinks %s`: '%s'", args, msg);
    free(msg);
}

START_TEST(cli_errors) {
    expect_cli_error("frobnicate", "unknown command 'frobnicate'");
    expect_cli_error("generate --steps abc", "--steps wants an integer");
    expect_cli_error("generate --bogus", "unknown option '--bogus'");
    expect_cli_error("generate --model /nonexistent/model.gguf", "/nonexistent/model.gguf");
    expect_cli_error("generate --steps", "--steps needs a value");
    char args[1200];
    snprintf(args, sizeof args, "generate --model %s", fixture_path("types.gguf"));
    expect_cli_error(args, "unsupported architecture");
    snprintf(args, sizeof args, "generate --model %s/models/stories260K/stories260K.bin --temperature -1", shared_dir());
    expect_cli_error(args, "--temperature");
    snprintf(args, sizeof args, "tokenize --tokenizer %s", fixture_path("varied.txt"));
    expect_cli_error(args, "varied.txt");
}
END_TEST

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sinks-badinput-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    const TTest *tests[] = {
        gguf_every_truncation_fails,
        gguf_corrupt_headers_fail,
        gguf_unknown_architecture,
        hf_bad_configs,
        safetensors_bad_files,
        llama2c_bad_files,
        tokenizer_bad_files,
        out_of_range_tokens_and_full_cache,
        cli_errors};
    int rc = run_tests("badinput", 300, tests, (int)(sizeof tests / sizeof *tests));
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) return 1;
    return rc;
}
