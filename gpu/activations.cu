// activations.cu: the elementwise ops: SwiGLU (Llama), GELU (GPT-NeoX), the residual add.
#include "common.cuh"

__global__ void swiglu_kernel(float *out, const float *gate, const float *up, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    out[i] = silu_times(gate[i], up[i]);
}

__global__ void gelu_kernel(float *x, int N, int tanh_approx) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    x[i] = gelu_of(x[i], tanh_approx);
}

__global__ void residual_kernel(float *out, const float *a, const float *b, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N) out[i] = a[i] + b[i];
}

extern "C" void gpu_swiglu_forward(float *out, const float *gate, const float *up, int N) {
    swiglu_kernel<<<ceil_div(N, 256), 256>>>(out, gate, up, N);
}

extern "C" void gpu_gelu_forward(float *x, int N, int tanh_approx) {
    gelu_kernel<<<ceil_div(N, 256), 256>>>(x, N, tanh_approx);
}

extern "C" void gpu_residual_forward(float *out, const float *a, const float *b, int N) {
    residual_kernel<<<ceil_div(N, 256), 256>>>(out, a, b, N);
}
