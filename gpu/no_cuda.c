// no_cuda.c: what the CLI links instead of the GPU model when nvcc was not found at build time,
// so that --device cuda says why it cannot run instead of the build failing.
#include "gpu_stream.h"
#include "kernel_bench.h"
#include "kernel_check.h"
#include "kernels.h"

int stream_cuda_open(const StreamDeviceOps **ops, void **dev, const Model *m, int slots, int block, int ring_sinks,
                     Error *err) {
    (void)m, (void)slots, (void)block, (void)ring_sinks;
    *ops = NULL, *dev = NULL;
    return err_set(err, "--device cuda: this build has no CUDA support (nvcc was not found when it was built)");
}
void gpu_stream_use_graph(Stream *s, int on) { (void)s, (void)on; }
size_t gpu_stream_device_bytes(const Stream *s) { return (void)s, 0; }
double gpu_copy_bandwidth(size_t bytes) { return (void)bytes, 0; }

// `sinks kernels list` reads the registry (linked in every build); check and bench need CUDA.
#define NO_CUDA_BUILD "this build has no CUDA support (nvcc was not found when it was built)"
int gpu_device_ok(char *why, size_t n) {
    snprintf(why, n, "%s", NO_CUDA_BUILD);
    return -1;
}
int kernel_check(FILE *out, const char *op, int version, Error *err) {
    (void)out, (void)op, (void)version;
    return err_set(err, NO_CUDA_BUILD);
}
int kernel_check_ready(FILE *out, const char *op, Error *err) { return kernel_check(out, op, 0, err); }
int kernel_bench(FILE *out, const char *op, int version, Error *err) { return kernel_check(out, op, version, err); }
