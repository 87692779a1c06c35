#include "runner.h"

#include <string.h>

int runner_init(Runner *r, const Model *m, const Policy *p, int max_tokens, const char *device, Error *err) {
    memset(r, 0, sizeof *r);
    if (!device || strcmp(device, "cpu") == 0) return stream_init(&r->cpu, m, p, max_tokens, err);
    if (strcmp(device, "cuda") == 0) {
        if (!m->n_quant) return gpu_stream_init(&r->gpu, m, p, max_tokens, err);
        // the GPU path takes fp32 weights: upload a dequantised copy (the numbers of --weights fp32)
        Model f;
        if (model_fp32_copy(&f, m, err)) return -1;
        int rc = gpu_stream_init(&r->gpu, &f, p, max_tokens, err);
        model_free(&f);
        return rc;
    }
    return err_set(err, "--device: unknown device '%s' (cpu or cuda)", device);
}

void runner_free(Runner *r) {
    if (r->gpu) gpu_stream_free(r->gpu);
    else stream_free(&r->cpu);
    memset(r, 0, sizeof *r);
}

void runner_reset(Runner *r) {
    if (r->gpu) gpu_stream_reset(r->gpu);
    else stream_reset(&r->cpu);
    r->n_seen = 0;
}

int runner_feed(Runner *r, const int *tokens, int n, float *logits, int all, Error *err) {
    int rc = r->gpu ? gpu_stream_feed(r->gpu, tokens, n, logits, all, err) : stream_feed(&r->cpu, tokens, n, logits, all, err);
    if (!rc) r->n_seen += n;
    return rc;
}

int runner_len(const Runner *r) { return r->gpu ? gpu_stream_len(r->gpu) : r->cpu.cache.len; }
int runner_capacity(const Runner *r) { return r->gpu ? gpu_stream_capacity(r->gpu) : r->cpu.cache.capacity; }

void runner_prime_recent(Runner *r, const int *toks, int n) {
    if (r->gpu) {
        gpu_stream_prime_recent(r->gpu, toks, n);
    } else {
        memcpy(r->cpu.recent, toks, (size_t)n * sizeof(int));
        r->cpu.n_recent = n;
    }
}
