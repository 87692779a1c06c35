// kvcache.cu: a block's queries, keys and values into place. One product gave qkv for all
// three; this kernel rotates the queries (at their slots, and at the positions they hold facing
// the sinks) and writes the keys, unrotated as in ref_cpu, and the values into the ring cache.
#include "common.cuh"

// ANCHOR: qkv_store
__global__ void qkv_store_kernel(float *q, float *q_sink, float *k_cache, float *v_cache, const float *qkv,
                                 const GpuStep *step, GpuRing ring, const float *cos, const float *sin, int half,
                                 int interleaved, int T, int n_heads, int n_kv_heads, int head_dim) {
    int qd = n_heads * head_dim, kvd = n_kv_heads * head_dim, row = qd + 2 * kvd;
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x; // one thread per element of qkv
    if (i >= (long)T * row) return;
    int t = (int)(i / row), e = (int)(i % row);
    GpuStep s = *step;
    int slot = s.n_past + t;
    const float *src = qkv + (long)t * row;
    if (e < qd) {
        int d = e % head_dim;
        const float *head = src + e - d;
        // a query whose window has slid past some slots sits that much closer to the sinks
        int sink_pos = attention_sink_position(slot, s.n_sink, s.window);
        q[(long)t * qd + e] = rope_elem(head, d, slot, cos, sin, half, interleaved);
        q_sink[(long)t * qd + e] = rope_elem(head, d, sink_pos, cos, sin, half, interleaved);
    } else {
        long p = ring_slot(slot, ring, s.ring_off);
        if (e < qd + kvd) k_cache[p * kvd + e - qd] = src[e];
        else v_cache[p * kvd + e - qd - kvd] = src[e];
    }
}
// END: qkv_store

extern "C" void gpu_qkv_store(float *q, float *q_sink, float *k_cache, float *v_cache, const float *qkv,
                              const GpuStep *step, GpuRing ring, const float *cos, const float *sin, int half,
                              int interleaved, int T, int n_heads, int n_kv_heads, int head_dim) {
    long n = (long)T * (n_heads + 2 * n_kv_heads) * head_dim;
    qkv_store_kernel<<<ceil_div(n, 256), 256>>>(q, q_sink, k_cache, v_cache, qkv, step, ring, cos, sin, half,
                                                interleaved, T, n_heads, n_kv_heads, head_dim);
}

// ANCHOR: cache_gather
// Two passes through scratch: rows may move onto rows that have yet to be read.
__global__ void gather_rows_kernel(float *dst, const float *src, const int *from, int n, int dim) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long)n * dim) return;
    int r = (int)(i / dim), d = (int)(i % dim);
    dst[i] = src[(long)from[r] * dim + d];
}

extern "C" void gpu_cache_gather(float *cache, float *scratch, const int *from, int n, int dim) {
    long total = (long)n * dim;
    if (total == 0) return;
    gather_rows_kernel<<<ceil_div(total, 256), 256>>>(scratch, cache, from, n, dim);
    cudaMemcpyAsync(cache, scratch, total * sizeof(float), cudaMemcpyDeviceToDevice, cudaStreamPerThread);
}
// END: cache_gather
