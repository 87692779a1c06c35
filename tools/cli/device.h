// device.h: --device for every command that runs the model: a Stream (ref_cpu/stream.h) on the
// CPU or on the GPU (gpu/stream.cu), the same policies on either.
#ifndef DEVICE_H
#define DEVICE_H

#include "gpu_stream.h"
#include "stream.h"

#define DEVICE_OPT(dev) {"--device", OPT_STR, &(dev), "cpu or cuda (the whole model on the GPU; default cpu)", 0, 0, NULL}

// device: "cpu" (or NULL) or "cuda". Errors name the option and say why (no GPU, a build
// without CUDA). On cuda a model with quantized weights is uploaded dequantised (the numbers
// of --weights fp32).
int stream_open(Stream *s, const Model *m, const Policy *p, int max_tokens, const char *device, Error *err);

#endif
