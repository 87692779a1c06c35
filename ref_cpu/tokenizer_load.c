// tokenizer_load.c: builds a Tokenizer from a GGUF file's metadata, a Hugging Face
// tokenizer.json, or a llama2.c tokenizer.bin.
#define _POSIX_C_SOURCE 200809L
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gguf.h"
#include "tokenizer.h"

// from tokenizer.c
int tokindex_build(TokIndex *ix, char *const *piece, const int *len, int n);
int pairmap_init(PairMap *m, int n);
void pairmap_put(PairMap *m, int left, int right, int rank, int merged);
int special_trie_build(SpecialTrie *tr, char *const *piece, const int *len, const uint8_t *special, int n);
void special_trie_free(SpecialTrie *tr);

// The GPT-2 / Hugging Face ByteLevel pre-tokenisation pattern.
static const char *GPT2_PATTERN =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

void tokenizer_free(Tokenizer *t) {
    for (int i = 0; i < t->n_vocab && t->piece; i++) free(t->piece[i]);
    free(t->piece);
    free(t->piece_len);
    free(t->score);
    free(t->special);
    free(t->index.keys);
    free(t->merges.keys);
    free(t->merges.rank);
    free(t->merges.merged);
    special_trie_free(&t->added);
    pcre2_code_free(t->pretok);
    pcre2_code_free(t->digits);
    memset(t, 0, sizeof *t);
}

static int vocab_alloc(Tokenizer *t, int n, const char *path, Error *err) {
    memset(t, 0, sizeof *t);
    t->bos_id = t->eos_id = t->unk_id = -1;
    for (int i = 0; i < 4; i++) t->eot_ids[i] = -1;
    if (n <= 0 || n > 4000000) return err_set(err, "%s: vocabulary size %d is out of range", path, n);
    t->n_vocab = n;
    t->piece = calloc((size_t)n, sizeof *t->piece);
    t->piece_len = calloc((size_t)n, sizeof *t->piece_len);
    t->score = calloc((size_t)n, sizeof *t->score);
    t->special = calloc((size_t)n, 1);
    if (!t->piece || !t->piece_len || !t->score || !t->special) return err_set(err, "%s: out of memory", path);
    return 0;
}

static int set_piece(Tokenizer *t, int id, const char *s, size_t len) {
    if (len > 65536) return -1;
    char *p = malloc(len + 1);
    if (!p) return -1;
    memcpy(p, s, len);
    p[len] = '\0';
    free(t->piece[id]);
    t->piece[id] = p;
    t->piece_len[id] = (int)len;
    return 0;
}

static pcre2_code *compile(const char *pattern) {
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
    if (re) pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); // optional speed-up; falls back silently
    return re;
}

// The GPT-2 byte <-> printable character map: bytes that are printable Latin-1 map to
// themselves, the other 68 to U+0100.. in order, so every byte has a visible symbol.
static void gpt2_byte_codepoints(int cp[256]) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        cp[b] = printable ? b : 256 + n++;
    }
}

// Ids that no entry named get an empty piece (never a NULL one, which memcmp may not see).
static int fill_missing_pieces(Tokenizer *t, const char *path, Error *err) {
    for (int i = 0; i < t->n_vocab; i++)
        if (!t->piece[i] && set_piece(t, i, "", 0)) return err_set(err, "%s: out of memory", path);
    return 0;
}

// Shared last steps: index the pieces, list the special tokens, find byte symbols, compile regexes.
static int finish(Tokenizer *t, const char *path, Error *err) {
    if (fill_missing_pieces(t, path, err)) return -1;
    for (int i = 0; i < t->n_vocab; i++)
        if (t->piece_len[i] > t->max_piece_len) t->max_piece_len = t->piece_len[i];
    if (tokindex_build(&t->index, t->piece, t->piece_len, t->n_vocab)) return err_set(err, "%s: out of memory", path);
    for (int i = 0; i < t->n_vocab; i++) t->n_added += t->special[i] && t->piece_len[i] > 0;
    if (special_trie_build(&t->added, t->piece, t->piece_len, t->special, t->n_vocab))
        return err_set(err, "%s: out of memory indexing %d special tokens", path, t->n_added);
    snprintf(t->path, sizeof t->path, "%s", path);
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    if (t->kind == TOK_BYTE_BPE) {
        int cp[256];
        gpt2_byte_codepoints(cp);
        for (int b = 0; b < 256; b++) {
            char s[3];
            int n = cp[b] < 0x80 ? (s[0] = (char)cp[b], 1) : (s[0] = (char)(0xC0 | cp[b] >> 6), s[1] = (char)(0x80 | (cp[b] & 0x3F)), 2);
            s[n] = '\0';
            t->byte_id[b] = tokenizer_find(t, s);
            t->sym_byte[cp[b]] = (uint8_t)b; // a byte without a symbol (-1) is dropped, as HF BPE does without unk
        }
        t->pretok = compile(GPT2_PATTERN);
        if (!t->pretok) return err_set(err, "%s: cannot compile the pre-tokeniser regex", path);
    } else {
        for (int b = 0; b < 256; b++) {
            char s[8];
            snprintf(s, sizeof s, "<0x%02X>", b);
            t->byte_id[b] = tokenizer_find(t, s);
        }
    }
    int im_end = tokenizer_find(t, "<|im_end|>"), eot = tokenizer_find(t, "<|endoftext|>"), k = 0;
    int cand[3] = {t->eos_id, im_end, eot};
    for (int i = 0; i < 3; i++)
        if (cand[i] >= 0) t->eot_ids[k++] = cand[i];
    return 0;
}

// Adds merge "left right" with the given rank. Both halves and their concatenation must be tokens.
static int add_merge(Tokenizer *t, const char *a, size_t la, const char *b, size_t lb, int rank) {
    char buf[2048];
    if (la + lb >= sizeof buf) return -1;
    memcpy(buf, a, la);
    buf[la] = '\0';
    int left = tokenizer_find(t, buf);
    memcpy(buf, b, lb);
    buf[lb] = '\0';
    int right = tokenizer_find(t, buf);
    memcpy(buf, a, la);
    memcpy(buf + la, b, lb);
    buf[la + lb] = '\0';
    int merged = tokenizer_find(t, buf);
    if (left < 0 || right < 0 || merged < 0) return -1;
    pairmap_put(&t->merges, left, right, rank, merged);
    return 0;
}

// ---------------------------------------------------------------------------------------------

int tokenizer_from_gguf(Tokenizer *t, const char *path, Error *err) {
    GGUF g;
    memset(t, 0, sizeof *t);
    if (gguf_open(&g, path, err)) {
        gguf_close(&g);
        return -1;
    }
    GGUFStr model;
    const GGUFKV *tokens, *types = NULL;
    int rc = -1;
    if (gguf_get_str(&g, "tokenizer.ggml.model", &model, err) ||
        gguf_get_arr(&g, "tokenizer.ggml.tokens", GGUF_STRING, &tokens, err))
        goto done;
    if (vocab_alloc(t, tokens->arr_n > 4000000 ? -1 : (int)tokens->arr_n, path, err)) goto done;
    GGUFStr *strs = malloc(tokens->arr_n * sizeof *strs);
    if (!strs) { err_set(err, "%s: out of memory", path); goto done; }
    gguf_str_array(tokens, strs);
    for (int i = 0; i < t->n_vocab; i++)
        if (set_piece(t, i, strs[i].ptr, strs[i].len)) {
            free(strs);
            err_set(err, "%s: token %d is too long", path, i);
            goto done;
        }
    free(strs);
    if (gguf_find(&g, "tokenizer.ggml.token_type")) {
        if (gguf_get_arr(&g, "tokenizer.ggml.token_type", GGUF_I32, &types, err)) goto done;
        if (types->arr_n != (uint64_t)t->n_vocab) { err_set(err, "%s: token_type has %llu entries for %d tokens", path, (unsigned long long)types->arr_n, t->n_vocab); goto done; }
        for (int i = 0; i < t->n_vocab; i++) {
            int ty = (int)gguf_arr_num(types, (uint64_t)i);
            t->special[i] = ty == 3 || ty == 4; // control and user-defined tokens are matched verbatim
        }
    }
    uint32_t v;
    t->bos_id = !gguf_get_u32(&g, "tokenizer.ggml.bos_token_id", &v, NULL) && v < (uint32_t)t->n_vocab ? (int)v : -1;
    t->eos_id = !gguf_get_u32(&g, "tokenizer.ggml.eos_token_id", &v, NULL) && v < (uint32_t)t->n_vocab ? (int)v : -1;
    t->unk_id = !gguf_get_u32(&g, "tokenizer.ggml.unknown_token_id", &v, NULL) && v < (uint32_t)t->n_vocab ? (int)v : -1;
    const GGUFKV *kv = gguf_find(&g, "tokenizer.ggml.add_bos_token");
    if (gguf_str_eq(model, "gpt2")) {
        t->kind = TOK_BYTE_BPE;
        t->add_bos = kv && kv->type == GGUF_BOOL ? (int)kv->v.u : 0;
        GGUFStr pre = {"gpt2", 4};
        if (gguf_find(&g, "tokenizer.ggml.pre") && gguf_get_str(&g, "tokenizer.ggml.pre", &pre, err)) goto done;
        if (gguf_str_eq(pre, "smollm")) {
            t->digits = compile("\\p{N}");
        } else if (!gguf_str_eq(pre, "gpt2")) {
            err_set(err, "%s: pre-tokeniser '%.*s' is not supported (gpt2 and smollm are)", path, (int)(pre.len > 64 ? 64 : pre.len), pre.ptr);
            goto done;
        }
        const GGUFKV *merges;
        if (gguf_get_arr(&g, "tokenizer.ggml.merges", GGUF_STRING, &merges, err)) goto done;
        if (tokindex_build(&t->index, t->piece, t->piece_len, t->n_vocab) || pairmap_init(&t->merges, (int)merges->arr_n + 1)) {
            err_set(err, "%s: out of memory", path);
            goto done;
        }
        GGUFStr *ms = malloc((merges->arr_n + 1) * sizeof *ms);
        if (!ms) { err_set(err, "%s: out of memory", path); goto done; }
        gguf_str_array(merges, ms);
        for (uint64_t i = 0; i < merges->arr_n; i++) {
            const char *sp = memchr(ms[i].ptr, ' ', ms[i].len);
            if (!sp || add_merge(t, ms[i].ptr, (size_t)(sp - ms[i].ptr), sp + 1, ms[i].len - (size_t)(sp - ms[i].ptr) - 1, (int)i)) {
                free(ms);
                err_set(err, "%s: merge #%llu is malformed or names unknown tokens", path, (unsigned long long)i);
                goto done;
            }
        }
        free(ms);
        free(t->index.keys); // rebuilt by finish()
        t->index.keys = NULL;
    } else if (gguf_str_eq(model, "llama")) {
        t->kind = TOK_SPM;
        t->spm_meta_space = 1;
        t->add_bos = kv && kv->type == GGUF_BOOL ? (int)kv->v.u : 1;
        const GGUFKV *aps = gguf_find(&g, "tokenizer.ggml.add_space_prefix");
        t->add_prefix_space = aps && aps->type == GGUF_BOOL ? (int)aps->v.u : 1;
        const GGUFKV *scores;
        if (gguf_get_arr(&g, "tokenizer.ggml.scores", GGUF_F32, &scores, err)) goto done;
        if (scores->arr_n != (uint64_t)t->n_vocab) { err_set(err, "%s: %llu scores for %d tokens", path, (unsigned long long)scores->arr_n, t->n_vocab); goto done; }
        for (int i = 0; i < t->n_vocab; i++) t->score[i] = (float)gguf_arr_num(scores, (uint64_t)i);
    } else {
        err_set(err, "%s: tokenizer model '%.*s' is not supported (gpt2 and llama are)", path, (int)(model.len > 64 ? 64 : model.len), model.ptr);
        goto done;
    }
    rc = finish(t, path, err);
done:
    gguf_close(&g);
    if (rc) tokenizer_free(t);
    return rc;
}

// ---------------------------------------------------------------------------------------------

static const char *json_type(const cJSON *o) {
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(ty) ? ty->valuestring : "";
}

// Reads the pre_tokenizer: ByteLevel, or Sequence[Digits(individual_digits), ByteLevel].
static int json_pretok(Tokenizer *t, const cJSON *pt, const char *path, Error *err) {
    const cJSON *bl = pt;
    if (strcmp(json_type(pt), "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers");
        int n = cJSON_GetArraySize(list);
        const cJSON *first = cJSON_GetArrayItem(list, 0);
        if (n == 2 && strcmp(json_type(first), "Digits") == 0 &&
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(first, "individual_digits"))) {
            t->digits = compile("\\p{N}");
            bl = cJSON_GetArrayItem(list, 1);
        } else if (n == 1) {
            bl = first;
        } else {
            return err_set(err, "%s: pre_tokenizer Sequence is not [Digits(individual_digits), ByteLevel]", path);
        }
    }
    if (strcmp(json_type(bl), "ByteLevel") != 0)
        return err_set(err, "%s: pre_tokenizer \"%s\" is not supported (ByteLevel is)", path, json_type(bl));
    if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(bl, "use_regex")))
        return err_set(err, "%s: ByteLevel without use_regex is not supported", path);
    t->add_prefix_space = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(bl, "add_prefix_space"));
    return 0;
}

static int json_tokenizer(Tokenizer *t, const cJSON *root, const char *path, Error *err) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (strcmp(json_type(model), "BPE") != 0 || !cJSON_IsObject(vocab) || !cJSON_IsArray(merges))
        return err_set(err, "%s: expected a BPE model with \"vocab\" and \"merges\"", path);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges")))
        return err_set(err, "%s: BPE ignore_merges is not supported", path);
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (norm && !cJSON_IsNull(norm) && strcmp(json_type(norm), "NFC") != 0)
        return err_set(err, "%s: normalizer \"%s\" is not supported (NFC is)", path, json_type(norm));
    // vocabulary size: one past the largest id in vocab and added_tokens
    int n = 0;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= 4000000)
            return err_set(err, "%s: vocab entry \"%s\" has a bad id", path, e->string);
        if (e->valueint + 1 > n) n = e->valueint + 1;
    }
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= 4000000 ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(a, "content")))
            return err_set(err, "%s: an added_tokens entry lacks a valid id or content", path);
        if (id->valueint + 1 > n) n = id->valueint + 1;
    }
    if (vocab_alloc(t, n, path, err)) return -1;
    t->kind = TOK_BYTE_BPE;
    t->nfc = norm && !cJSON_IsNull(norm);
    for (const cJSON *e = vocab->child; e; e = e->next)
        if (set_piece(t, e->valueint, e->string, strlen(e->string))) return err_set(err, "%s: out of memory", path);
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        int id = cJSON_GetObjectItemCaseSensitive(a, "id")->valueint;
        const char *content = cJSON_GetObjectItemCaseSensitive(a, "content")->valuestring;
        if (set_piece(t, id, content, strlen(content))) return err_set(err, "%s: out of memory", path);
        t->special[id] = 1;
    }
    if (json_pretok(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), path, err) ||
        fill_missing_pieces(t, path, err))
        return -1;
    if (tokindex_build(&t->index, t->piece, t->piece_len, t->n_vocab) ||
        pairmap_init(&t->merges, cJSON_GetArraySize(merges) + 1))
        return err_set(err, "%s: out of memory", path);
    int rank = 0;
    for (const cJSON *m = merges->child; m; m = m->next, rank++) {
        int bad;
        if (cJSON_IsString(m)) { // "left right"
            const char *sp = strchr(m->valuestring, ' ');
            bad = !sp || add_merge(t, m->valuestring, (size_t)(sp - m->valuestring), sp + 1, strlen(sp + 1), rank);
        } else { // ["left", "right"]
            const cJSON *a = cJSON_GetArrayItem(m, 0), *b = cJSON_GetArrayItem(m, 1);
            bad = !cJSON_IsString(a) || !cJSON_IsString(b) ||
                  add_merge(t, a->valuestring, strlen(a->valuestring), b->valuestring, strlen(b->valuestring), rank);
        }
        if (bad) return err_set(err, "%s: merge #%d is malformed or names unknown tokens", path, rank);
    }
    free(t->index.keys);
    t->index.keys = NULL;
    t->bos_id = t->eos_id = tokenizer_find(t, "<|endoftext|>");
    return finish(t, path, err);
}

int tokenizer_from_json_text(Tokenizer *t, const char *text, size_t len, const char *name, Error *err) {
    memset(t, 0, sizeof *t);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(err, "%s: not valid JSON", name);
    }
    int rc = json_tokenizer(t, root, name, err);
    cJSON_Delete(root);
    if (rc) tokenizer_free(t);
    return rc;
}

int tokenizer_from_json(Tokenizer *t, const char *path, Error *err) {
    size_t len;
    memset(t, 0, sizeof *t);
    char *text = read_regular_file(path, &len, err);
    if (!text) return -1;
    int rc = tokenizer_from_json_text(t, text, len, path, err);
    free(text);
    return rc;
}

// ---------------------------------------------------------------------------------------------

int tokenizer_from_llama2c(Tokenizer *t, const char *path, Error *err) {
    memset(t, 0, sizeof *t);
    MappedFile f;
    if (mapfile_open(&f, path, err)) return -1;
    int n = 0, rc = -1;
    // first pass: count and bounds-check the entries (u32 max_len, then {f32 score, i32 len, bytes})
    if (f.size < 4) { err_set(err, "%s: too short for a llama2.c tokenizer", path); goto done; }
    const uint8_t *p = f.data, *end = f.data + f.size; // (an empty file has no data pointer at all)
    for (p += 4; p < end; n++) {
        int32_t len;
        if (end - p < 8) { err_set(err, "%s: truncated at token %d", path, n); goto done; }
        memcpy(&len, p + 4, 4);
        if (len < 0 || len > 65536 || len > end - p - 8) { err_set(err, "%s: token %d has a bad length %d", path, n, len); goto done; }
        p += 8 + len;
    }
    if (vocab_alloc(t, n, path, err)) goto done;
    p = f.data + 4;
    for (int i = 0; i < n; i++) {
        int32_t len;
        memcpy(&t->score[i], p, 4);
        memcpy(&len, p + 4, 4);
        if (set_piece(t, i, (const char *)p + 8, (size_t)len)) { err_set(err, "%s: out of memory", path); goto done; }
        p += 8 + len;
    }
    t->kind = TOK_SPM;
    t->add_prefix_space = 1; // llama2.c stores spaces as ' ', and adds a dummy prefix space
    t->add_bos = 1;
    t->unk_id = 0;
    t->bos_id = n > 1 ? 1 : -1;
    t->eos_id = n > 2 ? 2 : -1;
    rc = finish(t, path, err);
done:
    mapfile_close(&f);
    if (rc) tokenizer_free(t);
    return rc;
}

// ---------------------------------------------------------------------------------------------

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int tokenizer_check_model(const Tokenizer *t, int model_vocab, const char *model_path, Error *err) {
    long padded = ((long)t->n_vocab + 1023) / 1024 * 1024;
    if (t->n_vocab > model_vocab)
        return err_set(err, "%s: the tokenizer has %d tokens, but the model %s has only %d: they do not belong together",
                       t->path, t->n_vocab, model_path, model_vocab);
    if (model_vocab > padded)
        return err_set(err, "%s: the tokenizer has %d tokens, but the model %s has %d: they do not belong together",
                       t->path, t->n_vocab, model_path, model_vocab);
    return 0;
}

int tokenizer_load(Tokenizer *t, const char *model_path, const char *explicit_path, Error *err) {
    const char *p = explicit_path ? explicit_path : model_path;
    size_t n = strlen(p);
    struct stat st;
    if (stat(p, &st) != 0) return err_set(err, "%s: no such file or directory", p);
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return err_set(err, "%s: not a regular file or directory", p);
    if (S_ISDIR(st.st_mode)) {
        char j[4096];
        snprintf(j, sizeof j, "%s/tokenizer.json", p);
        return tokenizer_from_json(t, j, err);
    }
    if (n >= 5 && strcmp(p + n - 5, ".gguf") == 0) return tokenizer_from_gguf(t, p, err);
    if (n >= 5 && strcmp(p + n - 5, ".json") == 0) return tokenizer_from_json(t, p, err);
    if (explicit_path) return tokenizer_from_llama2c(t, p, err);
    // a llama2.c checkpoint: its tokenizer sits beside it, as tok<vocab>.bin or tokenizer.bin
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", model_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0'; else snprintf(dir, sizeof dir, ".");
    FILE *fp = fopen(model_path, "rb");
    int32_t h[7] = {0};
    if (fp) {
        if (fread(h, 4, 7, fp) != 7) h[5] = 0;
        fclose(fp);
    }
    char cand[2][4160];
    snprintf(cand[0], sizeof cand[0], "%s/tok%lld.bin", dir, h[5] < 0 ? -(long long)h[5] : (long long)h[5]);
    snprintf(cand[1], sizeof cand[1], "%s/tokenizer.bin", dir);
    for (int i = 0; i < 2; i++)
        if (is_file(cand[i])) return tokenizer_from_llama2c(t, cand[i], err);
    return err_set(err, "%s: no tokenizer found beside it (looked for %s and %s); pass --tokenizer", model_path,
                   cand[0], cand[1]);
}
