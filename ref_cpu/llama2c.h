// llama2c.h: a reader for llama2.c checkpoints (Karpathy's legacy "version 0" export).
//
// Layout: 7 x i32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
// a negative vocab_size means the classifier is NOT shared with the token embedding), then fp32
// weights: token embedding, attention RMSNorm, wq, wk, wv, wo, FFN RMSNorm, w1, w2, w3, final
// RMSNorm, two legacy RoPE tables (unused), and the classifier if it is not shared.
#ifndef LLAMA2C_H
#define LLAMA2C_H

#include <stdint.h>

#include "error.h"
#include "mapfile.h"

typedef struct {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int shared_classifier;
    MappedFile file;
    const float *weights;    // the fp32 weights, right after the header
    uint64_t n_floats;       // how many floats follow the header
} Llama2cFile;

int llama2c_open(Llama2cFile *f, const char *path, Error *err);
int llama2c_parse(Llama2cFile *f, const void *data, size_t size, const char *name, Error *err);
void llama2c_close(Llama2cFile *f);
// Floats the weights need (excluding the unused RoPE tables when `with_rope_tables` is 0).
uint64_t llama2c_expected_floats(const Llama2cFile *f, int with_rope_tables);

#endif
