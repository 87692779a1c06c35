// cachediagram.h: the four cache policies drawn as rows of cache slots over a few steps, for
// the book's schematic: which tokens each policy keeps, drops or runs again as the stream grows.
#ifndef CACHEDIAGRAM_H
#define CACHEDIAGRAM_H

#include "image.h"
#include "stream.h"

typedef enum { SLOT_SINK, SLOT_KEPT, SLOT_EVICTED, SLOT_RECOMPUTED, SLOT_KINDS } SlotKind;

Rgb slot_colour(SlotKind k);
const char *slot_name(SlotKind k);

// What the policy holds for each of the tokens 0..t once token t has arrived: kind[t + 1].
// cap: the cache's slots (dense ignores it); n_sink: the sinks S of a policy that takes them,
// which keeps S + (cap - S) (strided drawn with stride 2). Recompute holds no cache: its last
// cap tokens are run again at every step.
void policy_slots(SlotKind *kind, PolicyKind p, int t, int cap, int n_sink);

// One row: n boxes cell x cell, gap pixels apart, from (x, y); box `current` (the token that
// just arrived; -1 for none) gets a black outline.
void slot_row_draw(Image *im, int x, int y, const SlotKind *kind, int n, int cell, int gap, int current);

// The whole figure: the four policies, each n_tokens steps of a cap-slot cache, in a 2 x 2 grid
// with a legend. Its size is policies_size's.
void policies_size(int *w, int *h, int n_tokens);
void policies_draw(Image *im, int n_tokens, int cap, int n_sink);

#endif
