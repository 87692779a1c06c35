// attnmap.h: attention probabilities recorded during a run, by stream position, for pictures.
//
// Under a window or sink cache a key's slot is not its place in the stream, so every weight is
// filed under the stream positions of its query and key. Maps of long runs are binned as they
// arrive (max or mean per bin): nothing of size tokens x tokens is ever held per head.
#ifndef ATTNMAP_H
#define ATTNMAP_H

#include "stream.h"
#include "heatmap.h"

// Keys 0..ATTN_FIRST-1 are also recorded one by one, so a picture can magnify them.
#define ATTN_FIRST 4

typedef struct {
    int n_layers, n_heads;
    int n_tokens;        // stream positions 0..n_tokens-1 are recorded
    int res;             // maps are res x res bins: position p falls in bin p * res / n_tokens
    Aggregate agg;
    int only_layer;      // record maps of this layer only; -1: every layer
    float *maps;         // [L, H, res, res] max, or (after attnmap_finish) mean, per bin
    float *first_keys;   // [L, H, res, ATTN_FIRST] attention on positions 0..3 alone, by query bin
    int far;             // queries at positions >= far count toward the sink scores
    double *first1;      // [L, H] summed attention of far queries on position 0
    double *first4;      // [L, H] ... on positions 0..3
    long n_far;          // far queries seen
    const Stream *stream; // where the keys' stream positions come from
} AttnMap;

int attnmap_init(AttnMap *a, const Config *cfg, int n_tokens, int res, Aggregate agg, int only_layer, int far,
                 Error *err);
void attnmap_free(AttnMap *a);
// Hooks the map to a stream: every layer's attention then lands in it. Fails on a device that
// cannot report attention.
int attnmap_attach(AttnMap *a, Stream *s, Error *err);
// The RunState.on_attention callback.
void attnmap_on_attention(void *ctx, int layer, const float *att, int T, int n_keys, int capacity);
// After the run: turns bin sums into means (AGG_MEAN) and sink sums into mean masses.
void attnmap_finish(AttnMap *a);
// [res, res] map of one head: rows are query positions, columns key positions.
float *attnmap_map(const AttnMap *a, int layer, int head);
// [res, ATTN_FIRST] of one head: row i is the attention of query bin i on positions 0..3, each
// alone (max or mean over the bin's queries, as the map).
float *attnmap_first_keys(const AttnMap *a, int layer, int head);
// Mean attention mass of the far queries on the first 1 or 4 positions.
double attnmap_sink_score(const AttnMap *a, int layer, int head, int first);

#endif
