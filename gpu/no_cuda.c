// no_cuda.c: what the CLI links instead of the GPU model when nvcc was not found at build time,
// so that --device cuda says why it cannot run instead of the build failing.
#include "gpu_stream.h"

#define NO_CUDA "--device cuda: this build has no CUDA support (nvcc was not found when it was built)"

int gpu_stream_init(GpuStream **out, const Model *m, const Policy *p, int max_tokens, Error *err) {
    (void)m, (void)p, (void)max_tokens;
    *out = NULL;
    return err_set(err, NO_CUDA);
}
void gpu_stream_free(GpuStream *g) { (void)g; }
void gpu_stream_reset(GpuStream *g) { (void)g; }
int gpu_stream_feed(GpuStream *g, const int *tokens, int n, float *logits, int all_logits, Error *err) {
    (void)g, (void)tokens, (void)n, (void)logits, (void)all_logits;
    return err_set(err, NO_CUDA);
}
int gpu_stream_len(const GpuStream *g) { return (void)g, 0; }
void gpu_stream_prime_recent(GpuStream *g, const int *toks, int n) { (void)g, (void)toks, (void)n; }
int gpu_stream_capacity(const GpuStream *g) { return (void)g, 0; }
void gpu_stream_use_graph(GpuStream *g, int on) { (void)g, (void)on; }
const char *gpu_stream_device(const GpuStream *g) { return (void)g, "none"; }
size_t gpu_stream_device_bytes(const GpuStream *g) { return (void)g, 0; }
double gpu_copy_bandwidth(size_t bytes) { return (void)bytes, 0; }
