// rope.cu: rotary position embedding, full (Llama) or partial (GPT-NeoX rotates only the first
// rot_dim dims of a head), at the positions given per row: in-cache positions, not stream ones.
#include "common.cuh"

__global__ void rope_kernel(float *x, const int *positions, const float *cos, const float *sin, int half, int T, int H,
                            int hd, int interleaved) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x; // one thread per rotated pair
    if (i >= (long)T * H * half) return;
    int p = (int)(i % half), h = (int)(i / half % H), t = (int)(i / half / H);
    float *v = x + ((long)t * H + h) * hd;
    int a = interleaved ? 2 * p : p, b = interleaved ? 2 * p + 1 : p + half;
    float c = cos[(long)positions[t] * half + p], s = sin[(long)positions[t] * half + p];
    float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
}

extern "C" void gpu_rope_forward(float *x, const int *positions, const float *cos, const float *sin, int half, int T,
                                 int H, int hd, int interleaved) {
    rope_kernel<<<ceil_div((long)T * H * half, 256), 256>>>(x, positions, cos, sin, half, T, H, hd, interleaved);
}
