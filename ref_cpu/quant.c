#include "quant.h"

#include <string.h>

// ANCHOR: block_layouts
// Block layouts (little-endian, packed), as ggml defines them:
//   Q4_0: f16 d, 16 bytes of nibbles         x = (q - 8) * d        32 elements, 18 bytes
//   Q4_1: f16 d, f16 m, 16 bytes of nibbles  x = q * d + m          32 elements, 20 bytes
//   Q5_0: f16 d, 4 bytes of 5th bits, 16 bytes of nibbles     x = (q - 16) * d   32, 22 bytes
//   Q5_1: f16 d, f16 m, 4 bytes of 5th bits, 16 of nibbles    x = q * d + m      32, 24 bytes
//   Q8_0: f16 d, 32 int8                     x = q * d              32 elements, 34 bytes
//   Q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles; 256 elements
//   Q6_K: 128 bytes low nibbles, 64 bytes high 2-bit pairs, 16 int8 scales, f16 d; 256 elements
// In the 4-bit blocks element j (j < 16) is the low nibble of byte j and element j + 16 its
// high nibble: the two halves of a block, not neighbours, share a byte. In Q5_0/Q5_1 bit j of
// the little-endian 32-bit word before the nibbles is element j's fifth (high) bit.
// END: block_layouts

int ggml_block_size(uint32_t type) {
    switch (type) {
    case GGML_F32: case GGML_F16: case GGML_BF16: return 1;
    case GGML_Q4_0: case GGML_Q4_1: case GGML_Q5_0: case GGML_Q5_1: case GGML_Q8_0: return 32;
    case GGML_Q4_K: case GGML_Q6_K: return 256;
    default: return 0;
    }
}

size_t ggml_type_size(uint32_t type) {
    switch (type) {
    case GGML_F32: return 4;
    case GGML_F16: case GGML_BF16: return 2;
    case GGML_Q4_0: return 18;
    case GGML_Q4_1: return 20;
    case GGML_Q5_0: return 22;
    case GGML_Q5_1: return 24;
    case GGML_Q8_0: return 34;
    case GGML_Q4_K: return 144;
    case GGML_Q6_K: return 210;
    default: return 0;
    }
}

const char *ggml_type_name(uint32_t type) {
    switch (type) {
    case GGML_F32: return "F32";
    case GGML_F16: return "F16";
    case GGML_BF16: return "BF16";
    case GGML_Q4_0: return "Q4_0";
    case GGML_Q4_1: return "Q4_1";
    case GGML_Q5_0: return "Q5_0";
    case GGML_Q5_1: return "Q5_1";
    case GGML_Q8_0: return "Q8_0";
    case GGML_Q4_K: return "Q4_K";
    case GGML_Q6_K: return "Q6_K";
    default: return "unsupported";
    }
}

static float bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return bits_to_f32(sign | 0x7f800000u | (man << 13)); // inf, nan
    if (exp == 0) {
        if (man == 0) return bits_to_f32(sign);
        // subnormal: value = man * 2^-24, exactly representable in fp32
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

float bf16_to_fp32(uint16_t b) { return bits_to_f32((uint32_t)b << 16); }

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

void dequantize(float *out, const void *src, uint32_t type, size_t n) {
    const uint8_t *p = src;
    switch (type) {
    case GGML_F32:
        memcpy(out, p, n * 4);
        return;
    case GGML_F16:
        for (size_t i = 0; i < n; i++) out[i] = fp16_to_fp32(rd16(p + 2 * i));
        return;
    case GGML_BF16:
        for (size_t i = 0; i < n; i++) out[i] = bf16_to_fp32(rd16(p + 2 * i));
        return;
    case GGML_Q4_0:
        for (size_t b = 0; b < n / 32; b++, p += 18, out += 32) {
            float d = fp16_to_fp32(rd16(p));
            for (int j = 0; j < 16; j++) {
                out[j] = ((p[2 + j] & 0xF) - 8) * d;
                out[j + 16] = ((p[2 + j] >> 4) - 8) * d;
            }
        }
        return;
    // ANCHOR: dequant_q4_1
    case GGML_Q4_1:
        for (size_t b = 0; b < n / 32; b++, p += 20, out += 32) {
            float d = fp16_to_fp32(rd16(p)), m = fp16_to_fp32(rd16(p + 2));
            for (int j = 0; j < 16; j++) {
                out[j] = (p[4 + j] & 0xF) * d + m;
                out[j + 16] = (p[4 + j] >> 4) * d + m;
            }
        }
        return;
        // END: dequant_q4_1
    case GGML_Q5_0:
    case GGML_Q5_1: {
        int q51 = type == GGML_Q5_1;
        for (size_t b = 0; b < n / 32; b++, p += q51 ? 24 : 22, out += 32) {
            float d = fp16_to_fp32(rd16(p)), m = q51 ? fp16_to_fp32(rd16(p + 2)) : 0.0f;
            const uint8_t *hb = p + (q51 ? 4 : 2), *qs = hb + 4;
            uint32_t h = (uint32_t)hb[0] | (uint32_t)hb[1] << 8 | (uint32_t)hb[2] << 16 | (uint32_t)hb[3] << 24;
            for (int j = 0; j < 16; j++) {
                int lo = (qs[j] & 0xF) | ((h >> j) & 1) << 4, hi = (qs[j] >> 4) | ((h >> (j + 16)) & 1) << 4;
                out[j] = q51 ? lo * d + m : (lo - 16) * d;
                out[j + 16] = q51 ? hi * d + m : (hi - 16) * d;
            }
        }
        return;
    }
    case GGML_Q8_0:
        for (size_t b = 0; b < n / 32; b++, p += 34, out += 32) {
            float d = fp16_to_fp32(rd16(p));
            for (int j = 0; j < 32; j++) out[j] = (int8_t)p[2 + j] * d;
        }
        return;
    case GGML_Q4_K:
        for (size_t b = 0; b < n / 256; b++, p += 144) {
            float d = fp16_to_fp32(rd16(p)), dmin = fp16_to_fp32(rd16(p + 2));
            const uint8_t *scales = p + 4, *q = p + 16;
            for (int j = 0; j < 256; j += 64, q += 32) {
                uint8_t sc, m;
                q4k_scale_min(j / 32, scales, &sc, &m);
                float d1 = d * sc, m1 = dmin * m;
                q4k_scale_min(j / 32 + 1, scales, &sc, &m);
                float d2 = d * sc, m2 = dmin * m;
                for (int l = 0; l < 32; l++) *out++ = d1 * (q[l] & 0xF) - m1;
                for (int l = 0; l < 32; l++) *out++ = d2 * (q[l] >> 4) - m2;
            }
        }
        return;
    case GGML_Q6_K:
        for (size_t b = 0; b < n / 256; b++, p += 210) {
            const uint8_t *ql = p, *qh = p + 128;
            const int8_t *sc = (const int8_t *)(p + 192);
            float d = fp16_to_fp32(rd16(p + 208));
            for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, out += 128) {
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    out[l] = d * sc[is] * q1;
                    out[l + 32] = d * sc[is + 2] * q2;
                    out[l + 64] = d * sc[is + 4] * q3;
                    out[l + 96] = d * sc[is + 6] * q4;
                }
            }
        }
        return;
    default:
        memset(out, 0, n * sizeof *out); // unreachable: types are validated at open
    }
}
