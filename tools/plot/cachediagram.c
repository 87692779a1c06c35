// cachediagram.c: the cache policies as coloured slots (the schematic of chapter 10).
#include "cachediagram.h"

#include <stdio.h>

#include "axes.h"
#include "font.h"

#define CELL 18
#define GAP 3
#define LABEL_W 44                   // "t = 9" left of each row
#define PANEL_TOP 44                 // the policy's name, a line about it, the token numbers
#define PANEL_W(n) (LABEL_W + (n) * (CELL + GAP) + 110) // room for the line under the name
#define PANEL_H(n) (PANEL_TOP + (n) * (CELL + GAP) + 20)

Rgb slot_colour(SlotKind k) {
    // Okabe-Ito colours (as the charts), evicted a pale grey so the kept tokens stand out
    static const Rgb c[SLOT_KINDS] = {{213, 94, 0}, {0, 114, 178}, {225, 225, 225}, {230, 159, 0}};
    return c[k];
}

const char *slot_name(SlotKind k) {
    static const char *n[SLOT_KINDS] = {"sink (kept for good)", "in the cache", "evicted",
                                        "run again at this step"};
    return n[k];
}

// ANCHOR: policy_slots
// Streams tokens 0..t one at a time through the policy's own evict (policy.c, what the model
// runs), then colours what survived.
void policy_slots(SlotKind *kind, PolicyKind p, int t, int cap, int n_sink) {
    const PolicyDef *d = policy_def(p);
    Policy pol = {.kind = p, .n_sink = d->takes_sinks ? n_sink : 0, .stride = 2};
    pol.window = cap - pol.n_sink;
    long pos[t + 1];
    int keep[t + 1], len = 0;
    for (int i = 0; i <= t; i++) {
        pos[len++] = i;
        if (!d->evict) continue;
        int n = d->evict(keep, pos, len, &pol);
        for (int k = 0; k < n; k++) pos[k] = pos[keep[k]];
        len = n;
    }
    for (int i = 0; i <= t; i++) kind[i] = d->rerun ? (t - i < cap ? SLOT_RECOMPUTED : SLOT_EVICTED) : SLOT_EVICTED;
    for (int k = 0; k < len && !d->rerun; k++)
        kind[pos[k]] = d->takes_sinks && pos[k] < pol.n_sink ? SLOT_SINK : SLOT_KEPT;
}
// END: policy_slots

void slot_row_draw(Image *im, int x, int y, const SlotKind *kind, int n, int cell, int gap, int current) {
    for (int i = 0; i < n; i++) {
        int bx = x + i * (cell + gap);
        image_fill_rect(im, bx, y, cell, cell, slot_colour(kind[i]));
        if (i == current) {
            image_rect_outline(im, bx - 1, y - 1, cell + 2, cell + 2, RGB_BLACK);
            image_rect_outline(im, bx, y, cell, cell, RGB_BLACK);
        }
    }
}

#define CURRENT_NAME "the token that just arrived"
#define TITLE_FMT "four KV cache policies, %d tokens through a cache of %d slots"

static int legend_width(void) {
    int w = 0;
    for (int k = 0; k < SLOT_KINDS; k++) w += 16 + text_width(slot_name(k), 1) + 18;
    return w + 16 + text_width(CURRENT_NAME, 1);
}

void policies_size(int *w, int *h, int n_tokens) {
    char title[128];
    snprintf(title, sizeof title, TITLE_FMT, n_tokens, 99);
    *w = 20 + 2 * PANEL_W(n_tokens);
    if (*w < 40 + legend_width()) *w = 40 + legend_width();
    if (*w < 40 + text_width(title, 2)) *w = 40 + text_width(title, 2);
    *h = 40 + 2 * PANEL_H(n_tokens) + 50;
}

static void panel(Image *im, int x, int y, PolicyKind p, const char *name, const char *about, int n, int cap,
                  int n_sink) {
    SlotKind kind[64];
    draw_text(im, x, y, name, 2, RGB_BLACK);
    draw_text(im, x, y + 18, about, 1, (Rgb){80, 80, 80});
    int bx = x + LABEL_W, by = y + PANEL_TOP;
    char buf[32];
    draw_text(im, x, by - 11, "token", 1, RGB_BLACK);
    for (int i = 0; i < n; i++) { // token numbers over the columns
        snprintf(buf, sizeof buf, "%d", i);
        draw_text_centred(im, bx + i * (CELL + GAP) + CELL / 2, by - 11, buf, 1, RGB_BLACK);
    }
    for (int t = 0; t < n && t < 64; t++) {
        policy_slots(kind, p, t, cap, n_sink);
        snprintf(buf, sizeof buf, "t = %d", t);
        draw_text(im, x, by + t * (CELL + GAP) + (CELL - FONT_H) / 2, buf, 1, RGB_BLACK);
        slot_row_draw(im, bx, by + t * (CELL + GAP), kind, t + 1, CELL, GAP, t);
    }
}

void policies_draw(Image *im, int n, int cap, int n_sink) {
    char title[128], name[64], about[128];
    snprintf(title, sizeof title, TITLE_FMT, n, cap);
    draw_text(im, 20, 10, title, 2, RGB_BLACK);
    struct {
        PolicyKind p;
        const char *name, *about;
    } pol[4] = {{POLICY_DENSE, "dense", "keeps every token: memory grows with the stream"},
                {POLICY_WINDOW, "window", "the last %d tokens: loses the first ones"},
                {POLICY_SINKS, "sinks", "%d sinks + the last %d tokens: constant memory"},
                {POLICY_RECOMPUTE, "recompute", "runs the last %d tokens again for every new one"}};
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s", pol[i].name);
        if (pol[i].p == POLICY_SINKS) {
            snprintf(name, sizeof name, "sinks %d+%d", n_sink, cap - n_sink);
            snprintf(about, sizeof about, pol[i].about, n_sink, cap - n_sink);
        } else {
            if (pol[i].p == POLICY_WINDOW) snprintf(name, sizeof name, "window %d", cap);
            if (pol[i].p == POLICY_RECOMPUTE) snprintf(name, sizeof name, "recompute %d", cap);
            snprintf(about, sizeof about, pol[i].about, cap);
        }
        panel(im, 20 + (i % 2) * PANEL_W(n), 40 + (i / 2) * PANEL_H(n), pol[i].p, name, about, n, cap, n_sink);
    }
    int lx = 20, ly = 40 + 2 * PANEL_H(n) + 10;
    for (int k = 0; k < SLOT_KINDS; k++) { // the legend, in one row
        image_fill_rect(im, lx, ly, 12, 12, slot_colour(k));
        draw_text(im, lx + 16, ly + 3, slot_name(k), 1, RGB_BLACK);
        lx += 16 + text_width(slot_name(k), 1) + 18;
    }
    image_rect_outline(im, lx - 1, ly - 1, 14, 14, RGB_BLACK);
    draw_text(im, lx + 16, ly + 3, CURRENT_NAME, 1, RGB_BLACK);
}
