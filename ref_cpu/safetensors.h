// safetensors.h: a reader for Hugging Face safetensors files, single or sharded.
//
// Layout of one file:  u64 header_len | JSON header (header_len bytes) | tensor data
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]},
// offsets relative to the start of the data. A sharded checkpoint adds
// model.safetensors.index.json, whose "weight_map" names the shard of every tensor.
#ifndef SAFETENSORS_H
#define SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "mapfile.h"

#define ST_MAX_DIMS 8

typedef struct {
    char *name;
    uint32_t type;            // GGML_F32, GGML_F16 or GGML_BF16
    int n_dims;
    uint64_t shape[ST_MAX_DIMS]; // shape[0] is the slowest-varying, as in PyTorch
    uint64_t n_elements;
    const uint8_t *data;      // [n_elements * element size] in the mapped file
} STTensor;

typedef struct {
    int n_files;
    MappedFile *files;        // [n_files]
    int n_tensors;
    STTensor *tensors;        // [n_tensors]
} SafeTensors;

// Opens dir/model.safetensors, or every shard listed in dir/model.safetensors.index.json.
int safetensors_open_dir(SafeTensors *st, const char *dir, Error *err);
// Adds the tensors of one file already in memory (not copied). `name` labels errors.
int safetensors_parse(SafeTensors *st, const void *data, size_t size, const char *name, Error *err);
void safetensors_close(SafeTensors *st);
const STTensor *safetensors_find(const SafeTensors *st, const char *name);

#endif
