// embedding.cu: rows of the embedding table, one thread per output element.
#include "common.cuh"

__global__ void embedding_kernel(float *out, const float *emb, const int *tokens, int T, int D) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long)T * D) return;
    int t = (int)(i / D), d = (int)(i % D);
    out[i] = emb[(long)tokens[t] * D + d];
}

extern "C" void gpu_embedding_forward(float *out, const float *emb, const int *tokens, int T, int D) {
    embedding_kernel<<<ceil_div((long)T * D, 256), 256>>>(out, emb, tokens, T, D);
}
