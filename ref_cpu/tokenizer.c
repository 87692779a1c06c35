#define _POSIX_C_SOURCE 200809L
#include "tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <limits.h>
#include <math.h>
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

// Special tokens in a trie: node -> child by one byte, in a hash keyed by (node << 8 | byte).
static int32_t trie_child(const SpecialTrie *tr, int32_t node, uint8_t byte) {
    uint64_t key = ((uint64_t)(uint32_t)node << 8 | byte) + 1;
    uint32_t h = fnv1a(&key, 8) & (tr->cap - 1);
    for (; tr->keys[h] != 0; h = (h + 1) & (tr->cap - 1))
        if (tr->keys[h] == key) return tr->child[h];
    return -1;
}

// Inserts the special tokens in id order, so of two with the same text the lower id wins.
int special_trie_build(SpecialTrie *tr, char *const *piece, const int *len, const uint8_t *special, int n) {
    uint64_t edges = 0;
    for (int id = 0; id < n; id++)
        if (special[id]) edges += (uint64_t)len[id];
    memset(tr, 0, sizeof *tr);
    if (edges >= (1u << 30)) return -1;
    tr->cap = pow2_at_least((uint32_t)edges + 1);
    tr->keys = calloc(tr->cap, sizeof *tr->keys);
    tr->child = malloc(tr->cap * sizeof *tr->child);
    tr->id = malloc(((size_t)edges + 1) * sizeof *tr->id);
    if (!tr->keys || !tr->child || !tr->id) return -1;
    tr->n_nodes = 1;
    tr->id[0] = -1;
    for (int id = 0; id < n; id++) {
        if (!special[id] || len[id] == 0) continue;
        int32_t node = 0;
        for (int i = 0; i < len[id]; i++) {
            uint64_t key = ((uint64_t)(uint32_t)node << 8 | (uint8_t)piece[id][i]) + 1;
            uint32_t h = fnv1a(&key, 8) & (tr->cap - 1);
            while (tr->keys[h] != 0 && tr->keys[h] != key) h = (h + 1) & (tr->cap - 1);
            if (tr->keys[h] == 0) {
                tr->keys[h] = key;
                tr->child[h] = tr->n_nodes;
                tr->id[tr->n_nodes++] = -1;
            }
            node = tr->child[h];
        }
        if (tr->id[node] < 0) tr->id[node] = id;
    }
    return 0;
}

void special_trie_free(SpecialTrie *tr) {
    free(tr->keys);
    free(tr->child);
    free(tr->id);
    memset(tr, 0, sizeof *tr);
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
// Merging fast: the same choices as the simple scans below, in O(n log n)

// ANCHOR: merge_fast
// The simple scans look at every pair again after each merge: O(n^2) for a word of n symbols
// (a 1 MB line without spaces would take hours). Here the symbols form a linked list and every
// possible merge waits in a binary heap ordered by (priority, position), so the best one,
// leftmost on ties, is always on top. A merge changes only its two neighbouring pairs: those
// are pushed anew; an entry whose pair has changed since is skipped when it comes up.
typedef struct {
    int id, prev, next; // id, or SYM_GONE once merged into its left neighbour
} Sym;
#define SYM_GONE INT_MIN
#define NO_MERGE UINT32_MAX

// The merge of (left, right): its priority (lower merges first) and the merged id, or NO_MERGE.
typedef uint32_t (*PairFn)(const Tokenizer *t, int left, int right, int *merged);

// A heap entry is one uint64: priority << 32 | position of the left symbol, so that comparing
// two entries compares priorities first and positions on ties. (8 bytes: a 1 MB word's heap of
// 3 million entries stays small enough to be fast.)
static void heap_push(uint64_t *h, int *n, uint64_t c) {
    int i = (*n)++;
    for (; i > 0 && c < h[(i - 1) / 2]; i = (i - 1) / 2) h[i] = h[(i - 1) / 2];
    h[i] = c;
}

static uint64_t heap_pop(uint64_t *h, int *n) {
    uint64_t top = h[0], last = h[--*n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= last) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
    return top;
}

static void push_pair(const Tokenizer *t, PairFn pair, const Sym *s, int left, uint64_t *h, int *n) {
    int merged;
    if (left < 0 || s[left].next < 0) return;
    uint32_t prio = pair(t, s[left].id, s[s[left].next].id, &merged);
    if (prio != NO_MERGE) heap_push(h, n, (uint64_t)prio << 32 | (uint32_t)left);
}

// Merges ids[n] in place; returns the new count, or -1 when out of memory.
static int merge_fast(const Tokenizer *t, PairFn pair, int *ids, int n) {
    if (n < 2) return n;
    Sym *s = malloc((size_t)n * sizeof *s);
    uint64_t *h = malloc(3 * (size_t)n * sizeof *h); // n - 1 pairs, then at most 2 per merge
    if (!s || !h) {
        free(s);
        free(h);
        return -1;
    }
    int nh = 0;
    for (int i = 0; i < n; i++) s[i] = (Sym){ids[i], i - 1, i + 1 < n ? i + 1 : -1};
    for (int i = 0; i + 1 < n; i++) push_pair(t, pair, s, i, h, &nh);
    while (nh > 0) {
        uint64_t c = heap_pop(h, &nh);
        int left = (int)(uint32_t)c, right = s[left].next, merged;
        // still a pair, and still the pair this entry was pushed for (its priority says so; an
        // equal priority at the same position is an equally good pair to merge now)
        if (s[left].id == SYM_GONE || right < 0 || pair(t, s[left].id, s[right].id, &merged) != (uint32_t)(c >> 32))
            continue;
        s[left].id = merged;
        s[left].next = s[right].next;
        if (s[right].next >= 0) s[s[right].next].prev = left;
        s[right].id = SYM_GONE;
        push_pair(t, pair, s, s[left].prev, h, &nh);
        push_pair(t, pair, s, left, h, &nh);
    }
    int m = 0;
    for (int i = 0; i >= 0; i = s[i].next) ids[m++] = s[i].id;
    free(s);
    free(h);
    return m;
}
// END: merge_fast

// ---------------------------------------------------------------------------------------------
// Byte-level BPE

static uint32_t bpe_pair(const Tokenizer *t, int left, int right, int *merged) { // the merge's rank
    int r = pairmap_get(&t->merges, left, right, merged);
    return r == INT_MAX || r < 0 ? NO_MERGE : (uint32_t)r;
}

// ANCHOR: bpe_merge
// Merges the bytes of one pre-token: start from one symbol per byte, then repeatedly merge the
// adjacent pair with the lowest merge rank (the leftmost on ties) until no pair has a merge.
// (Unless t->simple_merges is set, merge_fast has already made the same merges.)
static int bpe_word(const Tokenizer *t, const uint8_t *s, int n, TokenList *out) {
    int stack[64], *sym = n <= 64 ? stack : malloc((size_t)n * sizeof *sym);
    if (!sym) return -1;
    int m = 0;
    for (int i = 0; i < n; i++) // bytes whose symbol the vocabulary lacks are dropped (HF without unk)
        if (t->byte_id[s[i]] >= 0) sym[m++] = t->byte_id[s[i]];
    if (!t->simple_merges) m = merge_fast(t, bpe_pair, sym, m);
    for (; m > 0;) {
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
    int rc = m < 0 ? -1 : 0;
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

// The merged piece's score, higher first: its float bits made to sort as unsigned integers do,
// then inverted. Scores at or below -1e30 and NaN never merge, as in the scan.
static uint32_t spm_pair(const Tokenizer *t, int a, int b, int *merged) {
    char buf[1024];
    if (a < 0 || b < 0) return NO_MERGE;
    int la = t->piece_len[a], lb = t->piece_len[b];
    if (la + lb > (int)sizeof buf) return NO_MERGE;
    memcpy(buf, t->piece[a], (size_t)la);
    memcpy(buf + la, t->piece[b], (size_t)lb);
    int id = tokindex_find(t, buf, (size_t)(la + lb));
    if (id < 0 || !(t->score[id] > -1e30f)) return NO_MERGE;
    *merged = id;
    float score = t->score[id] == 0 ? 0.0f : t->score[id]; // -0 ties with +0, as == says
    uint32_t u;
    memcpy(&u, &score, 4);
    u = u & 0x80000000u ? ~u : u | 0x80000000u; // now ascending with the score
    return ~u;                                    // and descending
}

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
    if (!t->simple_merges && (sym.n = merge_fast(t, spm_pair, sym.ids, sym.n)) < 0) goto fail;
    char buf[1024];
    for (; sym.n > 0;) {
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

// The longest special token that starts at s[i], or -1: one walk down the trie of their bytes.
static int match_special(const Tokenizer *t, const char *s, size_t n, size_t i) {
    int best = -1;
    if (t->n_added == 0) return -1;
    for (int32_t node = 0; i < n && (node = trie_child(&t->added, node, (uint8_t)s[i])) >= 0; i++)
        if (t->added.id[node] >= 0) best = t->added.id[node];
    return best;
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
