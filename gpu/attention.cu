// attention.cu: scaled dot-product attention over the sink + window cache, for a block of T
// queries at slots n_past..n_past+T-1 (T = 1 when decoding). A query at `slot` sees the sinks,
// slots below min(n_sink, slot), scored with q_sink (the query rotated at the position it holds
// relative to the sinks), and the slots from its window start up to itself, scored with q. This
// is ref_cpu/attention.c's attention_forward, number for number.
#include "common.cuh"
#include "dispatch.h"

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
    int slot = n_past + t, start = attention_window_start(slot, n_sink, window), sinks = n_sink < slot ? n_sink : slot;
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
    int slot = n_past + t, start = attention_window_start(slot, n_sink, window), sinks = n_sink < slot ? n_sink : slot;
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

// ANCHOR: attention_template
// 5: YOUR KERNEL (a template: registered as "template" in gpu/registry.c, so `sinks kernels check
// attention 5` runs it and fails until it is written and marked ready there).
//
// One block of 128 threads per (head, query), as v2; what changes is how keys are read. In v2
// thread j reads all head_dim floats of key j while its neighbours read keys j + 1, j + 2, ...,
// so one warp-wide load touches 32 key rows kv_dim floats apart. Here the block first copies a
// tile of ATT_TILE keys into shared memory, consecutive threads reading consecutive floats
// (coalesced), and then scores them from there. The steps:
//   1. h, t, kvh, kv_dim, slot, start, sinks, scale and a as in attention_kernel2.
//   2. for each tile of slots j0 .. j0 + ATT_TILE - 1 up to slot: every thread copies elements
//      threadIdx.x, threadIdx.x + blockDim.x, ... of the tile, element e being dim e % head_dim
//      of slot j = j0 + e / head_dim, for j <= slot only (k_rot + (long)j * kv_dim + kvh * head_dim), into
//      ks[e / head_dim][e % head_dim]; __syncthreads(); then thread i < ATT_TILE scores slot
//      j0 + i from ks[i] against q, or q_sink for a sink (as attention_score does), into a[j]
//      and its running maximum, skipping the slots the query does not see (j >= sinks &&
//      j < start); __syncthreads() before the next tile overwrites ks. Tiles wholly inside the
//      evicted middle can be skipped. Declare ks[ATT_TILE][128 + 1]: the lanes of a warp read
//      dim d of 32 different rows, and without the + 1 they all fall in one shared-memory bank.
//   3. the rest as in v2: block_max, expf and block_sum, a[j] *= 1 / sum and a[j] = 0 where the
//      query sees nothing, __syncthreads(), then the weighted sum of values.
// head_dim <= 128. When `sinks kernels check attention 5` passes every shape, mark it
// KERNEL_READY in gpu/registry.c and compare `sinks kernels bench attention` with v1 and v2.
#define ATT_TILE 32
__global__ void attention_kernel5(float *out, float *att, const float *q, const float *q_sink, const float *k_rot,
                                  const float *v, int T, int n_past, int n_sink, int window, int n_heads,
                                  int n_kv_heads, int head_dim, int capacity) {
    // TODO: steps 1-3. Until then out and att are left as the checker filled them (NaN), and
    // every shape fails.
}
// END: attention_template

extern "C" int gpu_attention_forward(int version, float *out, float *att, const float *q, const float *q_sink,
                                     const float *k_rot, const float *v, int T, int n_past, int n_sink, int window,
                                     int n_heads, int n_kv_heads, int head_dim, int capacity) {
    switch (version) {
    case 1:
        attention_kernel1<<<ceil_div((long)n_heads * T, 64), 64>>>(out, att, q, q_sink, k_rot, v, T, n_past, n_sink,
                                                                    window, n_heads, n_kv_heads, head_dim, capacity);
        return 0;
    case 2:
        attention_kernel2<<<n_heads * T, 128>>>(out, att, q, q_sink, k_rot, v, T, n_past, n_sink, window, n_heads,
                                                 n_kv_heads, head_dim, capacity);
        return 0;
    case 5:
        attention_kernel5<<<n_heads * T, 128>>>(out, att, q, q_sink, k_rot, v, T, n_past, n_sink, window, n_heads,
                                                 n_kv_heads, head_dim, capacity);
        return 0;
    }
    if (gpu_is_fault("attention", version))
        return gpu_attention_fault(version, out, att, q, q_sink, k_rot, v, T, n_past, n_sink, window, n_heads,
                                   n_kv_heads, head_dim, capacity);
    return gpu_unknown_version("attention", version);
}

// ANCHOR: attention_ring
// 3: the GPU model's attention. Decoding asks one query per head to read up to C keys: one
// block per head (v2) would leave most of the GPU idle, so the keys are split into blocks of 64
// and every (split, head, query) gets a block of 4 warps, 16 keys per warp. Each warp keeps a
// running softmax (max m, sum l, weighted values acc, rescaled as m grows), the block merges its
// warps, and attention_merge_kernel merges the splits. Keys are read from the ring cache
// unrotated and rotated on the fly at their logical slot, so eviction never rewrites them.
#define RING_KEYS 64
#define RING_WARPS 4
#define RING_DIMS 4 // dims per lane: head_dim <= 128

// Merges the block's warps (each with its running max m, sum l and weighted values acc over
// the dims lane, lane + 32, ...) into dst = {m, l, acc[head_dim]}, the split's partial result.
__device__ void write_partial(float *dst, float m, float l, const float *acc, int head_dim) {
    __shared__ float wm[RING_WARPS], wl[RING_WARPS], wacc[RING_WARPS][32 * RING_DIMS];
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) wm[warp] = m, wl[warp] = l;
#pragma unroll
    for (int i = 0; i < RING_DIMS; i++) wacc[warp][lane + 32 * i] = acc[i];
    __syncthreads();
    float M = -INFINITY, f[RING_WARPS];
    for (int w = 0; w < RING_WARPS; w++) M = fmaxf(M, wm[w]);
    for (int w = 0; w < RING_WARPS; w++) f[w] = wm[w] == -INFINITY ? 0.0f : expf(wm[w] - M);
    if (threadIdx.x == 0) {
        float L = 0.0f;
        for (int w = 0; w < RING_WARPS; w++) L += wl[w] * f[w];
        dst[0] = M, dst[1] = L;
    }
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float o = 0.0f;
        for (int w = 0; w < RING_WARPS; w++) o += wacc[w][d] * f[w];
        dst[2 + d] = o;
    }
}

__global__ void __launch_bounds__(32 * RING_WARPS)
    attention_ring_kernel(float *partial, const float *q, const float *q_sink, const float *k_cache,
                          const float *v_cache, const float *cos, const float *sin, const GpuStep *step, GpuRing ring,
                          int half, int interleaved, int T, int n_heads, int n_kv_heads, int head_dim, int n_split) {
    int split = blockIdx.x, h = blockIdx.y, t = blockIdx.z, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    GpuStep s = *step;
    int kvh = h / (n_heads / n_kv_heads), kv_dim = n_kv_heads * head_dim, slot = s.n_past + t;
    int sinks = s.n_sink < slot ? s.n_sink : slot, start = attention_window_start(slot, s.n_sink, s.window);
    float scale = 1.0f / sqrtf((float)head_dim);
    const float *qw = q + ((long)t * n_heads + h) * head_dim, *qs = q_sink + ((long)t * n_heads + h) * head_dim;
    float aq[RING_DIMS], asq[RING_DIMS], acc[RING_DIMS], m = -INFINITY, l = 0.0f;
#pragma unroll
    for (int i = 0; i < RING_DIMS; i++) {
        int d = lane + 32 * i;
        aq[i] = d < head_dim ? qw[d] : 0.0f;
        asq[i] = d < head_dim ? qs[d] : 0.0f;
        acc[i] = 0.0f;
    }
    int j0 = split * RING_KEYS + warp * (RING_KEYS / RING_WARPS), j1 = j0 + RING_KEYS / RING_WARPS;
    for (int j = j0; j < j1 && j <= slot; j++) {
        if (j >= sinks && j < start) continue; // evicted, as far as this query is concerned
        long p = ring_slot(j, ring, s.ring_off);
        const float *kr = k_cache + p * kv_dim + kvh * head_dim, *vr = v_cache + p * kv_dim + kvh * head_dim;
        float dot = 0.0f;
#pragma unroll
        for (int i = 0; i < RING_DIMS; i++) {
            int d = lane + 32 * i;
            if (d < head_dim) dot += (j < sinks ? asq[i] : aq[i]) * rope_elem(kr, d, j, cos, sin, half, interleaved);
        }
        float score = warp_sum(dot) * scale, m_new = fmaxf(m, score);
        float rescale = expf(m - m_new), e = expf(score - m_new);
        l = l * rescale + e;
#pragma unroll
        for (int i = 0; i < RING_DIMS; i++) {
            int d = lane + 32 * i;
            if (d < head_dim) acc[i] = acc[i] * rescale + e * vr[d];
        }
        m = m_new;
    }
    write_partial(partial + (((long)h * T + t) * n_split + split) * (head_dim + 2), m, l, acc, head_dim);
}

// 4: v3 spends its time waiting: a warp scores its 16 keys one after another, each a chain of
// loads, a 5-step shuffle sum and two expf. Here each lane scores a key of its own (32 keys
// per warp at once, the head's two queries in shared memory), the warp takes one max and one
// sum, then the lanes turn to output dims for the weighted sum of values, a value row per step
// read by the whole warp (coalesced). 128 keys per block.
#define RING4_KEYS (32 * RING_WARPS)

__global__ void __launch_bounds__(32 * RING_WARPS)
    attention_ring_kernel4(float *partial, const float *q, const float *q_sink, const float *k_cache,
                           const float *v_cache, const float *cos, const float *sin, const GpuStep *step,
                           GpuRing ring, int half, int interleaved, int T, int n_heads, int n_kv_heads, int head_dim,
                           int n_split) {
    __shared__ float sq[2][32 * RING_DIMS]; // the query at its slot, and facing the sinks
    int split = blockIdx.x, h = blockIdx.y, t = blockIdx.z, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    GpuStep s = *step;
    int kvh = h / (n_heads / n_kv_heads), kv_dim = n_kv_heads * head_dim, slot = s.n_past + t;
    int sinks = s.n_sink < slot ? s.n_sink : slot, start = attention_window_start(slot, s.n_sink, s.window);
    float scale = 1.0f / sqrtf((float)head_dim);
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
        sq[0][d] = q[((long)t * n_heads + h) * head_dim + d];
        sq[1][d] = q_sink[((long)t * n_heads + h) * head_dim + d];
    }
    __syncthreads();
    int j = split * RING4_KEYS + warp * 32 + lane;
    int visible = j <= slot && !(j >= sinks && j < start);
    long p = visible ? ring_slot(j, ring, s.ring_off) : 0; // slot 0 is always written: a safe read
    float score = -INFINITY;
    if (visible) {
        const float *kr = k_cache + p * kv_dim + kvh * head_dim, *qv = sq[j < sinks];
        const float *c = cos + (long)j * half, *sn = sin + (long)j * half;
        float dot = 0.0f;
#pragma unroll 8
        for (int i = 0; i < half; i++) { // the rotated pairs, rotated here as ref_cpu rotates them
            int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
            float x0 = kr[a], x1 = kr[b];
            dot += qv[a] * (x0 * c[i] - x1 * sn[i]) + qv[b] * (x0 * sn[i] + x1 * c[i]);
        }
        for (int d = 2 * half; d < head_dim; d++) dot += qv[d] * kr[d]; // past the rotary dims
        score = dot * scale;
    }
    float m = warp_max(score), e = visible ? expf(score - m) : 0.0f, l = warp_sum(e), acc[RING_DIMS];
#pragma unroll
    for (int i = 0; i < RING_DIMS; i++) acc[i] = 0.0f;
#pragma unroll 4
    for (int k = 0; k < 32; k++) { // key k of the warp: its weight and its value row, to every lane
        float pk = __shfl_sync(0xffffffffu, e, k);
        long row = __shfl_sync(0xffffffffu, p, k);
        const float *vr = v_cache + row * kv_dim + kvh * head_dim;
#pragma unroll
        for (int i = 0; i < RING_DIMS; i++) {
            int d = lane + 32 * i;
            if (d < head_dim) acc[i] += pk * vr[d];
        }
    }
    write_partial(partial + (((long)h * T + t) * n_split + split) * (head_dim + 2), m, l, acc, head_dim);
}

// out = sum over splits of acc * exp(m - M), over sum of l * exp(m - M).
__global__ void attention_merge_kernel(float *out, const float *partial, int T, int n_heads, int head_dim,
                                       int n_split) {
    int h = blockIdx.x, t = blockIdx.y, stride = head_dim + 2;
    const float *p = partial + ((long)h * T + t) * n_split * stride;
    float M = -INFINITY, L = 0.0f;
    for (int k = 0; k < n_split; k++) M = fmaxf(M, p[k * stride]);
    for (int k = 0; k < n_split; k++)
        if (p[k * stride] != -INFINITY) L += p[k * stride + 1] * expf(p[k * stride] - M);
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float o = 0.0f;
        for (int k = 0; k < n_split; k++)
            if (p[k * stride] != -INFINITY) o += p[k * stride + 2 + d] * expf(p[k * stride] - M);
        out[((long)t * n_heads + h) * head_dim + d] = o / L;
    }
}
// END: attention_ring

extern "C" size_t gpu_attention_ring_scratch(int T, int n_heads, int head_dim, int capacity) {
    return (size_t)n_heads * T * ceil_div(capacity, RING_KEYS) * (head_dim + 2); // v3's, the larger
}

extern "C" int gpu_attention_ring_forward(int version, float *out, float *partial, const float *q,
                                          const float *q_sink, const float *k_cache, const float *v_cache,
                                          const float *cos, const float *sin, const GpuStep *step, GpuRing ring,
                                          int half, int interleaved, int T, int n_heads, int n_kv_heads,
                                          int head_dim, int capacity) {
    if (version != 3 && version != 4) return gpu_unknown_version("attention_ring", version);
    int n_split = ceil_div(capacity, version == 3 ? RING_KEYS : RING4_KEYS);
    dim3 grid(n_split, n_heads, T);
    if (version == 3)
        attention_ring_kernel<<<grid, 32 * RING_WARPS>>>(partial, q, q_sink, k_cache, v_cache, cos, sin, step, ring,
                                                         half, interleaved, T, n_heads, n_kv_heads, head_dim, n_split);
    else
        attention_ring_kernel4<<<grid, 32 * RING_WARPS>>>(partial, q, q_sink, k_cache, v_cache, cos, sin, step, ring,
                                                          half, interleaved, T, n_heads, n_kv_heads, head_dim, n_split);
    attention_merge_kernel<<<dim3(n_heads, T), 64>>>(out, partial, T, n_heads, head_dim, n_split);
    return 0;
}
