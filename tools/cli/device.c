#include "device.h"

#include <string.h>

const char *weights_for(const char *weights, const char *device) {
    if (weights) return weights;
    return device && strcmp(device, "cuda") == 0 ? "fp32" : NULL;
}

int stream_open(Stream *s, const Model *m, const Policy *p, int max_tokens, const char *device, Error *err) {
    memset(s, 0, sizeof *s);
    if (!device || strcmp(device, "cpu") == 0) return stream_init(s, m, p, max_tokens, err);
    if (strcmp(device, "cuda") != 0) return err_set(err, "--device: unknown device '%s' (cpu or cuda)", device);
    // --weights native: the GPU keeps the Q4_1 / Q8_0 blocks as they are (gpu/model.cu)
    return stream_init_on(s, m, p, max_tokens, stream_cuda_open, err);
}
