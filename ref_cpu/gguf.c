#define _POSIX_C_SOURCE 200809L
#include "gguf.h"

#include <stdlib.h>
#include <string.h>

#include "quant.h"

#define GGUF_MAGIC 0x46554747u // "GGUF" read as a little-endian u32
#define GGUF_MAX_DIMS 4
#define GGUF_MAX_DEPTH 4       // arrays of arrays nest at most this deep

// A cursor over the file: every read checks that enough bytes remain.
typedef struct {
    const uint8_t *p, *end;
} Cursor;

static size_t left(const Cursor *c) { return (size_t)(c->end - c->p); }

static int rd(Cursor *c, void *out, size_t n) {
    if (left(c) < n) return -1;
    memcpy(out, c->p, n);
    c->p += n;
    return 0;
}

static int rd_str(Cursor *c, GGUFStr *s) {
    uint64_t len;
    if (rd(c, &len, 8) || len > left(c)) return -1;
    s->ptr = (const char *)c->p;
    s->len = len;
    c->p += len;
    return 0;
}

static size_t scalar_size(uint32_t t) {
    static const size_t sz[GGUF_NTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < GGUF_NTYPES ? sz[t] : 0;
}

const char *gguf_type_name(uint32_t t) {
    static const char *names[GGUF_NTYPES] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                             "bool", "string", "array", "u64", "i64", "f64"};
    return t < GGUF_NTYPES ? names[t] : "unknown";
}

// Skips one array body (elem type, count, elements), checking every length on the way.
static int skip_array(Cursor *c, int depth) {
    uint32_t t;
    uint64_t n;
    if (depth > GGUF_MAX_DEPTH || rd(c, &t, 4) || rd(c, &n, 8)) return -1;
    if (t == GGUF_STRING) {
        if (n > left(c) / 8) return -1;
        for (uint64_t i = 0; i < n; i++) {
            GGUFStr s;
            if (rd_str(c, &s)) return -1;
        }
        return 0;
    }
    if (t == GGUF_ARRAY) {
        if (n > left(c) / 12) return -1;
        for (uint64_t i = 0; i < n; i++)
            if (skip_array(c, depth + 1)) return -1;
        return 0;
    }
    size_t es = scalar_size(t);
    if (es == 0 || n > left(c) / es) return -1;
    c->p += n * es;
    return 0;
}

static int read_kv(Cursor *c, GGUFKV *kv) {
    if (rd_str(c, &kv->key) || rd(c, &kv->type, 4)) return -1;
    uint8_t b[8] = {0};
    switch (kv->type) {
    case GGUF_U8: case GGUF_BOOL: if (rd(c, b, 1)) return -1; kv->v.u = b[0]; break;
    case GGUF_I8: if (rd(c, b, 1)) return -1; kv->v.i = (int8_t)b[0]; break;
    case GGUF_U16: { uint16_t x; if (rd(c, &x, 2)) return -1; kv->v.u = x; break; }
    case GGUF_I16: { int16_t x; if (rd(c, &x, 2)) return -1; kv->v.i = x; break; }
    case GGUF_U32: { uint32_t x; if (rd(c, &x, 4)) return -1; kv->v.u = x; break; }
    case GGUF_I32: { int32_t x; if (rd(c, &x, 4)) return -1; kv->v.i = x; break; }
    case GGUF_U64: { uint64_t x; if (rd(c, &x, 8)) return -1; kv->v.u = x; break; }
    case GGUF_I64: { int64_t x; if (rd(c, &x, 8)) return -1; kv->v.i = x; break; }
    case GGUF_F32: { float x; if (rd(c, &x, 4)) return -1; kv->v.f = x; break; }
    case GGUF_F64: { double x; if (rd(c, &x, 8)) return -1; kv->v.f = x; break; }
    case GGUF_STRING: if (rd_str(c, &kv->v.s)) return -1; break;
    case GGUF_ARRAY: {
        Cursor start = *c;
        if (rd(c, &kv->arr_type, 4) || rd(c, &kv->arr_n, 8)) return -1;
        kv->arr_data = c->p;
        *c = start;
        if (skip_array(c, 0)) return -1;
        break;
    }
    default: return -1;
    }
    return 0;
}

static int cmp_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }

static int by_offset(const void *a, const void *b) {
    const GGUFTensor *x = *(const GGUFTensor *const *)a, *y = *(const GGUFTensor *const *)b;
    return cmp_u64(x->offset, y->offset);
}

static int by_name(const void *a, const void *b) {
    const GGUFTensor *x = *(const GGUFTensor *const *)a, *y = *(const GGUFTensor *const *)b;
    uint64_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int r = memcmp(x->name.ptr, y->name.ptr, n);
    return r ? r : cmp_u64(x->name.len, y->name.len);
}

// Tensors must not overlap each other and names must be unique.
static int check_tensor_set(GGUF *g, Error *err) {
    if (g->n_tensors < 2) return 0;
    const GGUFTensor **ix = malloc(g->n_tensors * sizeof *ix);
    if (!ix) return err_set(err, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < g->n_tensors; i++) ix[i] = &g->tensors[i];
    int rc = 0;
    qsort(ix, g->n_tensors, sizeof *ix, by_offset);
    for (uint64_t i = 1; i < g->n_tensors && !rc; i++)
        if (ix[i - 1]->offset + ix[i - 1]->nbytes > ix[i]->offset)
            rc = err_set(err, "%s: tensors '%.*s' and '%.*s' overlap", g->path,
                         (int)ix[i - 1]->name.len, ix[i - 1]->name.ptr, (int)ix[i]->name.len, ix[i]->name.ptr);
    qsort(ix, g->n_tensors, sizeof *ix, by_name);
    for (uint64_t i = 1; i < g->n_tensors && !rc; i++)
        if (by_name(&ix[i - 1], &ix[i]) == 0)
            rc = err_set(err, "%s: duplicate tensor name '%.*s'", g->path, (int)ix[i]->name.len, ix[i]->name.ptr);
    free(ix);
    return rc;
}

static int read_tensor_info(GGUF *g, Cursor *c, GGUFTensor *t, uint64_t idx, Error *err) {
    if (rd_str(c, &t->name) || rd(c, &t->n_dims, 4))
        return err_set(err, "%s: truncated tensor info #%llu", g->path, (unsigned long long)idx);
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return err_set(err, "%s: tensor '%.*s' has %u dimensions (1..4 allowed)", g->path,
                       (int)t->name.len, t->name.ptr, t->n_dims);
    t->n_elements = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d < t->n_dims && rd(c, &t->ne[d], 8))
            return err_set(err, "%s: truncated tensor info #%llu", g->path, (unsigned long long)idx);
        // 2^40 elements per dimension and in all is far beyond any real model: stops overflow
        if (t->ne[d] == 0 || t->ne[d] > (1ull << 40) || t->n_elements > (1ull << 40) / t->ne[d])
            return err_set(err, "%s: tensor '%.*s' has a bad shape", g->path, (int)t->name.len, t->name.ptr);
        t->n_elements *= t->ne[d];
    }
    if (rd(c, &t->type, 4) || rd(c, &t->offset, 8))
        return err_set(err, "%s: truncated tensor info #%llu", g->path, (unsigned long long)idx);
    int bs = ggml_block_size(t->type);
    if (bs == 0)
        return err_set(err, "%s: tensor '%.*s' has unsupported type %u", g->path, (int)t->name.len,
                       t->name.ptr, t->type);
    if (t->ne[0] % (uint64_t)bs != 0)
        return err_set(err, "%s: tensor '%.*s': row of %llu elements is not a whole number of %s blocks",
                       g->path, (int)t->name.len, t->name.ptr, (unsigned long long)t->ne[0], ggml_type_name(t->type));
    t->nbytes = t->n_elements / (uint64_t)bs * ggml_type_size(t->type);
    return 0;
}

// ANCHOR: gguf_parse
int gguf_parse(GGUF *g, const void *data, size_t size, const char *name, Error *err) {
    memset(g, 0, sizeof *g);
    mapfile_from_memory(&g->file, data, size);
    g->path = strdup(name ? name : "<memory>");
    if (!g->path) return err_set(err, "out of memory");
    Cursor c = {data, (const uint8_t *)data + size};
    uint32_t magic;
    if (rd(&c, &magic, 4) || magic != GGUF_MAGIC) return err_set(err, "%s: not a GGUF file (bad magic)", g->path);
    if (rd(&c, &g->version, 4) || rd(&c, &g->n_tensors, 8) || rd(&c, &g->n_kv, 8))
        return err_set(err, "%s: truncated header", g->path);
    if (g->version != 2 && g->version != 3)
        return err_set(err, "%s: GGUF version %u not supported (2 and 3 are)", g->path, g->version);
    // Each kv needs >= 13 bytes and each tensor info >= 32: bound the counts before allocating.
    if (g->n_kv > left(&c) / 13 || g->n_tensors > left(&c) / 32)
        return err_set(err, "%s: header claims %llu keys and %llu tensors, more than the file can hold",
                       g->path, (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors);
    g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) return err_set(err, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (read_kv(&c, &g->kv[i]))
            return err_set(err, "%s: malformed or truncated metadata entry #%llu", g->path, (unsigned long long)i);
    g->alignment = 32;
    const GGUFKV *al = gguf_find(g, "general.alignment");
    if (al) {
        if (al->type != GGUF_U32 || al->v.u == 0 || (al->v.u & (al->v.u - 1)) || al->v.u > 65536)
            return err_set(err, "%s: general.alignment must be a u32 power of two", g->path);
        g->alignment = (uint32_t)al->v.u;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (read_tensor_info(g, &c, &g->tensors[i], i, err)) return -1;
    size_t pos = (size_t)(c.p - (const uint8_t *)data);
    size_t data_start = (pos + g->alignment - 1) / g->alignment * g->alignment;
    if (data_start > size && g->n_tensors > 0) return err_set(err, "%s: truncated before tensor data", g->path);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        GGUFTensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            return err_set(err, "%s: tensor '%.*s' offset %llu is not aligned to %u", g->path,
                           (int)t->name.len, t->name.ptr, (unsigned long long)t->offset, g->alignment);
        if (t->offset > size - data_start || t->nbytes > size - data_start - t->offset)
            return err_set(err, "%s: tensor '%.*s' (%llu bytes at offset %llu) runs past the end of the file",
                           g->path, (int)t->name.len, t->name.ptr, (unsigned long long)t->nbytes,
                           (unsigned long long)t->offset);
        t->data = (const uint8_t *)data + data_start + t->offset;
    }
    return check_tensor_set(g, err);
}
// END: gguf_parse

int gguf_open(GGUF *g, const char *path, Error *err) {
    MappedFile f;
    if (mapfile_open(&f, path, err)) {
        memset(g, 0, sizeof *g);
        return -1;
    }
    int rc = gguf_parse(g, f.data, f.size, path, err);
    g->file = f; // take ownership so gguf_close unmaps
    if (rc) gguf_close(g); // a failed open holds nothing (closing it again is harmless)
    return rc;
}

void gguf_close(GGUF *g) {
    mapfile_close(&g->file);
    free(g->kv);
    free(g->tensors);
    free(g->path);
    memset(g, 0, sizeof *g);
}

int gguf_str_eq(GGUFStr s, const char *c) { return strlen(c) == s.len && memcmp(s.ptr, c, s.len) == 0; }

const GGUFKV *gguf_find(const GGUF *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (gguf_str_eq(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const GGUFTensor *gguf_tensor(const GGUF *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (gguf_str_eq(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

static const GGUFKV *need(const GGUF *g, const char *key, Error *err) {
    const GGUFKV *kv = gguf_find(g, key);
    if (!kv) err_set(err, "%s: missing metadata key '%s'", g->path, key);
    return kv;
}

int gguf_get_u32(const GGUF *g, const char *key, uint32_t *out, Error *err) {
    const GGUFKV *kv = need(g, key, err);
    if (!kv) return -1;
    switch (kv->type) {
    case GGUF_U8: case GGUF_U16: case GGUF_U32: case GGUF_U64:
        if (kv->v.u > UINT32_MAX) break;
        *out = (uint32_t)kv->v.u;
        return 0;
    case GGUF_I8: case GGUF_I16: case GGUF_I32: case GGUF_I64:
        if (kv->v.i < 0 || kv->v.i > (int64_t)UINT32_MAX) break;
        *out = (uint32_t)kv->v.i;
        return 0;
    }
    return err_set(err, "%s: metadata key '%s' is not a non-negative 32-bit integer", g->path, key);
}

int gguf_get_f32(const GGUF *g, const char *key, float *out, Error *err) {
    const GGUFKV *kv = need(g, key, err);
    if (!kv) return -1;
    if (kv->type != GGUF_F32 && kv->type != GGUF_F64)
        return err_set(err, "%s: metadata key '%s' is %s, not a float", g->path, key, gguf_type_name(kv->type));
    *out = (float)kv->v.f;
    return 0;
}

int gguf_get_str(const GGUF *g, const char *key, GGUFStr *out, Error *err) {
    const GGUFKV *kv = need(g, key, err);
    if (!kv) return -1;
    if (kv->type != GGUF_STRING)
        return err_set(err, "%s: metadata key '%s' is %s, not a string", g->path, key, gguf_type_name(kv->type));
    *out = kv->v.s;
    return 0;
}

int gguf_get_arr(const GGUF *g, const char *key, uint32_t elem_type, const GGUFKV **out, Error *err) {
    const GGUFKV *kv = need(g, key, err);
    if (!kv) return -1;
    if (kv->type != GGUF_ARRAY || kv->arr_type != elem_type)
        return err_set(err, "%s: metadata key '%s' is not an array of %s", g->path, key, gguf_type_name(elem_type));
    *out = kv;
    return 0;
}

void gguf_str_array(const GGUFKV *kv, GGUFStr *out) {
    const uint8_t *p = kv->arr_data;
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        uint64_t len;
        memcpy(&len, p, 8);
        out[i].ptr = (const char *)p + 8;
        out[i].len = len;
        p += 8 + len;
    }
}

double gguf_arr_num(const GGUFKV *kv, uint64_t i) {
    const uint8_t *p = kv->arr_data + i * scalar_size(kv->arr_type);
    switch (kv->arr_type) {
    case GGUF_U8: case GGUF_BOOL: return *p;
    case GGUF_I8: return (int8_t)*p;
    case GGUF_U16: { uint16_t x; memcpy(&x, p, 2); return x; }
    case GGUF_I16: { int16_t x; memcpy(&x, p, 2); return x; }
    case GGUF_U32: { uint32_t x; memcpy(&x, p, 4); return x; }
    case GGUF_I32: { int32_t x; memcpy(&x, p, 4); return x; }
    case GGUF_U64: { uint64_t x; memcpy(&x, p, 8); return (double)x; }
    case GGUF_I64: { int64_t x; memcpy(&x, p, 8); return (double)x; }
    case GGUF_F32: { float x; memcpy(&x, p, 4); return x; }
    case GGUF_F64: { double x; memcpy(&x, p, 8); return x; }
    default: return 0;
    }
}
