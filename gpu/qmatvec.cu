// qmatvec.cu: out[O] = W[O, I] x[I] with W kept as Q4_1 blocks, the default model's weights
// (gpu/qblock.h has the format). Op "matvec_q4_1" in gpu/registry.c, checked against ref_cpu's
// dequantize, then matmul_forward. I is a multiple of 32: a row is I / 32 whole blocks.
#include "common.cuh"
#include "dispatch.h"

// 1 (in the dispatcher below): not fused. Every weight is dequantised into scratch[O, I] as fp32
// (gpu_dequant_q4_1), then matmul v2 multiplies: two kernels that test_gpu checks on their own,
// so this is right by construction, and slow: it writes 4 bytes a weight and reads them back, to
// use 5 bits of each.

// ANCHOR: qmatvec_template
// 2: YOUR KERNEL (a template: registered as "template" in gpu/registry.c, so `sinks kernels check
// matvec_q4_1 2` runs it and fails until it is written and marked ready there).
//
// Fused: read each 20-byte block once and never write a weight. One warp per output row, as
// matmul v2 (gpu/matmul.cu); the dispatcher launches 8 warps a block. Block b of row o starts at
// w + ((long)o * (I / 32) + b) * 20: f16 d (bytes 0-1), f16 m (bytes 2-3), then 16 bytes of
// nibbles; element j < 16 is the low nibble of byte 4 + j, element j + 16 its high nibble, and
// its weight is q * d + m. The steps:
//   1. o = the row of this warp; a warp past the last row returns (the whole warp, so the
//      shuffles of step 3 see all 32 lanes); lane = threadIdx.x % 32.
//   2. each lane takes blocks lane, lane + 32, ... of the row: reads d and m byte by byte (a
//      20-byte block is not 4-byte aligned; gpu/qblock.h shows how, with __half_raw), then sums
//      (q * d + m) * x[32 * b + j] over its 32 elements. (Faster: d * sum(q * x) + m * sum(x),
//      one multiply per element; the limits allow the different rounding.)
//   3. s = warp_sum(s); lane 0 writes out[o] = s.
// Then `build/sinks kernels check matvec_q4_1 2`; when every shape passes, mark it KERNEL_READY
// in gpu/registry.c and compare `sinks kernels bench matvec_q4_1` with v1 and the floor.
__global__ void matvec_q4_1_kernel2(float *out, const float *x, const unsigned char *w, int I, int O) {
    int o = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
    if (o >= O) return;
    // TODO: steps 2 and 3. Until then out is left as the checker filled it (NaN): every shape fails.
}
// END: qmatvec_template

extern "C" int gpu_matvec_q4_1_forward(int version, float *out, const float *x, const void *w, float *scratch, int I,
                                       int O) {
    switch (version) {
    case 1:
        gpu_dequant_q4_1(scratch, w, (size_t)O * I);
        return gpu_matmul_forward(2, out, x, scratch, NULL, 1, I, O);
    case 2:
        matvec_q4_1_kernel2<<<ceil_div((long)O * 32, 256), 256>>>(out, x, (const unsigned char *)w, I, O);
        return 0;
    }
    return gpu_unknown_version("matvec_q4_1", version);
}
