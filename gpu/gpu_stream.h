// gpu_stream.h: the whole model on the GPU, reading a stream under a cache policy: the same
// contract as ref_cpu's Stream (stream.h), so the CLI runs either behind --device.
//
// Weights are uploaded once, in fp32 as the CPU holds them. The KV cache is a ring
// (kernels.h, GpuRing): eviction turns it instead of moving keys. A decode step (one token) is
// captured once as a CUDA graph and replayed, so its ~200 kernels cost one launch.
#ifndef GPU_STREAM_H
#define GPU_STREAM_H

#ifdef __cplusplus
extern "C" {
#endif

#include "stream.h"

typedef struct GpuStream GpuStream;

// Uploads m and allocates a cache for policy p (validated) on the first CUDA device; max_tokens
// as for stream_init. Fails with the reason (no device, out of memory, a model too large for
// the kernels) in err.
int gpu_stream_init(GpuStream **out, const Model *m, const Policy *p, int max_tokens, Error *err);
void gpu_stream_free(GpuStream *g);
void gpu_stream_reset(GpuStream *g);
// As stream_feed: logits gets [n, V] if all_logits, else [V] for the last token.
int gpu_stream_feed(GpuStream *g, const int *tokens, int n, float *logits, int all_logits, Error *err);
int gpu_stream_len(const GpuStream *g);
// recompute only: toks[n] (n < W) become the recent window without being run.
void gpu_stream_prime_recent(GpuStream *g, const int *toks, int n);
int gpu_stream_capacity(const GpuStream *g);
// Replay decode steps from a CUDA graph (the default) or launch their kernels one by one.
void gpu_stream_use_graph(GpuStream *g, int on);
// "NVIDIA H100 80GB HBM3 (driver 580.159.4, 132 SMs)"
const char *gpu_stream_device(const GpuStream *g);
// Device memory the stream holds: weights, cache, activations.
size_t gpu_stream_device_bytes(const GpuStream *g);
// Device-to-device copy bandwidth in GB/s, bytes read plus bytes written, median of 20 copies
// of `bytes`; 0 on failure.
double gpu_copy_bandwidth(size_t bytes);

#ifdef __cplusplus
}
#endif

#endif
