#include "device.h"

#include <string.h>

int stream_open(Stream *s, const Model *m, const Policy *p, int max_tokens, const char *device, Error *err) {
    memset(s, 0, sizeof *s);
    if (!device || strcmp(device, "cpu") == 0) return stream_init(s, m, p, max_tokens, err);
    if (strcmp(device, "cuda") != 0) return err_set(err, "--device: unknown device '%s' (cpu or cuda)", device);
    if (!m->n_quant) return stream_init_on(s, m, p, max_tokens, stream_cuda_open, err);
    // the GPU path takes fp32 weights: upload a dequantised copy, which the GPU keeps
    Model f;
    if (model_fp32_copy(&f, m, err)) return -1;
    int rc = stream_init_on(s, &f, p, max_tokens, stream_cuda_open, err);
    s->model = m;
    model_free(&f);
    return rc;
}
