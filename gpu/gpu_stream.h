// gpu_stream.h: the whole model on the GPU as a stream device (stream.h's StreamDeviceOps): the
// cache policies are ref_cpu's, written once in stream.c and policy.c; this device runs the
// blocks and keeps the slots the policy names.
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

// The StreamDeviceOpen of the first CUDA device: fails with the reason (no device, a build
// without CUDA, out of memory, a model too large for the kernels) in err.
int stream_cuda_open(const StreamDeviceOps **ops, void **dev, const Model *m, int slots, int block, int ring_sinks,
                     Error *err);
// On a stream opened on cuda: replay decode steps from a CUDA graph (the default) or launch
// their kernels one by one. Ignored on another device.
void gpu_stream_use_graph(Stream *s, int on);
// Device memory a cuda stream holds: weights, cache, activations (0 on another device).
size_t gpu_stream_device_bytes(const Stream *s);
// Device-to-device copy bandwidth in GB/s, bytes read plus bytes written, median of 20 copies
// of `bytes`; 0 on failure.
double gpu_copy_bandwidth(size_t bytes);

#ifdef __cplusplus
}
#endif

#endif
