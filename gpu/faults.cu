// faults.cu: deliberately wrong kernels. They are registered as fault versions (KERNEL_FAULT in
// gpu/registry.c) so that tests/test_gpu.c can prove the checker fails them: a check that passes
// one of these would pass a student's broken kernel too. Each mistake is one a kernel writer
// makes, marked FAULT where it is; `sinks kernels check softmax 101` shows the failure.
#include "common.cuh"
#include "dispatch.h"

// ANCHOR: fault_skip_last
// softmax 101: softmax_kernel1 with every loop one short. The last element keeps its input
// (a logit in [-8, 8], not a probability) and is left out of the sum.
__global__ void softmax_skip_last_kernel(float *x, int rows, int n) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    float *v = x + (long)r * n, max = v[0], sum = 0.0f;
    for (int i = 1; i < n - 1; i++) max = fmaxf(max, v[i]); // FAULT: n - 1
    for (int i = 0; i < n - 1; i++) sum += (v[i] = expf(v[i] - max));
    for (int i = 0; i < n - 1; i++) v[i] /= sum;
}
// END: fault_skip_last

// softmax 102: one block per row whose sum reduction has no barrier between the warps writing
// their partial sums and every thread reading them: a race. On an idle GPU the warps often run
// close enough together to hide it; here the warps after the first are held back a little (as
// a busy SM or a preemption may hold them), so the race shows on every run instead of sometimes.
__global__ void softmax_race_kernel(float *x, int rows, int n) {
    __shared__ float part[32];
    float *v = x + (long)blockIdx.x * n, m = -INFINITY, s = 0.0f;
    int lane = threadIdx.x % 32, wid = threadIdx.x / 32, nw = blockDim.x / 32;
    for (int i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, v[i]);
    m = block_max(m);
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += (v[i] = expf(v[i] - m));
    s = warp_sum(s);
    if (wid > 0) __nanosleep(20000);
    if (lane == 0) part[wid] = s;
    // FAULT: __syncthreads() missing: warp 0 reads the other warps' slots before they are written
    float total = 0.0f;
    for (int w = 0; w < nw; w++) total += part[w];
    for (int i = threadIdx.x; i < n; i += blockDim.x) v[i] /= total;
}

// attention 101 and 102: the real attention v1 (attention.cu), called wrong, so no copy of it
// is kept here. 101: the window one slot short, so the oldest visible key is dropped (off by
// one). 102: queries scaled up by sqrt(head_dim) first, which cancels the kernel's
// 1/sqrt(head_dim): the scores as if the scale were missing, a softmax too sharp.
__global__ void scale_kernel(float *out, const float *in, long n, float s) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = in[i] * s;
}

extern "C" int gpu_attention_fault(int version, float *out, float *att, const float *q, const float *q_sink,
                                   const float *k_rot, const float *v, int T, int n_past, int n_sink, int window,
                                   int n_heads, int n_kv_heads, int head_dim, int capacity) {
    if (version == 101) // FAULT: window - 1
        return gpu_attention_forward(1, out, att, q, q_sink, k_rot, v, T, n_past, n_sink, window > 1 ? window - 1 : window,
                                     n_heads, n_kv_heads, head_dim, capacity);
    if (version != 102) return gpu_unknown_version("attention", version);
    long n = (long)T * n_heads * head_dim;
    float *qs = NULL;
    if (cudaMalloc(&qs, 2 * n * sizeof(float)) != cudaSuccess) return -1;
    float up = sqrtf((float)head_dim); // FAULT: the 1/sqrt(head_dim) undone
    scale_kernel<<<ceil_div(n, 256), 256>>>(qs, q, n, up);
    scale_kernel<<<ceil_div(n, 256), 256>>>(qs + n, q_sink, n, up);
    int rc = gpu_attention_forward(1, out, att, qs, qs + n, k_rot, v, T, n_past, n_sink, window, n_heads, n_kv_heads,
                                   head_dim, capacity);
    cudaDeviceSynchronize();
    cudaFree(qs);
    return rc;
}

extern "C" int gpu_softmax_fault(int version, float *x, int rows, int n) {
    switch (version) {
    case 101: softmax_skip_last_kernel<<<ceil_div(rows, 64), 64>>>(x, rows, n); return 0;
    case 102: softmax_race_kernel<<<rows, 256>>>(x, rows, n); return 0;
    }
    return gpu_unknown_version("softmax", version);
}
