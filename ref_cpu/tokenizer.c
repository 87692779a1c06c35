#define _POSIX_C_SOURCE 200809L
#include "tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <limits.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

// ---------------------------------------------------------------------------------------------
// Hash tables (FNV-1a, open addressing, power-of-two capacity, load factor <= 1/2)

static uint32_t fnv1a(const void *data, size_t n) {
    const uint8_t *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static uint32_t pow2_at_least(uint32_t n) {
    uint32_t c = 16;
    while (c < 2 * n) c <<= 1;
    return c;
}

int tokindex_build(TokIndex *ix, char *const *piece, const int *len, int n) {
    ix->cap = pow2_at_least((uint32_t)n);
    ix->keys = calloc(ix->cap, sizeof *ix->keys);
    if (!ix->keys) return -1;
    for (int id = 0; id < n; id++) {
        uint32_t h = fnv1a(piece[id], (size_t)len[id]) & (ix->cap - 1);
        for (;; h = (h + 1) & (ix->cap - 1)) {
            uint32_t k = ix->keys[h];
            if (k == 0) { ix->keys[h] = (uint32_t)id + 1; break; }
            // a duplicate piece keeps its first id, as HF vocabularies do
            if (len[k - 1] == len[id] && memcmp(piece[k - 1], piece[id], (size_t)len[id]) == 0) break;
        }
    }
    return 0;
}

static int tokindex_find(const Tokenizer *t, const char *s, size_t n) {
    if (!t->index.keys) return -1;
    uint32_t h = fnv1a(s, n) & (t->index.cap - 1);
    for (;; h = (h + 1) & (t->index.cap - 1)) {
        uint32_t k = t->index.keys[h];
        if (k == 0) return -1;
        if ((size_t)t->piece_len[k - 1] == n && memcmp(t->piece[k - 1], s, n) == 0) return (int)k - 1;
    }
}

int tokenizer_find(const Tokenizer *t, const char *piece) { return tokindex_find(t, piece, strlen(piece)); }

int pairmap_init(PairMap *m, int n) {
    m->cap = pow2_at_least((uint32_t)n);
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->rank = malloc(m->cap * sizeof *m->rank);
    m->merged = malloc(m->cap * sizeof *m->merged);
    return m->keys && m->rank && m->merged ? 0 : -1;
}

void pairmap_put(PairMap *m, int left, int right, int rank, int merged) {
    uint64_t key = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1;
    uint32_t h = fnv1a(&key, 8) & (m->cap - 1);
    while (m->keys[h] != 0 && m->keys[h] != key) h = (h + 1) & (m->cap - 1);
    if (m->keys[h] == key) return; // the first (lowest-rank) merge of a pair wins
    m->keys[h] = key;
    m->rank[h] = rank;
    m->merged[h] = merged;
}

static int pairmap_get(const PairMap *m, int left, int right, int *merged) {
    uint64_t key = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1;
    uint32_t h = fnv1a(&key, 8) & (m->cap - 1);
    for (; m->keys[h] != 0; h = (h + 1) & (m->cap - 1))
        if (m->keys[h] == key) {
            *merged = m->merged[h];
            return m->rank[h];
        }
    return INT_MAX;
}

// ---------------------------------------------------------------------------------------------
// Token lists and UTF-8

void tokenlist_free(TokenList *l) {
    free(l->ids);
    memset(l, 0, sizeof *l);
}

static int push(TokenList *l, int id) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        int *ids = realloc(l->ids, (size_t)cap * sizeof *ids);
        if (!ids) return -1;
        l->ids = ids;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return 0;
}

// Length of the valid UTF-8 character at s[0..n), or 0 if it is not one.
static int utf8_char_len(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || (size_t)len > n) return 0;
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (len == 1) return 1;
    uint32_t cp = len == 2 ? (c & 0x1Fu) << 6 | (s[1] & 0x3F)
                : len == 3 ? (c & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3F)
                           : (c & 0x07u) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 | (s[3] & 0x3F);
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000}; // shorter forms are overlong
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

// A copy of s with every byte that is not part of a valid character replaced by U+FFFD.
static char *utf8_sanitize(const char *s, size_t n, size_t *out_n) {
    char *out = malloc(3 * n + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n;) {
        int len = utf8_char_len((const uint8_t *)s + i, n - i);
        if (len) {
            memcpy(o, s + i, (size_t)len);
            o += len;
            i += (size_t)len;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    *o = '\0';
    *out_n = (size_t)(o - out);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Byte-level BPE

// ANCHOR: bpe_merge
// Merges the bytes of one pre-token: start from one symbol per byte, then repeatedly merge the
// adjacent pair with the lowest merge rank (the leftmost on ties) until no pair has a merge.
static int bpe_word(const Tokenizer *t, const uint8_t *s, int n, TokenList *out) {
    int stack[64], *sym = n <= 64 ? stack : malloc((size_t)n * sizeof *sym);
    if (!sym) return -1;
    int m = 0;
    for (int i = 0; i < n; i++) // bytes whose symbol the vocabulary lacks are dropped (HF without unk)
        if (t->byte_id[s[i]] >= 0) sym[m++] = t->byte_id[s[i]];
    for (;;) {
        int best_rank = INT_MAX, best_i = -1, best_id = -1;
        for (int i = 0; i + 1 < m; i++) {
            int merged, r = pairmap_get(&t->merges, sym[i], sym[i + 1], &merged);
            if (r < best_rank) {
                best_rank = r;
                best_i = i;
                best_id = merged;
            }
        }
        if (best_i < 0) break;
        sym[best_i] = best_id;
        memmove(sym + best_i + 1, sym + best_i + 2, (size_t)(m - best_i - 2) * sizeof *sym);
        m--;
    }
    int rc = 0;
    for (int i = 0; i < m && !rc; i++) rc = push(out, sym[i]);
    if (sym != stack) free(sym);
    return rc;
}
// END: bpe_merge

typedef int (*PieceFn)(const Tokenizer *t, const char *s, size_t n, TokenList *out, int depth);

// Splits s[n] around the matches of re (each match and each gap between matches is a piece, as
// Hugging Face's "Isolated" split behaviour does) and hands every piece to next.
static int regex_split(const Tokenizer *t, pcre2_code *re, const char *s, size_t n, PieceFn next, TokenList *out,
                       int depth) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) return -1;
    size_t off = 0;
    int rc = 0;
    while (off < n && !rc) {
        int r = pcre2_match(re, (PCRE2_SPTR)s, n, off, PCRE2_NO_UTF_CHECK, md, NULL);
        if (r < 0) {
            rc = next(t, s + off, n - off, out, depth);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = ov[0], b = ov[1];
        if (b == a) { // an empty match: step over one character (our patterns never do this)
            b = a + (size_t)utf8_char_len((const uint8_t *)s + a, n - a);
            if (b == a) b = a + 1;
        }
        if (a > off) rc = next(t, s + off, a - off, out, depth);
        if (!rc) rc = next(t, s + a, b - a, out, depth);
        off = b;
    }
    pcre2_match_data_free(md);
    return rc;
}

static int pretok_piece(const Tokenizer *t, const char *s, size_t n, TokenList *out, int depth) {
    (void)depth;
    return bpe_word(t, (const uint8_t *)s, (int)n, out);
}

static int digit_piece(const Tokenizer *t, const char *s, size_t n, TokenList *out, int depth) {
    return regex_split(t, t->pretok, s, n, pretok_piece, out, depth);
}

// ANCHOR: byte_level_segment
static int byte_level_segment(const Tokenizer *t, const char *s, size_t n, TokenList *out) {
    char *norm = NULL;
    if (t->nfc) {
        utf8proc_uint8_t *dst = NULL;
        utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst,
                                          UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (m < 0) return -1;
        norm = (char *)dst;
        s = norm;
        n = (size_t)m;
    }
    // SmolLM2 first isolates every digit; then the GPT-2 regex splits words, numbers,
    // punctuation and whitespace; each piece is merged on its own.
    int rc = t->digits ? regex_split(t, t->digits, s, n, digit_piece, out, 0)
                       : regex_split(t, t->pretok, s, n, pretok_piece, out, 0);
    free(norm);
    return rc;
}
// END: byte_level_segment

// ---------------------------------------------------------------------------------------------
// SentencePiece-style BPE

// ANCHOR: spm_merge
// Encodes one word (s starts at a space or at the text's start; SentencePiece pieces never
// contain a space except at their start, so no merge crosses a word boundary).
static int spm_word(const Tokenizer *t, const char *s, size_t n, TokenList *out) {
    TokenList sym = {0};
    for (size_t i = 0; i < n;) {
        int len = utf8_char_len((const uint8_t *)s + i, n - i);
        int id = tokindex_find(t, s + i, (size_t)len);
        if (id >= 0) {
            if (push(&sym, id)) goto fail;
        } else {
            for (int b = 0; b < len; b++) { // byte fallback: <0xXX> tokens
                int bid = t->byte_id[(uint8_t)s[i + b]];
                if (push(&sym, bid >= 0 ? bid : t->unk_id)) goto fail;
            }
        }
        i += (size_t)len;
    }
    char buf[1024];
    for (;;) {
        float best = -1e30f;
        int best_i = -1, best_id = -1;
        for (int i = 0; i + 1 < sym.n; i++) {
            int a = sym.ids[i], b = sym.ids[i + 1];
            if (a < 0 || b < 0) continue;
            int la = t->piece_len[a], lb = t->piece_len[b];
            if (la + lb > (int)sizeof buf) continue;
            memcpy(buf, t->piece[a], (size_t)la);
            memcpy(buf + la, t->piece[b], (size_t)lb);
            int id = tokindex_find(t, buf, (size_t)(la + lb));
            if (id >= 0 && t->score[id] > best) {
                best = t->score[id];
                best_i = i;
                best_id = id;
            }
        }
        if (best_i < 0) break;
        sym.ids[best_i] = best_id;
        memmove(sym.ids + best_i + 1, sym.ids + best_i + 2, (size_t)(sym.n - best_i - 2) * sizeof(int));
        sym.n--;
    }
    for (int i = 0; i < sym.n; i++)
        if (sym.ids[i] >= 0 && push(out, sym.ids[i])) goto fail;
    tokenlist_free(&sym);
    return 0;
fail:
    tokenlist_free(&sym);
    return -1;
}
// END: spm_merge

static int spm_segment(const Tokenizer *t, const char *s, size_t n, TokenList *out) {
    // spaces become U+2581 in vocabularies that store them so (3 bytes instead of 1)
    char *meta = NULL;
    if (t->spm_meta_space) {
        meta = malloc(3 * n + 1);
        if (!meta) return -1;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == ' ') {
                memcpy(meta + m, "\xE2\x96\x81", 3);
                m += 3;
            } else {
                meta[m++] = s[i];
            }
        }
        s = meta;
        n = m;
    }
    const char *sp = t->spm_meta_space ? "\xE2\x96\x81" : " ";
    size_t spn = strlen(sp), start = 0;
    int rc = 0;
    for (size_t i = 1; i <= n && !rc; i++) {
        if (i == n || (i + spn <= n && memcmp(s + i, sp, spn) == 0)) {
            rc = spm_word(t, s + start, i - start, out);
            start = i;
        }
    }
    free(meta);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Encode: special tokens first, then the model's own algorithm on the text between them.

// The longest special token that starts at s[i], or -1.
static int match_special(const Tokenizer *t, const char *s, size_t n, size_t i) {
    for (int k = 0; k < t->n_added; k++) {
        int id = t->added[k];
        size_t len = (size_t)t->piece_len[id];
        if (len > 0 && len <= n - i && memcmp(s + i, t->piece[id], len) == 0) return id;
    }
    return -1;
}

// ANCHOR: encode
int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int add_bos, TokenList *out, Error *err) {
    size_t n;
    char *s = utf8_sanitize(text, len, &n);
    if (!s) return err_set(err, "out of memory");
    if (add_bos && t->add_bos && t->bos_id >= 0 && push(out, t->bos_id)) goto oom;
    int first = 1;
    size_t seg = 0;
    for (size_t i = 0; i <= n; i++) {
        int sp = i < n ? match_special(t, s, n, i) : -1;
        if (i < n && sp < 0) continue;
        if (i > seg) { // ordinary text between special tokens
            const char *p = s + seg;
            size_t m = i - seg;
            char *pre = NULL;
            if (t->add_prefix_space && first) { // only the text's first segment gets the space
                pre = malloc(m + 2);
                if (!pre) goto oom;
                pre[0] = ' ';
                memcpy(pre + 1, p, m);
                p = pre;
                m++;
            }
            int rc = t->kind == TOK_BYTE_BPE ? byte_level_segment(t, p, m, out) : spm_segment(t, p, m, out);
            free(pre);
            if (rc) goto oom;
        }
        first = 0;
        if (sp >= 0) {
            if (push(out, sp)) goto oom;
            i += (size_t)t->piece_len[sp] - 1;
        }
        seg = i + 1;
    }
    free(s);
    return 0;
oom:
    free(s);
    return err_set(err, "out of memory while tokenising");
}
// END: encode

// ---------------------------------------------------------------------------------------------
// Decode

void tokdecoder_init(TokDecoder *d) {
    d->prev = -1;
    d->n_pending = 0;
}

// The raw bytes a token stands for, into buf; returns their count.
static int token_bytes(const Tokenizer *t, int prev, int id, uint8_t *buf, int cap) {
    const char *p = t->piece[id];
    int n = t->piece_len[id], m = 0;
    if (t->kind == TOK_SPM && (id == t->bos_id || id == t->eos_id)) return 0; // control, not text
    if (t->special[id]) {
        m = n < cap ? n : cap;
        memcpy(buf, p, (size_t)m);
        return m;
    }
    if (t->kind == TOK_BYTE_BPE) {
        for (int i = 0; i < n && m < cap;) { // each character of the piece stands for one byte
            int len = utf8_char_len((const uint8_t *)p + i, (size_t)(n - i));
            if (len == 0) len = 1;
            uint32_t cp = (uint8_t)p[i];
            if (len == 2) cp = ((uint8_t)p[i] & 0x1Fu) << 6 | ((uint8_t)p[i + 1] & 0x3F);
            buf[m++] = cp < 324 ? t->sym_byte[cp] : (uint8_t)'?';
            i += len;
        }
        return m;
    }
    unsigned byte;
    if (n == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>' && sscanf(p, "<0x%2X>", &byte) == 1) {
        buf[0] = (uint8_t)byte;
        return 1;
    }
    for (int i = 0; i < n && m < cap;) {
        if (t->spm_meta_space && i + 3 <= n && memcmp(p + i, "\xE2\x96\x81", 3) == 0) {
            buf[m++] = ' ';
            i += 3;
        } else {
            buf[m++] = (uint8_t)p[i++];
        }
    }
    if (m > 0 && buf[0] == ' ' && (prev == t->bos_id || prev < 0) && t->add_prefix_space) { // the dummy prefix
        memmove(buf, buf + 1, (size_t)--m);
    }
    return m;
}

static int put(char *out, int cap, int o, const uint8_t *b, int n) {
    if (o + n < cap) memcpy(out + o, b, (size_t)n);
    return o + n < cap ? o + n : o;
}

// ANCHOR: stream_decode
int tokdecoder_push(TokDecoder *d, const Tokenizer *t, int id, char *out, int out_cap) {
    int o = 0;
    if (out_cap > 0) out[0] = '\0';
    if (id < 0 || id >= t->n_vocab || out_cap <= 0) return 0;
    uint8_t stackbuf[1024], *buf = stackbuf;
    int need = d->n_pending + t->piece_len[id] + 4;
    if (need > (int)sizeof stackbuf && !(buf = malloc((size_t)need))) return 0;
    memcpy(buf, d->pending, (size_t)d->n_pending);
    int n = d->n_pending + token_bytes(t, d->prev, id, buf + d->n_pending, need - d->n_pending);
    d->prev = id;
    d->n_pending = 0;
    for (int i = 0; i < n;) {
        int len = utf8_char_len(buf + i, (size_t)(n - i));
        if (len) {
            o = put(out, out_cap, o, buf + i, len);
            i += len;
            continue;
        }
        // not a whole character: an unfinished one at the end waits for the next token
        uint8_t c = buf[i];
        int want = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        int tail_ok = want > n - i;
        for (int k = i + 1; k < n && tail_ok; k++) tail_ok = (buf[k] & 0xC0) == 0x80;
        if (want && tail_ok) {
            d->n_pending = n - i;
            memcpy(d->pending, buf + i, (size_t)d->n_pending);
            break;
        }
        o = put(out, out_cap, o, (const uint8_t *)"\xEF\xBF\xBD", 3); // invalid byte
        i++;
    }
    out[o] = '\0';
    if (buf != stackbuf) free(buf);
    return o;
}
// END: stream_decode

int tokdecoder_flush(TokDecoder *d, char *out, int out_cap) {
    int o = 0;
    if (d->n_pending && out_cap > 3) {
        memcpy(out, "\xEF\xBF\xBD", 3);
        o = 3;
    }
    if (out_cap > 0) out[o] = '\0';
    d->n_pending = 0;
    return o;
}

char *tokenizer_decode(const Tokenizer *t, const int *ids, int n) {
    size_t cap = 3 * (size_t)t->max_piece_len + 16, len = 0, size = 256;
    char *piece = malloc(cap), *s = malloc(size);
    if (!piece || !s) {
        free(piece);
        free(s);
        return NULL;
    }
    TokDecoder d;
    tokdecoder_init(&d);
    for (int i = 0; i <= n; i++) {
        int m = i < n ? tokdecoder_push(&d, t, ids[i], piece, (int)cap) : tokdecoder_flush(&d, piece, (int)cap);
        if (len + (size_t)m + 1 > size) {
            while (len + (size_t)m + 1 > size) size *= 2;
            char *ns = realloc(s, size);
            if (!ns) {
                free(s);
                free(piece);
                return NULL;
            }
            s = ns;
        }
        memcpy(s + len, piece, (size_t)m);
        len += (size_t)m;
    }
    s[len] = '\0';
    free(piece);
    return s;
}
