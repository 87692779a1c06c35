// runner.h: a Stream on the CPU (ref_cpu/stream.c) or on the GPU (gpu/stream.cu), as --device
// picks: what generate, chat, ppl, speed and bench feed their tokens to.
#ifndef RUNNER_H
#define RUNNER_H

#include "gpu_stream.h"
#include "stream.h"

typedef struct {
    Stream cpu;
    GpuStream *gpu; // NULL on the CPU
    long n_seen;    // tokens fed since the last reset
} Runner;

#define DEVICE_OPT(dev) {"--device", OPT_STR, &(dev), "cpu or cuda (the whole model on the GPU; default cpu)", 0, 0, NULL}

// device: "cpu" or "cuda". Errors name the option and say why (no GPU, a build without CUDA).
int runner_init(Runner *r, const Model *m, const Policy *p, int max_tokens, const char *device, Error *err);
void runner_free(Runner *r);
void runner_reset(Runner *r);
int runner_feed(Runner *r, const int *tokens, int n, float *logits, int all_logits, Error *err);
int runner_len(const Runner *r);
int runner_capacity(const Runner *r);
// recompute only: makes toks[n] (n < W) the recent window without running them, so a timing
// can start from a full window.
void runner_prime_recent(Runner *r, const int *toks, int n);

#endif
