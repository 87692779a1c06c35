// attention.cu: scaled dot-product attention over the sink + window cache, for a block of T
// queries at slots n_past..n_past+T-1 (T = 1 when decoding). A query at `slot` sees the sinks,
// slots below min(n_sink, slot), scored with q_sink (the query rotated at the position it holds
// relative to the sinks), and the slots from its window start up to itself, scored with q. This
// is ref_cpu/attention.c's attention_forward, number for number.
#include "common.cuh"

__device__ inline int window_start(int slot, int n_sink, int window) {
    int sinks = n_sink < slot ? n_sink : slot, start = window > 0 ? slot - window : 0;
    return start > sinks ? start : sinks;
}

// The scaled score of query t of head h against slot j: sinks face q_sink, the window q.
__device__ inline float attention_score(const float *q, const float *q_sink, const float *k_rot, int t, int h, int j,
                                        int sinks, int kvh, int n_heads, int kv_dim, int head_dim, float scale) {
    const float *qv = (j < sinks ? q_sink : q) + ((long)t * n_heads + h) * head_dim;
    const float *kv = k_rot + (long)j * kv_dim + kvh * head_dim;
    float s = 0.0f;
    for (int d = 0; d < head_dim; d++) s += qv[d] * kv[d];
    return s * scale;
}

// 1: one thread per (head, query): scores, softmax and the weighted sum of values in turn.
__global__ void attention_kernel1(float *out, float *att, const float *q, const float *q_sink, const float *k_rot,
                                  const float *v, int T, int n_past, int n_sink, int window, int n_heads,
                                  int n_kv_heads, int head_dim, int capacity) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_heads * T) return;
    int h = i / T, t = i % T, kvh = h / (n_heads / n_kv_heads), kv_dim = n_kv_heads * head_dim;
    int slot = n_past + t, start = window_start(slot, n_sink, window), sinks = n_sink < slot ? n_sink : slot;
    float scale = rsqrtf((float)head_dim), *a = att + ((long)h * T + t) * capacity, max = -INFINITY;
    for (int j = 0; j <= slot; j++) {
        if (j >= sinks && j < start) {
            a[j] = 0.0f;
            continue;
        }
        a[j] = attention_score(q, q_sink, k_rot, t, h, j, sinks, kvh, n_heads, kv_dim, head_dim, scale);
        max = fmaxf(max, a[j]);
    }
    float sum = 0.0f;
    for (int j = 0; j <= slot; j++)
        if (!(j >= sinks && j < start)) sum += (a[j] = expf(a[j] - max));
    float *o = out + ((long)t * n_heads + h) * head_dim;
    for (int d = 0; d < head_dim; d++) o[d] = 0.0f;
    for (int j = 0; j <= slot; j++) {
        if (j >= sinks && j < start) continue;
        a[j] /= sum;
        const float *vv = v + (long)j * kv_dim + kvh * head_dim;
        for (int d = 0; d < head_dim; d++) o[d] += a[j] * vv[d];
    }
}

// 2: one block per (head, query). Threads take keys for the scores, the block reduces the
// maximum and the sum, then threads take output dims for the weighted sum of values, each
// reading a column of V that neighbouring threads read alongside (coalesced).
__global__ void attention_kernel2(float *out, float *att, const float *q, const float *q_sink, const float *k_rot,
                                  const float *v, int T, int n_past, int n_sink, int window, int n_heads,
                                  int n_kv_heads, int head_dim, int capacity) {
    int h = blockIdx.x / T, t = blockIdx.x % T, kvh = h / (n_heads / n_kv_heads), kv_dim = n_kv_heads * head_dim;
    int slot = n_past + t, start = window_start(slot, n_sink, window), sinks = n_sink < slot ? n_sink : slot;
    float scale = rsqrtf((float)head_dim), *a = att + ((long)h * T + t) * capacity, m = -INFINITY;
    for (int j = threadIdx.x; j <= slot; j += blockDim.x) {
        if (j >= sinks && j < start) continue;
        a[j] = attention_score(q, q_sink, k_rot, t, h, j, sinks, kvh, n_heads, kv_dim, head_dim, scale);
        m = fmaxf(m, a[j]);
    }
    m = block_max(m);
    float sum = 0.0f;
    for (int j = threadIdx.x; j <= slot; j += blockDim.x) {
        if (j >= sinks && j < start) a[j] = 0.0f;
        else sum += (a[j] = expf(a[j] - m));
    }
    float inv = 1.0f / block_sum(sum); // block_sum's barriers also publish a[] to every thread
    for (int j = threadIdx.x; j <= slot; j += blockDim.x) a[j] *= inv;
    __syncthreads();
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float o = 0.0f;
        for (int j = 0; j < sinks; j++) o += a[j] * v[(long)j * kv_dim + kvh * head_dim + d];
        for (int j = start; j <= slot; j++) o += a[j] * v[(long)j * kv_dim + kvh * head_dim + d];
        out[((long)t * n_heads + h) * head_dim + d] = o;
    }
}

extern "C" void gpu_attention_forward(int version, float *out, float *att, const float *q, const float *q_sink,
                                      const float *k_rot, const float *v, int T, int n_past, int n_sink, int window,
                                      int n_heads, int n_kv_heads, int head_dim, int capacity) {
    if (version == 1)
        attention_kernel1<<<ceil_div((long)n_heads * T, 64), 64>>>(out, att, q, q_sink, k_rot, v, T, n_past, n_sink,
                                                                    window, n_heads, n_kv_heads, head_dim, capacity);
    else
        attention_kernel2<<<n_heads * T, 128>>>(out, att, q, q_sink, k_rot, v, T, n_past, n_sink, window, n_heads,
                                                 n_kv_heads, head_dim, capacity);
}
