// attnmap.c: filing each attention weight under its query's and key's stream positions.
#include "attnmap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int attnmap_init(AttnMap *a, const Config *cfg, int n_tokens, int res, Aggregate agg, int only_layer, int far,
                 Error *err) {
    memset(a, 0, sizeof *a);
    if (n_tokens < 1) return err_set(err, "attention map of %d tokens", n_tokens);
    if (res < 1 || res > n_tokens) return err_set(err, "map resolution %d is not within 1..%d tokens", res, n_tokens);
    if (only_layer >= cfg->n_layers) return err_set(err, "layer %d: the model has %d", only_layer, cfg->n_layers);
    a->n_layers = cfg->n_layers, a->n_heads = cfg->n_heads, a->n_tokens = n_tokens, a->res = res;
    a->agg = agg, a->only_layer = only_layer, a->far = far;
    size_t n_maps = (size_t)(only_layer < 0 ? cfg->n_layers : 1) * cfg->n_heads;
    a->maps = calloc(n_maps * res * res, sizeof(float));
    a->first_keys = calloc(n_maps * res * ATTN_FIRST, sizeof(float));
    a->first1 = calloc((size_t)cfg->n_layers * cfg->n_heads, sizeof(double));
    a->first4 = calloc((size_t)cfg->n_layers * cfg->n_heads, sizeof(double));
    if (!a->maps || !a->first_keys || !a->first1 || !a->first4) {
        attnmap_free(a);
        return err_set(err, "out of memory for attention maps of %d tokens at %d x %d", n_tokens, res, res);
    }
    return 0;
}

void attnmap_free(AttnMap *a) {
    free(a->maps);
    free(a->first_keys);
    free(a->first1);
    free(a->first4);
    memset(a, 0, sizeof *a);
}

int attnmap_attach(AttnMap *a, Stream *s, Error *err) {
    a->stream = s;
    return stream_watch_attention(s, attnmap_on_attention, a, err);
}

float *attnmap_map(const AttnMap *a, int layer, int head) {
    if (a->only_layer >= 0 && layer != a->only_layer) return NULL;
    size_t idx = (size_t)(a->only_layer >= 0 ? 0 : layer) * a->n_heads + head;
    return a->maps + idx * a->res * a->res;
}

float *attnmap_first_keys(const AttnMap *a, int layer, int head) {
    if (a->only_layer >= 0 && layer != a->only_layer) return NULL;
    size_t idx = (size_t)(a->only_layer >= 0 ? 0 : layer) * a->n_heads + head;
    return a->first_keys + idx * a->res * ATTN_FIRST;
}

// ANCHOR: attnmap_record
void attnmap_on_attention(void *ctx, int layer, const float *att, int T, int n_keys, int capacity) {
    AttnMap *a = ctx;
    const Stream *c = a->stream;
    int n_past = n_keys - T; // the block's own keys follow the cached ones
    for (int t = 0; t < T; t++) {
        long qpos = c->n_seen + t; // the stream counts the block in n_seen once it has run
        if (qpos >= a->n_tokens) break;
        int far = qpos >= a->far, qbin = (int)(qpos * a->res / a->n_tokens);
        if (far && layer == 0) a->n_far++;
        for (int h = 0; h < a->n_heads; h++) {
            const float *p = att + ((size_t)h * T + t) * capacity;
            float *row = NULL, *first = NULL;
            float *map = attnmap_map(a, layer, h);
            if (map) row = map + (size_t)qbin * a->res, first = attnmap_first_keys(a, layer, h) + (size_t)qbin * ATTN_FIRST;
            // ANCHOR: sink_mass
            // The sink score's sums: what this query pays to the key at stream position 0, and
            // to positions 0-3. A key's slot in the cache is not its position: ask the stream.
            double s1 = 0, s4 = 0;
            for (int j = 0; j <= n_past + t; j++) {
                long kpos = j < n_past ? c->pos[j] : c->n_seen + (j - n_past);
                if (kpos < 1) s1 += p[j];
                if (kpos < 4) s4 += p[j];
            }
            if (far) { // only queries far from the start count; attnmap_finish divides by their number
                a->first1[(size_t)layer * a->n_heads + h] += s1;
                a->first4[(size_t)layer * a->n_heads + h] += s4;
            }
            // END: sink_mass
            for (int j = 0; row && j <= n_past + t; j++) {
                if (p[j] == 0.0f) continue; // evicted or hidden by the window
                long kpos = j < n_past ? c->pos[j] : c->n_seen + (j - n_past);
                if (kpos < ATTN_FIRST) {
                    float *f = first + kpos;
                    *f = a->agg == AGG_MAX ? fmaxf(*f, p[j]) : *f + p[j];
                }
                float *bin = row + kpos * a->res / a->n_tokens;
                if (a->agg == AGG_MAX) *bin = fmaxf(*bin, p[j]);
                else *bin += p[j];
            }
        }
    }
}
// END: attnmap_record

// Positions that fall in bin i: those p with p * res / n == i.
static long bin_size(int i, int res, int n) {
    long lo = ((long)i * n + res - 1) / res, hi = ((long)(i + 1) * n + res - 1) / res;
    return hi - lo;
}

void attnmap_finish(AttnMap *a) {
    if (a->agg == AGG_MEAN) {
        int n_maps = (a->only_layer < 0 ? a->n_layers : 1) * a->n_heads;
        for (int m = 0; m < n_maps; m++)
            for (int i = 0; i < a->res; i++) {
                long qn = bin_size(i, a->res, a->n_tokens);
                for (int k = 0; k < ATTN_FIRST; k++) // one key per column: divided by the bin's queries only
                    a->first_keys[((size_t)m * a->res + i) * ATTN_FIRST + k] /= (float)qn;
                for (int j = 0; j < a->res; j++)
                    a->maps[((size_t)m * a->res + i) * a->res + j] /= (float)(qn * bin_size(j, a->res, a->n_tokens));
            }
    }
    if (a->n_far > 0)
        for (int i = 0; i < a->n_layers * a->n_heads; i++) a->first1[i] /= a->n_far, a->first4[i] /= a->n_far;
}

double attnmap_sink_score(const AttnMap *a, int layer, int head, int first) {
    const double *s = first == 1 ? a->first1 : a->first4;
    return s[(size_t)layer * a->n_heads + head];
}
