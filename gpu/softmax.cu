// softmax.cu: each row of x[rows, n] to probabilities, in place, max-subtracted for safety.
#include "common.cuh"
#include "dispatch.h"

// 1: one thread per row, three passes over it.
__global__ void softmax_kernel1(float *x, int rows, int n) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    float *v = x + (long)r * n, max = v[0], sum = 0.0f;
    for (int i = 1; i < n; i++) max = fmaxf(max, v[i]);
    for (int i = 0; i < n; i++) sum += (v[i] = expf(v[i] - max));
    for (int i = 0; i < n; i++) v[i] /= sum;
}

// 2: one block per row, max and sum as block reductions.
__global__ void softmax_kernel2(float *x, int rows, int n) {
    float *v = x + (long)blockIdx.x * n, m = -INFINITY, s = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, v[i]);
    m = block_max(m);
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += (v[i] = expf(v[i] - m));
    float inv = 1.0f / block_sum(s);
    for (int i = threadIdx.x; i < n; i += blockDim.x) v[i] *= inv;
}

// ANCHOR: softmax_template
// 3: YOUR KERNEL (a template: registered as "template" in gpu/registry.c, so `sinks kernels check
// softmax 3` runs it and fails until it is written and marked ready there).
//
// One warp (32 threads) per row; the dispatcher below launches 4 warps a block, so row r is
// warp threadIdx.x / 32 of block r / 4. v2 needs two block-wide reductions, each with shared
// memory and __syncthreads(); a warp can reduce with register shuffles alone: warp_max() and
// warp_sum() in gpu/common.cuh (every lane gets the result). The steps:
//   1. r = the row of this warp; lanes of a warp past the last row return (a whole warp, so
//      the shuffles below still see all 32 lanes of every warp that goes on).
//   2. each lane takes the maximum of v[lane], v[lane + 32], ...; then m = warp_max(m).
//   3. each lane writes v[i] = expf(v[i] - m) for its elements and sums them; s = warp_sum(s).
//   4. each lane multiplies its elements by 1 / s.
// Then `make && build/sinks kernels check softmax 3` (on a machine with a GPU; `make gpu` alone
// does not relink build/sinks):
// every shape must print "ok"; the output of a row of 49152 shows whether the sums are right to
// the limits. When it passes, change KERNEL_TEMPLATE to KERNEL_READY on softmax 3's line in
// gpu/registry.c: the tests, `sinks kernels check softmax` and the benchmark then include it, and
// `sinks kernels bench softmax 3` times it beside v1 and v2.
__global__ void softmax_kernel3(float *x, int rows, int n) {
    int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (r >= rows) return;
    // TODO: float *v = x + (long)r * n; int lane = threadIdx.x % 32; then steps 2-4. Until then
    // the row is left as it came: logits, not probabilities, and the check fails.
}
// END: softmax_template

// ANCHOR: softmax_dispatch
extern "C" int gpu_softmax_forward(int version, float *x, int rows, int n) {
    switch (version) {
    case 1: softmax_kernel1<<<ceil_div(rows, 64), 64>>>(x, rows, n); return 0;
    case 2: softmax_kernel2<<<rows, 256>>>(x, rows, n); return 0;
    case 3: softmax_kernel3<<<ceil_div(rows, 4), 128>>>(x, rows, n); return 0; // 4 warps a block, a warp a row
    }
    if (gpu_is_fault("softmax", version)) return gpu_softmax_fault(version, x, rows, n);
    return gpu_unknown_version("softmax", version);
}
// END: softmax_dispatch
