// gguf.h: a reader for GGUF v2/v3 files (llama.cpp's model format).
//
// Layout of a file:  "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//                    | n_kv x (string key, u32 type, value)
//                    | n_tensors x (string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset)
//                    | padding to `general.alignment` (default 32) | tensor data
// Every count, length and offset is checked against the file size before it is used.
#ifndef GGUF_H
#define GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "mapfile.h"

enum {
    GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4, GGUF_I32 = 5,
    GGUF_F32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_U64 = 10,
    GGUF_I64 = 11, GGUF_F64 = 12, GGUF_NTYPES
};

typedef struct {
    const char *ptr; // points into the mapped file: NOT NUL-terminated
    uint64_t len;
} GGUFStr;

typedef struct {
    GGUFStr key;
    uint32_t type;            // GGUF_*
    union {
        uint64_t u;           // unsigned integers and bool
        int64_t i;            // signed integers
        double f;             // F32, F64
        GGUFStr s;            // STRING
    } v;
    uint32_t arr_type;        // ARRAY: element type
    uint64_t arr_n;           // ARRAY: element count
    const uint8_t *arr_data;  // ARRAY: first element, in the file
} GGUFKV;

typedef struct {
    GGUFStr name;
    uint32_t n_dims;
    uint64_t ne[4];           // ne[0] is the fastest-varying (row length), as in ggml
    uint32_t type;            // GGMLType
    uint64_t offset;          // from the start of the data section
    uint64_t n_elements;
    uint64_t nbytes;
    const uint8_t *data;      // [nbytes] in the mapped file
} GGUFTensor;

typedef struct {
    MappedFile file;
    char *path;               // for error messages
    uint32_t version;
    uint64_t n_kv, n_tensors;
    GGUFKV *kv;               // [n_kv]
    GGUFTensor *tensors;      // [n_tensors]
    uint32_t alignment;
} GGUF;

int gguf_open(GGUF *g, const char *path, Error *err);
// Parses a buffer already in memory (not copied; must outlive g). `name` labels errors.
int gguf_parse(GGUF *g, const void *data, size_t size, const char *name, Error *err);
void gguf_close(GGUF *g);

const GGUFKV *gguf_find(const GGUF *g, const char *key);
const GGUFTensor *gguf_tensor(const GGUF *g, const char *name);
int gguf_str_eq(GGUFStr s, const char *c);

// Typed getters: 0 on success; -1 with a message naming the file and key if the key is missing
// or has the wrong type. Integer getters accept any integer type whose value fits.
int gguf_get_u32(const GGUF *g, const char *key, uint32_t *out, Error *err);
int gguf_get_f32(const GGUF *g, const char *key, float *out, Error *err);
int gguf_get_str(const GGUF *g, const char *key, GGUFStr *out, Error *err);
int gguf_get_arr(const GGUF *g, const char *key, uint32_t elem_type, const GGUFKV **out, Error *err);
// out[kv->arr_n]: the strings of a string array (already validated by the parser).
void gguf_str_array(const GGUFKV *kv, GGUFStr *out);
// Element i of a numeric array, as double (i < arr_n).
double gguf_arr_num(const GGUFKV *kv, uint64_t i);
const char *gguf_type_name(uint32_t type);

#endif
