// quant.h: the tensor element types of GGUF and safetensors files, and their conversion to fp32.
// With --weights fp32 every weight is dequantised once, at load time, and the forward pass only
// sees fp32; --weights native keeps the blocks and multiplies them as they are (qmatmul.h).
#ifndef QUANT_H
#define QUANT_H

#include <stddef.h>
#include <stdint.h>

// GGML type ids, as stored in GGUF tensor infos (values fixed by the format).
typedef enum {
    GGML_F32 = 0,
    GGML_F16 = 1,
    GGML_Q4_0 = 2,
    GGML_Q4_1 = 3,
    GGML_Q5_0 = 6,
    GGML_Q5_1 = 7,
    GGML_Q8_0 = 8,
    GGML_Q4_K = 12,
    GGML_Q6_K = 14,
    GGML_BF16 = 30,
} GGMLType;

// Elements per block and bytes per block of a type; 0 for a type we cannot read.
int ggml_block_size(uint32_t type);
size_t ggml_type_size(uint32_t type);
const char *ggml_type_name(uint32_t type);

float fp16_to_fp32(uint16_t h);
float bf16_to_fp32(uint16_t b);
// 6-bit scale *sc and min *m of sub-block j (0..7) of a Q4_K block, from its 12 scale bytes s.
// Inline: the fast dot products (qmatmul.c) call it 8 times a block.
static inline void q4k_scale_min(int j, const uint8_t *s, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

// out[n] = the n elements stored at src in the given type. n must be a multiple of the
// type's block size (callers check this when they validate a tensor).
void dequantize(float *out, const void *src, uint32_t type, size_t n);

#endif
