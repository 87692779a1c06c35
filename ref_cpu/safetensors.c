#define _POSIX_C_SOURCE 200809L
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "quant.h"

#define ST_MAX_HEADER (100u << 20) // the format's own limit on the JSON header

// A JSON number that is a whole, non-negative value small enough to be exact in a double.
static int json_u64(const cJSON *n, uint64_t *out) {
    if (!cJSON_IsNumber(n)) return -1;
    double d = n->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
}

static int parse_entry(STTensor *t, const cJSON *e, size_t data_size, const uint8_t *data,
                       const char *name, Error *err) {
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2)
        return err_set(err, "%s: tensor '%s' needs dtype, shape and data_offsets", name, t->name);
    if (strcmp(dt->valuestring, "F32") == 0) t->type = GGML_F32;
    else if (strcmp(dt->valuestring, "F16") == 0) t->type = GGML_F16;
    else if (strcmp(dt->valuestring, "BF16") == 0) t->type = GGML_BF16;
    else return err_set(err, "%s: tensor '%s' has dtype %s (F32, F16 and BF16 are supported)", name, t->name, dt->valuestring);
    t->n_dims = cJSON_GetArraySize(sh);
    if (t->n_dims > ST_MAX_DIMS) return err_set(err, "%s: tensor '%s' has too many dimensions", name, t->name);
    t->n_elements = 1;
    for (int d = 0; d < t->n_dims; d++) {
        if (json_u64(cJSON_GetArrayItem(sh, d), &t->shape[d]) || t->shape[d] > (1ull << 40) ||
            (t->shape[d] && t->n_elements > (1ull << 40) / t->shape[d]))
            return err_set(err, "%s: tensor '%s' has a bad shape", name, t->name);
        t->n_elements *= t->shape[d];
    }
    uint64_t b, en;
    if (json_u64(cJSON_GetArrayItem(of, 0), &b) || json_u64(cJSON_GetArrayItem(of, 1), &en) || b > en || en > data_size)
        return err_set(err, "%s: tensor '%s' data_offsets lie outside the file", name, t->name);
    if (en - b != t->n_elements * ggml_type_size(t->type))
        return err_set(err, "%s: tensor '%s' holds %llu bytes, its shape and dtype need %llu", name, t->name,
                       (unsigned long long)(en - b), (unsigned long long)(t->n_elements * ggml_type_size(t->type)));
    t->data = data + b;
    return 0;
}

static int by_data(const void *a, const void *b) {
    const STTensor *x = a, *y = b;
    return x->data < y->data ? -1 : x->data > y->data;
}

// ANCHOR: safetensors_parse
int safetensors_parse(SafeTensors *st, const void *buf, size_t size, const char *name, Error *err) {
    uint64_t hlen;
    if (size < 8) return err_set(err, "%s: too short for a safetensors file", name);
    memcpy(&hlen, buf, 8);
    if (hlen > ST_MAX_HEADER || hlen > size - 8)
        return err_set(err, "%s: header length %llu does not fit the file", name, (unsigned long long)hlen);
    const uint8_t *data = (const uint8_t *)buf + 8 + hlen;
    size_t data_size = size - 8 - hlen;
    // END: safetensors_parse
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, hlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(err, "%s: header is not a JSON object", name);
    }
    int n = cJSON_GetArraySize(root), first = st->n_tensors, rc = 0;
    STTensor *nt = realloc(st->tensors, (size_t)(st->n_tensors + n + 1) * sizeof *nt);
    if (!nt) { cJSON_Delete(root); return err_set(err, "%s: out of memory", name); }
    st->tensors = nt;
    for (const cJSON *e = root->child; e && !rc; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        if (!cJSON_IsObject(e)) { rc = err_set(err, "%s: entry '%s' is not an object", name, e->string); break; }
        if (safetensors_find(st, e->string)) { rc = err_set(err, "%s: duplicate tensor '%s'", name, e->string); break; }
        STTensor *t = &st->tensors[st->n_tensors];
        memset(t, 0, sizeof *t);
        t->name = strdup(e->string);
        if (!t->name) { rc = err_set(err, "%s: out of memory", name); break; }
        st->n_tensors++;
        rc = parse_entry(t, e, data_size, data, name, err);
    }
    cJSON_Delete(root);
    if (rc) return rc;
    // no two tensors of this file may share bytes
    int m = st->n_tensors - first;
    STTensor *sorted = malloc((size_t)(m + 1) * sizeof *sorted);
    if (!sorted) return err_set(err, "%s: out of memory", name);
    memcpy(sorted, st->tensors + first, (size_t)m * sizeof *sorted);
    qsort(sorted, (size_t)m, sizeof *sorted, by_data);
    const STTensor *prev = NULL; // tensors of no elements hold no bytes: they overlap nothing
    for (int i = 0; i < m && !rc; i++) {
        if (sorted[i].n_elements == 0) continue;
        if (prev && prev->data + prev->n_elements * ggml_type_size(prev->type) > sorted[i].data)
            rc = err_set(err, "%s: tensors '%s' and '%s' overlap", name, prev->name, sorted[i].name);
        prev = &sorted[i];
    }
    free(sorted);
    return rc;
}

static int add_file(SafeTensors *st, const char *path, Error *err) {
    MappedFile *nf = realloc(st->files, (size_t)(st->n_files + 1) * sizeof *nf);
    if (!nf) return err_set(err, "%s: out of memory", path);
    st->files = nf;
    if (mapfile_open(&st->files[st->n_files], path, err)) return -1;
    st->n_files++;
    return safetensors_parse(st, st->files[st->n_files - 1].data, st->files[st->n_files - 1].size, path, err);
}

int safetensors_open_dir(SafeTensors *st, const char *dir, Error *err) {
    memset(st, 0, sizeof *st);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    struct stat sb; // stat, not fopen: opening a FIFO would wait for a writer
    if (stat(path, &sb) != 0) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        return add_file(st, path, err);
    }
    char *text = read_regular_file(path, NULL, err);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        cJSON_Delete(root);
        return err_set(err, "%s: no \"weight_map\" object", path);
    }
    // open each distinct shard once, in order of first mention
    int rc = 0;
    char **seen = NULL;
    int n_seen = 0;
    for (const cJSON *e = wm->child; e && !rc; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/')) {
            rc = err_set(err, "%s: weight_map entry '%s' is not a plain file name", path, e->string);
            break;
        }
        int dup = 0;
        for (int i = 0; i < n_seen && !dup; i++) dup = strcmp(seen[i], e->valuestring) == 0;
        if (dup) continue;
        char **ns = realloc(seen, (size_t)(n_seen + 1) * sizeof *ns);
        if (!ns) { rc = err_set(err, "%s: out of memory", path); break; }
        seen = ns;
        seen[n_seen++] = e->valuestring;
        char shard[4096];
        snprintf(shard, sizeof shard, "%s/%s", dir, e->valuestring);
        rc = add_file(st, shard, err);
    }
    for (const cJSON *e = wm->child; e && !rc; e = e->next)
        if (!safetensors_find(st, e->string))
            rc = err_set(err, "%s: tensor '%s' is not in its shard %s", path, e->string, e->valuestring);
    free(seen);
    cJSON_Delete(root);
    return rc;
}

void safetensors_close(SafeTensors *st) {
    for (int i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    for (int i = 0; i < st->n_files; i++) mapfile_close(&st->files[i]);
    free(st->tensors);
    free(st->files);
    memset(st, 0, sizeof *st);
}

const STTensor *safetensors_find(const SafeTensors *st, const char *name) {
    for (int i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}
