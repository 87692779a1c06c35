#include "llama2c.h"

#include <string.h>

uint64_t llama2c_expected_floats(const Llama2cFile *f, int with_rope_tables) {
    uint64_t d = (uint64_t)f->dim, hd = d / (uint64_t)f->n_heads, L = (uint64_t)f->n_layers;
    uint64_t kv = hd * (uint64_t)f->n_kv_heads, F = (uint64_t)f->hidden_dim, V = (uint64_t)f->vocab_size;
    uint64_t n = V * d                  // token embedding
                 + L * d * 2            // two RMSNorm weights per layer
                 + L * (d * d * 2 + d * kv * 2) // wq, wo, wk, wv
                 + L * d * F * 3        // w1, w2, w3
                 + d;                   // final RMSNorm
    if (with_rope_tables) n += (uint64_t)f->seq_len * hd; // two tables of seq_len x hd/2
    if (!f->shared_classifier) n += V * d;
    return n;
}

int llama2c_parse(Llama2cFile *f, const void *data, size_t size, const char *name, Error *err) {
    int32_t h[7];
    memset(f, 0, sizeof *f);
    mapfile_from_memory(&f->file, data, size);
    if (size < sizeof h) return err_set(err, "%s: too short for a llama2.c checkpoint header", name);
    memcpy(h, data, sizeof h);
    f->dim = h[0]; f->hidden_dim = h[1]; f->n_layers = h[2]; f->n_heads = h[3];
    f->n_kv_heads = h[4]; f->shared_classifier = h[5] > 0;
    f->vocab_size = h[5] == INT32_MIN ? 0 : h[5] < 0 ? -h[5] : h[5]; // -INT32_MIN does not exist
    f->seq_len = h[6];
    // generous upper bounds keep the size arithmetic below far from overflow
    if (h[0] <= 0 || h[0] > 65536 || h[1] <= 0 || h[1] > 262144 || h[2] <= 0 || h[2] > 1024 ||
        h[3] <= 0 || h[3] > 1024 || h[4] <= 0 || h[4] > h[3] || h[5] == 0 || h[5] == INT32_MIN ||
        f->vocab_size > 1000000 || h[6] <= 0 || h[6] > 1048576)
        return err_set(err, "%s: implausible llama2.c header (dim=%d hidden=%d layers=%d heads=%d kv_heads=%d vocab=%d seq_len=%d)",
                       name, h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
    if (f->dim % f->n_heads || f->n_heads % f->n_kv_heads || (f->dim / f->n_heads) % 2)
        return err_set(err, "%s: dim %d, %d heads and %d kv heads do not divide evenly", name, f->dim, f->n_heads, f->n_kv_heads);
    f->n_floats = (size - sizeof h) / 4;
    uint64_t need = llama2c_expected_floats(f, 1);
    if (f->n_floats < need)
        return err_set(err, "%s: truncated: the header needs %llu weight bytes, the file has %llu", name,
                       (unsigned long long)need * 4, (unsigned long long)(size - sizeof h));
    // The weights must fill the file exactly: a header that describes a smaller model than the
    // file holds would read the wrong floats for every weight after the first tensor. (Whether
    // the classifier is stored, the header's sign of vocab_size says; need counts it.)
    uint64_t have = size - sizeof h;
    if (have != need * 4)
        return err_set(err, "%s: the header (dim=%d hidden=%d layers=%d heads=%d kv_heads=%d vocab=%d seq_len=%d) "
                            "describes %llu weight bytes, the file has %llu: header and weights do not match",
                       name, h[0], h[1], h[2], h[3], h[4], h[5], h[6], (unsigned long long)need * 4, (unsigned long long)have);
    f->weights = (const float *)((const uint8_t *)data + sizeof h);
    return 0;
}

int llama2c_open(Llama2cFile *f, const char *path, Error *err) {
    MappedFile m;
    if (mapfile_open(&m, path, err)) return -1;
    int rc = llama2c_parse(f, m.data, m.size, path, err);
    f->file = m;
    return rc;
}

void llama2c_close(Llama2cFile *f) {
    mapfile_close(&f->file);
    memset(f, 0, sizeof *f);
}
