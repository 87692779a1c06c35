// Tokenizers against Hugging Face `tokenizers` (fixtures) and hand-derived cases.
#include "testutil.h"
#include "tokenizer.h"

static char *varied_text(size_t *n) {
    Error err = {{0}};
    char *s = read_text_file(fixture_path("varied.txt"), n, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    return s;
}

static void check_ids(const Tokenizer *t, const char *fixture) {
    size_t n;
    char *text = varied_text(&n);
    int n_want;
    int *want = read_ids(fixture_path(fixture), &n_want);
    TokenList got = {0};
    Error err = {{0}};
    ck_assert_msg(tokenizer_encode(t, text, n, 0, &got, &err) == 0, "%s", err.msg);
    for (int i = 0; i < n_want && i < got.n; i++)
        ck_assert_msg(got.ids[i] == want[i], "%s: token %d is %d, Hugging Face says %d", fixture, i, got.ids[i], want[i]);
    ck_assert_int_eq(got.n, n_want);
    // and back: byte-level BPE loses nothing, so decoding gives the text again (NFC aside)
    char *back = tokenizer_decode(t, got.ids, got.n);
    if (!t->nfc) ck_assert_str_eq(back, text);
    free(back);
    tokenlist_free(&got);
    free(want);
    free(text);
}

START_TEST(smollm2_ids_match_hf) {
    Tokenizer t;
    Error err = {{0}};
    ck_assert_msg(default_model() != NULL, "SINKS_MODEL is not set");
    ck_assert_msg(tokenizer_from_gguf(&t, default_model(), &err) == 0, "%s", err.msg);
    check_ids(&t, "tok_smollm2.ids");
    tokenizer_free(&t);
}
END_TEST

START_TEST(neox_ids_match_hf) {
    Tokenizer t;
    Error err = {{0}};
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizers/gpt-neox-20b/tokenizer.json", shared_dir());
    ck_assert_msg(tokenizer_from_json(&t, path, &err) == 0, "%s", err.msg);
    ck_assert(t.nfc);
    check_ids(&t, "tok_neox.ids");
    tokenizer_free(&t);
}
END_TEST

static Tokenizer stories_tok(void) {
    Tokenizer t;
    Error err = {{0}};
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K/tok512.bin", shared_dir());
    ck_assert_msg(tokenizer_from_llama2c(&t, path, &err) == 0, "%s", err.msg);
    return t;
}

// Hand-derived: a newline has no piece of its own in tok512, so it falls back to the byte
// token <0x0A>, which llama2.c vocabularies put at id 3 + 0x0A = 13.
START_TEST(spm_byte_fallback) {
    Tokenizer t = stories_tok();
    ck_assert_int_eq(t.n_vocab, 512);
    ck_assert_int_eq(tokenizer_find(&t, "<0x0A>"), 13);
    TokenList ids = {0};
    Error err = {{0}};
    ck_assert(tokenizer_encode(&t, "a\nb", 3, 1, &ids, &err) == 0);
    ck_assert_int_eq(ids.ids[0], 1); // BOS
    int found = 0;
    for (int i = 1; i < ids.n; i++) found |= ids.ids[i] == 13;
    ck_assert_msg(found, "no <0x0A> token in the encoding of a newline");
    char *back = tokenizer_decode(&t, ids.ids, ids.n);
    ck_assert_str_eq(back, "a\nb"); // the dummy prefix space after BOS is dropped again
    free(back);
    tokenlist_free(&ids);
    tokenizer_free(&t);
}
END_TEST

// Merges by score: "Once" must come out as the single piece " Once" if the vocabulary has it.
START_TEST(spm_merges_to_whole_words) {
    Tokenizer t = stories_tok();
    int once = tokenizer_find(&t, " Once");
    ck_assert_int_ge(once, 0);
    TokenList ids = {0};
    Error err = {{0}};
    ck_assert(tokenizer_encode(&t, "Once", 4, 0, &ids, &err) == 0);
    ck_assert_int_eq(ids.n, 1);
    ck_assert_int_eq(ids.ids[0], once);
    tokenlist_free(&ids);
    tokenizer_free(&t);
}
END_TEST

// A 4-byte emoji split over byte tokens: nothing may come out until its last byte arrives.
START_TEST(stream_decode_never_splits_a_character) {
    Tokenizer t = stories_tok();
    const unsigned char emoji[4] = {0xF0, 0x9F, 0x98, 0x80}; // U+1F600
    TokDecoder d;
    tokdecoder_init(&d);
    d.prev = 5;
    char out[256];
    for (int i = 0; i < 4; i++) {
        char piece[8];
        snprintf(piece, sizeof piece, "<0x%02X>", emoji[i]);
        int id = tokenizer_find(&t, piece);
        ck_assert_int_ge(id, 0);
        int n = tokdecoder_push(&d, &t, id, out, sizeof out);
        if (i < 3) ck_assert_int_eq(n, 0);
        else ck_assert_mem_eq(out, emoji, 4);
    }
    // an unfinished character at the end becomes U+FFFD, never a stray byte
    int id = tokenizer_find(&t, "<0xE2>");
    ck_assert_int_eq(tokdecoder_push(&d, &t, id, out, sizeof out), 0);
    ck_assert_int_eq(tokdecoder_flush(&d, out, sizeof out), 3);
    ck_assert_str_eq(out, "\xEF\xBF\xBD");
    tokenizer_free(&t);
}
END_TEST

// Invalid UTF-8 in the input is read as U+FFFD instead of crashing the regex engine.
START_TEST(invalid_utf8_input) {
    Tokenizer t;
    Error err = {{0}};
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizers/gpt-neox-20b/tokenizer.json", shared_dir());
    ck_assert(tokenizer_from_json(&t, path, &err) == 0);
    const char bad[] = "ok \xC3\x28 \xFF\xFE end\xE2\x82";
    TokenList ids = {0};
    ck_assert(tokenizer_encode(&t, bad, sizeof bad - 1, 0, &ids, &err) == 0);
    char *back = tokenizer_decode(&t, ids.ids, ids.n);
    ck_assert_str_eq(back, "ok \xEF\xBF\xBD( \xEF\xBF\xBD\xEF\xBF\xBD end\xEF\xBF\xBD\xEF\xBF\xBD");
    free(back);
    tokenlist_free(&ids);
    tokenizer_free(&t);
}
END_TEST

int main(void) {
    RUN_TESTS("tokenizer", 300,
              smollm2_ids_match_hf,
              neox_ids_match_hf,
              spm_byte_fallback,
              spm_merges_to_whole_words,
              stream_decode_never_splits_a_character,
              invalid_utf8_input);
}
