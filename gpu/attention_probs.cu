// attention_probs.cu: the attention probabilities themselves, for the pictures (sinks attn,
// collapse on --device cuda). The model's attention (attention.cu, v3/v4) never writes them:
// it keeps a running softmax. When a picture asks, this kernel scores the block's queries again
// over the ring cache, as ref_cpu's attention_forward does, into att[Hq, T, capacity] in
// logical slot order, zero where a query sees nothing.
#include "common.cuh"

// One block per (query, head): scores of the visible slots, then a block-wide softmax.
__global__ void attention_probs_kernel(float *att, const float *q, const float *q_sink, const float *k_cache,
                                       const float *cos, const float *sin, const GpuStep *step, GpuRing ring,
                                       int half, int interleaved, int T, int n_heads, int n_kv_heads, int head_dim,
                                       int capacity) {
    int h = blockIdx.x, t = blockIdx.y;
    GpuStep s = *step;
    int kvh = h / (n_heads / n_kv_heads), kv_dim = n_kv_heads * head_dim, slot = s.n_past + t;
    int sinks = s.n_sink < slot ? s.n_sink : slot, start = attention_window_start(slot, s.n_sink, s.window);
    float scale = 1.0f / sqrtf((float)head_dim);
    const float *qw = q + ((long)t * n_heads + h) * head_dim, *qs = q_sink + ((long)t * n_heads + h) * head_dim;
    float *row = att + ((long)h * T + t) * capacity, m = -INFINITY;
    for (int j = threadIdx.x; j < capacity; j += blockDim.x) {
        float score = -INFINITY;
        if (j <= slot && !(j >= sinks && j < start)) {
            const float *kr = k_cache + ring_slot(j, ring, s.ring_off) * kv_dim + kvh * head_dim;
            const float *qv = j < sinks ? qs : qw;
            float dot = 0.0f;
            for (int d = 0; d < head_dim; d++) dot += qv[d] * rope_elem(kr, d, j, cos, sin, half, interleaved);
            score = dot * scale;
        }
        row[j] = score;
        m = fmaxf(m, score);
    }
    m = block_max(m);
    float sum = 0.0f;
    for (int j = threadIdx.x; j < capacity; j += blockDim.x) sum += (row[j] = row[j] == -INFINITY ? 0.0f : expf(row[j] - m));
    float inv = 1.0f / block_sum(sum);
    for (int j = threadIdx.x; j < capacity; j += blockDim.x) row[j] *= inv;
}

extern "C" void gpu_attention_probs(float *att, const float *q, const float *q_sink, const float *k_cache,
                                    const float *cos, const float *sin, const GpuStep *step, GpuRing ring, int half,
                                    int interleaved, int T, int n_heads, int n_kv_heads, int head_dim, int capacity) {
    attention_probs_kernel<<<dim3(n_heads, T), 256>>>(att, q, q_sink, k_cache, cos, sin, step, ring, half, interleaved,
                                                       T, n_heads, n_kv_heads, head_dim, capacity);
}
