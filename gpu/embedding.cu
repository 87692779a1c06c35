// embedding.cu: rows of the embedding table, one thread per output element; from fp32 rows, or
// from rows of Q4_1 / Q8_0 blocks, each element dequantised where it is read (qblock.h).
#include "common.cuh"
#include "qblock.h"

__global__ void embedding_kernel(float *out, const float *emb, const int *tokens, int T, int D) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long)T * D) return;
    int t = (int)(i / D), d = (int)(i % D);
    out[i] = emb[(long)tokens[t] * D + d];
}

__global__ void embedding_q_kernel(float *out, const unsigned char *emb, int type, const int *tokens, int T, int D) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long)T * D) return;
    int t = (int)(i / D), d = (int)(i % D), nb = D / 32;
    const unsigned char *b = emb + ((long)tokens[t] * nb + d / 32) * qblock_bytes(type);
    out[i] = qblock_weight(b, type, d % 32);
}

extern "C" void gpu_embedding_forward(float *out, const float *emb, const int *tokens, int T, int D) {
    embedding_kernel<<<ceil_div((long)T * D, 256), 256>>>(out, emb, tokens, T, D);
}

extern "C" void gpu_embedding_q_forward(float *out, GpuWeights emb, const int *tokens, int T, int D) {
    embedding_q_kernel<<<ceil_div((long)T * D, 256), 256>>>(out, (const unsigned char *)emb.data, emb.type, tokens, T,
                                                            D);
}
