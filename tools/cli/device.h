// device.h: --device for every command that runs the model: a Stream (ref_cpu/stream.h) on the
// CPU or on the GPU (gpu/stream.cu), the same policies on either.
#ifndef DEVICE_H
#define DEVICE_H

#include "gpu_stream.h"
#include "stream.h"

#define DEVICE_OPT(dev) {"--device", OPT_STR, &(dev), "cpu or cuda (the whole model on the GPU; default cpu)", 0, 0, NULL}

// device: "cpu" (or NULL) or "cuda". Errors name the option and say why (no GPU, a build
// without CUDA). On cuda a model loaded with --weights native keeps its Q4_1 / Q8_0 blocks on
// the GPU (gpu/model.cu); other block types go up dequantised.
int stream_open(Stream *s, const Model *m, const Policy *p, int max_tokens, const char *device, Error *err);

// The --weights a command loads with: `weights` when given; else fp32 on cuda (the GPU's
// reading of the blocks has not yet run on a GPU: until it has, it is asked for by name), and
// NULL (the loader's default, native) on the CPU.
const char *weights_for(const char *weights, const char *device);

#endif
