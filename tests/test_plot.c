// The pictures: PNG files read back with libpng and checked pixel by pixel on synthetic inputs,
// the colour map against viridis' published colours, down-sampling and the attention recorder
// against hand-worked values, and the attn, collapse and plot commands end to end.
#define _GNU_SOURCE
#include <sys/wait.h>
#include <unistd.h>

#include "attnmap.h"
#include "cachediagram.h"
#include "axes.h"
#include "colormap.h"
#include "font.h"
#include "heatmap.h"
#include "lineplot.h"
#include "testutil.h"

static int same(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

static char *tmp_path(const char *name) {
    char unique[256];
    snprintf(unique, sizeof unique, "sinks-test-plot-%d-%s", (int)getpid(), name);
    return path_join("/tmp", unique);
}

START_TEST(viridis_matches_its_published_colours) {
    // matplotlib documents viridis as running from #440154 through #21918C to #FDE725
    ck_assert(same(colormap_viridis(0), (Rgb){0x44, 0x01, 0x54}));
    ck_assert(same(colormap_viridis(0.5), (Rgb){0x21, 0x91, 0x8C}));
    ck_assert(same(colormap_viridis(1), (Rgb){0xFD, 0xE7, 0x25}));
    ck_assert(same(colormap_viridis(-3), colormap_viridis(0))); // clamped
    ck_assert(same(colormap_viridis(NAN), colormap_viridis(0)));
    ck_assert(same(colormap_viridis(7), colormap_viridis(1)));
}
END_TEST

START_TEST(png_round_trip_keeps_every_pixel) {
    Error err = {{0}};
    Image im, back;
    ck_assert_int_eq(image_init(&im, 37, 21, RGB_WHITE, &err), 0);
    for (int y = 0; y < 21; y++)
        for (int x = 0; x < 37; x++) image_set(&im, x, y, (Rgb){(unsigned char)(x * 7), (unsigned char)(y * 11), (unsigned char)(x ^ y)});
    image_set(&im, -1, 5, RGB_BLACK); // clipped, not a crash
    image_set(&im, 37, 5, RGB_BLACK);
    const char *p = tmp_path("rt.png");
    ck_assert_msg(image_write_png(&im, p, &err) == 0, "%s", err.msg);
    ck_assert_msg(image_read_png(&back, p, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(back.w, 37);
    ck_assert_int_eq(back.h, 21);
    ck_assert_mem_eq(back.px, im.px, 37 * 21 * 3);
    image_free(&im);
    image_free(&back);
    // not a PNG: an error naming the file
    FILE *f = fopen(p, "w");
    fputs("GIF89a not a png", f);
    fclose(f);
    ck_assert_int_ne(image_read_png(&back, p, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, p));
    unlink(p);
    ck_assert_int_ne(image_init(&im, 0, 10, RGB_WHITE, &err), 0);
}
END_TEST

START_TEST(font_draws_its_glyphs) {
    Error err = {{0}};
    Image im;
    ck_assert_int_eq(image_init(&im, 20, 10, RGB_WHITE, &err), 0);
    draw_text(&im, 0, 0, "I", 1, RGB_BLACK);
    // 'I' is ".###." over "..#.." five times over ".###."
    const char *rows[7] = {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."};
    for (int y = 0; y < 7; y++)
        for (int x = 0; x < 5; x++)
            ck_assert_msg(same(image_get(&im, x, y), rows[y][x] == '#' ? RGB_BLACK : RGB_WHITE), "pixel %d,%d", x, y);
    ck_assert_int_eq(text_width("I", 1), 5);
    ck_assert_int_eq(text_width("ab", 2), 22);
    // turned up: the glyph's top row becomes its left column, read bottom to top
    image_fill_rect(&im, 0, 0, 20, 10, RGB_WHITE);
    draw_text_up(&im, 0, 0, "I", 1, RGB_BLACK);
    for (int r = 0; r < 7; r++)
        for (int c = 0; c < 5; c++)
            ck_assert(same(image_get(&im, r, 4 - c), rows[r][c] == '#' ? RGB_BLACK : RGB_WHITE));
    image_free(&im);
}
END_TEST

START_TEST(ticks_are_round_numbers) {
    double t[64];
    int n = axes_ticks(t, 64, 0, 100, 0, 5);
    ck_assert_int_eq(n, 6);
    for (int i = 0; i < 6; i++) ck_assert_double_eq_tol(t[i], 20 * i, 1e-9);
    n = axes_ticks(t, 64, 1, 1000, 1, 5); // three decades: powers of ten only
    ck_assert_int_eq(n, 4);
    ck_assert_double_eq_tol(t[3], 1000, 1e-9);
    n = axes_ticks(t, 64, 10, 50, 1, 5); // within a decade: 10, 20, 50
    ck_assert_int_eq(n, 3);
    ck_assert_double_eq_tol(t[1], 20, 1e-9);
    ck_assert_double_eq_tol(t[2], 50, 1e-9);
    ck_assert_int_eq(axes_ticks(t, 64, 5, 5, 0, 5), 0);
    char buf[32];
    axes_format(buf, sizeof buf, 1500);
    ck_assert_str_eq(buf, "1500");
    axes_format(buf, sizeof buf, 0.25);
    ck_assert_str_eq(buf, "0.25");
    axes_format(buf, sizeof buf, 1e-4);
    ck_assert_str_eq(buf, "0.0001");
}
END_TEST

START_TEST(downsample_by_max_and_by_mean) {
    // 4 x 4 into 2 x 2: each output cell is one 2 x 2 block
    float m[16] = {1, 2, 0, 0,  //
                   3, 4, 0, 8,  //
                   0, 0, 5, 5,  //
                   9, 0, 5, 5};
    float out[4];
    downsample_forward(out, m, 4, 4, 2, 2, AGG_MAX);
    float want_max[4] = {4, 8, 9, 5};
    for (int i = 0; i < 4; i++) ck_assert_float_eq(out[i], want_max[i]);
    downsample_forward(out, m, 4, 4, 2, 2, AGG_MEAN);
    float want_mean[4] = {2.5f, 2, 2.25f, 5};
    for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(out[i], want_mean[i], 1e-6);
    // 5 columns into 2: blocks of 2 and 3 columns
    float r[5] = {1, 1, 4, 4, 4}, o2[2];
    downsample_forward(o2, r, 1, 5, 1, 2, AGG_MEAN);
    ck_assert_float_eq_tol(o2[0], 1, 1e-6);
    ck_assert_float_eq_tol(o2[1], 4, 1e-6);
}
END_TEST

START_TEST(heatmap_cells_take_their_colours) {
    Error err = {{0}};
    Image im;
    ck_assert_int_eq(image_init(&im, 6, 6, RGB_WHITE, &err), 0);
    float m[4] = {0, 1, 0.5f, 0.25f};
    ColorScale lin = {0, 1, 0};
    heatmap_draw(&im, 0, 0, m, 2, 2, 3, &lin);
    ck_assert(same(image_get(&im, 0, 0), colormap_viridis(0)));
    ck_assert(same(image_get(&im, 5, 2), colormap_viridis(1)));
    ck_assert(same(image_get(&im, 2, 3), colormap_viridis(0.5)));
    ck_assert(same(image_get(&im, 4, 4), colormap_viridis(0.25)));
    // log scale from 1e-4 to 1: 0.01 sits half way, and anything below 1e-4 at the bottom
    ColorScale lg = {1e-4, 1, 1};
    ck_assert(same(colorscale_rgb(&lg, 0.01), colormap_viridis(0.5)));
    ck_assert(same(colorscale_rgb(&lg, 0), colormap_viridis(0)));
    image_free(&im);
}
END_TEST

// The black pixels of column x, top to bottom: the frame of the axes is the first and last.
static void frame_rows(const Image *im, int x, int *top, int *bottom) {
    *top = *bottom = -1;
    for (int y = 0; y < im->h; y++)
        if (same(image_get(im, x, y), RGB_BLACK)) {
            if (*top < 0) *top = y;
            *bottom = y;
        }
}

START_TEST(lineplot_puts_a_constant_half_way_up) {
    Error err = {{0}};
    Image im;
    ck_assert_int_eq(image_init(&im, 400, 300, RGB_WHITE, &err), 0);
    double x[2] = {0, 10}, y[2] = {5, 5};
    Series s = {"flat", x, y, 2, NULL, NULL};
    PlotSpec p = {.ymin = 0, .ymax = 10, .vline = NAN};
    ck_assert_msg(lineplot_draw(&im, 0, 0, 400, 300, &p, &s, 1, &err) == 0, "%s", err.msg);
    int col = 150, top, bottom, line = -1;
    frame_rows(&im, col, &top, &bottom);
    ck_assert_int_gt(bottom - top, 100);
    for (int yy = top; yy <= bottom; yy++)
        if (same(image_get(&im, col, yy), series_colour(0))) {
            line = yy;
            break;
        }
    // y = 5 of 0..10: half way between the frame's inner edges (the line is 2 pixels thick)
    double mid = (top + 1 + bottom - 1) / 2.0;
    ck_assert_msg(fabs(line - mid) <= 1.5, "line at row %d, frame %d..%d", line, top, bottom);
    // no drawable point at all is an error, not an empty picture
    double bad[2] = {NAN, NAN};
    Series none = {"none", x, bad, 2, NULL, NULL};
    ck_assert_int_ne(lineplot_draw(&im, 0, 0, 400, 300, &p, &none, 1, &err), 0);
    image_free(&im);
}
END_TEST

START_TEST(log_ticks_read_as_numbers) {
    char buf[32];
    const struct {
        double v;
        const char *s;
    } want[] = {{1500, "1500"}, {2000, "2K"}, {20000, "20K"}, {1e6, "1M"}, {2.5e6, "2.5M"}, {1e-4, "0.0001"},
                {0.25, "0.25"}, {100, "100"}, {-3000, "-3K"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        axes_format(buf, sizeof buf, want[i].v);
        ck_assert_str_eq(buf, want[i].s);
    }
    // A log x axis over 1..1000 on 300 pixels from x = 10: 10 sits at 10 + 300/3 = 110 and has a
    // 4-pixel tick; 2 sits at 10 + 300 log10(2)/3 = 40.1 and has a 2-pixel minor tick, no label.
    Error err = {{0}};
    Image im;
    ck_assert_int_eq(image_init(&im, 340, 80, RGB_WHITE, &err), 0);
    Axes a = {.x = 10, .y = 10, .w = 300, .h = 30, .xmin = 1, .xmax = 1000, .ymin = 0, .ymax = 1, .logx = 1,
              .hide_y = 1};
    axes_draw(&im, &a, NULL, NULL, 5);
    int base = a.y + a.h; // ticks hang below the frame's bottom row (y + h)
    ck_assert(same(image_get(&im, 110, base + 3), RGB_BLACK));
    ck_assert(same(image_get(&im, 40, base + 1), RGB_BLACK));
    ck_assert(same(image_get(&im, 40, base + 2), RGB_WHITE)); // minor: 2 pixels
    ck_assert(same(image_get(&im, 50, base + 1), RGB_WHITE)); // 3 sits at 10 + 143.1/3... = 57.7, not 50
    ck_assert(same(image_get(&im, 58, base + 1), RGB_BLACK));
    int ink = 0; // no label under the minor tick at 2: its label row is blank
    for (int y = base + 6; y < base + 13; y++)
        for (int x = 37; x <= 43; x++) ink += same(image_get(&im, x, y), RGB_BLACK);
    ck_assert_int_eq(ink, 0);
    // pad: the frame 3 pixels outside the data rectangle, white between
    image_fill_rect(&im, 0, 0, 340, 80, RGB_WHITE);
    Axes p = {.x = 20, .y = 20, .w = 50, .h = 20, .xmin = 0, .xmax = 1, .ymin = 0, .ymax = 1, .pad = 3,
              .hide_x = 1, .hide_y = 1};
    axes_draw(&im, &p, NULL, NULL, 3);
    ck_assert(same(image_get(&im, 16, 30), RGB_BLACK)); // x - 1 - pad
    for (int x = 17; x < 20; x++) ck_assert(same(image_get(&im, x, 30), RGB_WHITE));
    ck_assert(same(image_get(&im, 30, 16), RGB_BLACK)); // y - 1 - pad
    ck_assert(same(image_get(&im, 73, 30), RGB_BLACK)); // x + w + pad
    ck_assert(same(image_get(&im, 30, 43), RGB_BLACK)); // y + h + pad
    image_free(&im);
}
END_TEST

// A 2 x 3 map with a 2-key strip, 4 pixels per cell and 5 per strip key: the strip spans
// x .. x + 9, its frame's right edge is x + 10 + pad, the map's frame starts gap pixels later,
// and the map's first column at x + 2 * 5 + 2 * pad + 2 + gap.
START_TEST(keymap_magnifies_the_first_keys) {
    Error err = {{0}};
    Image im;
    ck_assert_int_eq(image_init(&im, 200, 100, RGB_WHITE, &err), 0);
    float map[6] = {1, 0, 0, 0.5f, 0.5f, 0};
    float first[4] = {1, 0, 0.5f, 0.25f};
    ColorScale cs = {0, 1, 0};
    KeyMap k = {map, 2, 3, 4, first, 2, 5, 0, 3, 0, 2, NULL, NULL, 3};
    int x = 50, y = 20, mx = x + 2 * 5 + 2 * KEYMAP_PAD + 2 + KEYMAP_GAP;
    ck_assert_int_eq(keymap_map_x(&k, x), mx);
    int w = keymap_draw(&im, x, y, &k, &cs);
    ck_assert_int_eq(w, mx - x + 3 * 4 + KEYMAP_PAD + 1);
    // the strip: key 0 of row 0 is 1 (yellow) over 5 pixels, key 1 of row 0 is 0, row 1 0.5 and 0.25
    for (int dx = 0; dx < 5; dx++) ck_assert(same(image_get(&im, x + dx, y + 1), colormap_viridis(1)));
    ck_assert(same(image_get(&im, x + 5, y + 1), colormap_viridis(0)));
    ck_assert(same(image_get(&im, x + 2, y + 5), colormap_viridis(0.5)));
    ck_assert(same(image_get(&im, x + 9, y + 7), colormap_viridis(0.25)));
    // white pad inside the strip's frame, the frame, then the gap, then the map's frame and pad
    for (int i = 1; i <= KEYMAP_PAD; i++) ck_assert(same(image_get(&im, x + 10 - 1 + i, y + 3), RGB_WHITE));
    ck_assert(same(image_get(&im, x + 10 + KEYMAP_PAD, y + 3), RGB_BLACK));
    for (int i = 1; i <= KEYMAP_GAP; i++) ck_assert(same(image_get(&im, x + 10 + KEYMAP_PAD + i, y + 3), RGB_WHITE));
    ck_assert(same(image_get(&im, mx - KEYMAP_PAD - 1, y + 3), RGB_BLACK));
    ck_assert(same(image_get(&im, mx - 1, y + 3), RGB_WHITE));
    // the map itself: cell (0, 0) = 1, cell (1, 1) = 0.5
    ck_assert(same(image_get(&im, mx, y), colormap_viridis(1)));
    ck_assert(same(image_get(&im, mx + 4 + 3, y + 4 + 3), colormap_viridis(0.5)));
    ck_assert(same(image_get(&im, mx + 12, y + 2), RGB_WHITE)); // pad right of the map
    image_free(&im);
}
END_TEST

// Whiskers: a point at (0, 5) from 3 to 8 on axes of 0..10. The plot rectangle of a 400 x 300
// lineplot is x 70..379, y 28..259 (margins 70 + 20, 28 + 40), so y = 8 is row 28 + 232 * 0.2 =
// 74.4 and y = 3 is row 28 + 232 * 0.7 = 190.4; the whisker is the column x = 70.
START_TEST(lineplot_draws_whiskers_and_given_ticks) {
    Error err = {{0}};
    Image im;
    ck_assert_int_eq(image_init(&im, 400, 300, RGB_WHITE, &err), 0);
    double x[2] = {0, 10}, y[2] = {5, 5}, lo[2] = {3, 4}, hi[2] = {8, 6}, ticks[2] = {0, 2.5};
    Series s = {"m", x, y, 2, lo, hi};
    PlotSpec p = {.ymin = 0, .ymax = 10, .vline = NAN, .xticks = ticks, .n_xticks = 2};
    ck_assert_msg(lineplot_draw(&im, 0, 0, 400, 300, &p, &s, 1, &err) == 0, "%s", err.msg);
    Rgb c = series_colour(0);
    ck_assert(same(image_get(&im, 70, 100), c));   // on the whisker, between hi and the line
    ck_assert(same(image_get(&im, 70, 170), c));   // between the line and lo
    ck_assert(same(image_get(&im, 70, 74), c));    // the top cap's row
    ck_assert(same(image_get(&im, 72, 74), c));    // the cap is 5 wide
    ck_assert(same(image_get(&im, 68, 190), c));   // the bottom cap
    ck_assert(same(image_get(&im, 72, 190), c));
    ck_assert(!same(image_get(&im, 70, 70), c));   // nothing above the maximum
    ck_assert(!same(image_get(&im, 70, 195), c));  // nothing below the minimum
    ck_assert(!same(image_get(&im, 72, 100), c));  // the whisker is one pixel wide
    // ticks at 0 and 2.5 only: 2.5 is x = 70 + 310 / 4 = 147.5, a round tick at 2 (132) is gone
    ck_assert(same(image_get(&im, 148, 262), RGB_BLACK));
    ck_assert(same(image_get(&im, 132, 262), RGB_WHITE));
    image_free(&im);
}
END_TEST

START_TEST(policies_keep_what_they_should) {
    // 10 tokens, a cache of 6 with 2 sinks, after token 9 arrived (hand-worked):
    // dense keeps 0..9; window 4..9; sinks 0,1 and 6..9; recompute runs 4..9 again
    const char *want[4] = {"KKKKKKKKKK", "EEEEKKKKKK", "SSEEEEKKKK", "EEEERRRRRR"};
    const char code[SLOT_KINDS] = {'S', 'K', 'E', 'R'};
    PolicyKind p[4] = {POLICY_DENSE, POLICY_WINDOW, POLICY_SINKS, POLICY_RECOMPUTE};
    SlotKind kind[10];
    for (int i = 0; i < 4; i++) {
        policy_slots(kind, p[i], 9, 6, 2);
        for (int j = 0; j < 10; j++) ck_assert_msg(code[kind[j]] == want[i][j], "policy %d, token %d", i, j);
    }
    // before the cache is full nothing is evicted: sinks after token 4 is S S K K K
    policy_slots(kind, POLICY_SINKS, 4, 6, 2);
    for (int j = 0; j < 5; j++) ck_assert_int_eq(kind[j], j < 2 ? SLOT_SINK : SLOT_KEPT);
    // a row of 3 boxes of 4 pixels, 2 apart, the last one outlined as the new token
    Error err = {{0}};
    Image im;
    ck_assert_int_eq(image_init(&im, 40, 20, RGB_WHITE, &err), 0);
    SlotKind row[3] = {SLOT_SINK, SLOT_EVICTED, SLOT_KEPT};
    slot_row_draw(&im, 5, 5, row, 3, 4, 2, 2);
    ck_assert(same(image_get(&im, 6, 6), slot_colour(SLOT_SINK)));
    ck_assert(same(image_get(&im, 9, 6), RGB_WHITE)); // the gap after box 0 (x 5..8)
    ck_assert(same(image_get(&im, 12, 7), slot_colour(SLOT_EVICTED)));
    ck_assert(same(image_get(&im, 18, 6), slot_colour(SLOT_KEPT))); // box 2: x 17..20, inside its outlines
    ck_assert(same(image_get(&im, 16, 7), RGB_BLACK));              // outline, one pixel outside
    ck_assert(same(image_get(&im, 17, 5), RGB_BLACK));              // and one inside
    ck_assert(same(image_get(&im, 11, 4), RGB_WHITE));              // box 1 has none
    image_free(&im);
}
END_TEST

// A fake run: one layer, one head, the attention of two queries handed to the recorder as the
// forward pass would hand it, [H, T, capacity].
START_TEST(attnmap_files_weights_by_stream_position) {
    Config cfg = {.n_layers = 1, .n_heads = 1};
    Error err = {{0}};
    long pos[4] = {0, 1, 0, 0};
    Stream c = {.n_seen = 2, .pos = pos};
    float att[2 * 4] = {0.5f, 0.25f, 0.25f, 0, //   query at position 2 (slot 2)
                        0.1f, 0.2f, 0.3f, 0.4f}; // query at position 3 (slot 3)
    AttnMap a;
    ck_assert_int_eq(attnmap_init(&a, &cfg, 4, 2, AGG_MEAN, -1, 0, &err), 0);
    a.stream = &c;
    attnmap_on_attention(&a, 0, att, 2, 4, 4);
    attnmap_finish(&a);
    float *m = attnmap_map(&a, 0, 0);
    // bin (1, 0): queries 2-3 x keys 0-1; bin (1, 1): queries 2-3 x keys 2-3
    ck_assert_float_eq_tol(m[2], (0.5f + 0.25f + 0.1f + 0.2f) / 4, 1e-6);
    ck_assert_float_eq_tol(m[3], (0.25f + 0.3f + 0.4f) / 4, 1e-6);
    ck_assert_float_eq(m[0], 0);
    ck_assert_double_eq_tol(attnmap_sink_score(&a, 0, 0, 1), (0.5 + 0.1) / 2, 1e-6);
    ck_assert_double_eq_tol(attnmap_sink_score(&a, 0, 0, 4), 1.0, 1e-6);
    // the first keys one by one, mean over the two queries of bin 1 (bin 0 saw no query)
    float *fk = attnmap_first_keys(&a, 0, 0);
    float want_fk[8] = {0, 0, 0, 0, (0.5f + 0.1f) / 2, (0.25f + 0.2f) / 2, (0.25f + 0.3f) / 2, 0.4f / 2};
    for (int i = 0; i < 8; i++) ck_assert_float_eq_tol(fk[i], want_fk[i], 1e-6);
    attnmap_free(&a);
    // After an eviction slot 1 holds position 5: its weight must land in column 5, not 1.
    long pos2[3] = {0, 5, 0};
    Stream c2 = {.n_seen = 6, .pos = pos2};
    float att2[3] = {0.7f, 0.1f, 0.2f};
    ck_assert_int_eq(attnmap_init(&a, &cfg, 8, 8, AGG_MAX, -1, 6, &err), 0);
    a.stream = &c2;
    attnmap_on_attention(&a, 0, att2, 1, 3, 3);
    attnmap_finish(&a);
    m = attnmap_map(&a, 0, 0);
    ck_assert_float_eq(m[6 * 8 + 0], 0.7f);
    ck_assert_float_eq(m[6 * 8 + 5], 0.1f);
    ck_assert_float_eq(m[6 * 8 + 6], 0.2f);
    ck_assert_float_eq(m[6 * 8 + 1], 0);
    ck_assert_double_eq_tol(attnmap_sink_score(&a, 0, 0, 1), 0.7, 1e-6);
    ck_assert_double_eq_tol(attnmap_sink_score(&a, 0, 0, 4), 0.7, 1e-6); // slot 1 (position 5) is no sink
    ck_assert_float_eq(attnmap_first_keys(&a, 0, 0)[6 * ATTN_FIRST + 0], 0.7f); // position 0, not slot 0's
    ck_assert_float_eq(attnmap_first_keys(&a, 0, 0)[6 * ATTN_FIRST + 1], 0);    // slot 1 is position 5
    attnmap_free(&a);
    ck_assert_int_ne(attnmap_init(&a, &cfg, 4, 5, AGG_MAX, -1, 0, &err), 0); // more bins than tokens
}
END_TEST

static char *sinks(const char *args, int *st) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", getenv("SINKS_CLI"), args);
    return capture(cmd, st);
}

static const char *stories(void) {
    static char p[1024];
    snprintf(p, sizeof p, "--model %s/models/stories260K/stories260K.bin --threads 1", shared_dir());
    return p;
}

START_TEST(attn_writes_maps_and_sink_scores) {
    char args[4096], dir[1024];
    snprintf(dir, sizeof dir, "%s", tmp_path("attn"));
    snprintf(args, sizeof args, "attn %s --file %s --tokens 48 --layers 0,4 --compare 2,3 --size 32 --out-dir %s", stories(),
             fixture_path("varied.txt"), dir);
    int st;
    char *out = sinks(args, &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "attn failed: %s", out);
    free(out);
    Error err = {{0}};
    Image im;
    char p[2048];
    snprintf(p, sizeof p, "%s/layer_04.png", dir);
    ck_assert_msg(image_read_png(&im, p, &err) == 0, "%s", err.msg);
    ck_assert_int_gt(im.w, 3 * 32); // stories260K has 8 heads: a 3 x 3 grid of 32-pixel maps
    ck_assert_int_gt(im.h, 3 * 32);
    image_free(&im);
    snprintf(p, sizeof p, "%s/layer_01.png", dir);
    ck_assert_int_ne(access(p, F_OK), 0); // only the layers asked for
    snprintf(p, sizeof p, "%s/layers_02_03.png", dir); // --compare 2,3: both grids in one picture
    ck_assert_msg(image_read_png(&im, p, &err) == 0, "%s", err.msg);
    ck_assert_int_gt(im.w, 2 * 3 * 32);
    image_free(&im);
    // one row per layer and head, masses in [0, 1], the first token's within the first four's
    snprintf(p, sizeof p, "%s/sink_scores.csv", dir);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    int rows = 0, l, h;
    double s1, s4;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    while (fscanf(f, "%d,%d,%lf,%lf", &l, &h, &s1, &s4) == 4) {
        ck_assert(s1 >= 0 && s1 <= s4 + 1e-4 && s4 <= 1 + 1e-4);
        rows++;
    }
    fclose(f);
    ck_assert_int_eq(rows, 5 * 8);
    snprintf(args, sizeof args, "rm -rf %s", dir);
    ck_assert_int_eq(system(args), 0);
    // bad options: one line naming the option
    const char *bad[][2] = {{"--head 9.0", "--head"}, {"--agg median", "--agg"}, {"--layers 1,x", "--layers"},
                            {"--policy recompute", "recompute"}, {"--compare 3", "--compare"}};
    for (int i = 0; i < 5; i++) {
        snprintf(args, sizeof args, "attn %s --file %s --tokens 16 --out-dir %s %s", stories(), fixture_path("varied.txt"),
                 dir, bad[i][0]);
        out = sinks(args, &st);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "%s accepted", bad[i][0]);
        ck_assert_msg(strstr(out, bad[i][1]) != NULL, "%s: said '%s'", bad[i][0], out);
        free(out);
    }
    snprintf(args, sizeof args, "rm -rf %s", dir);
    ck_assert_int_eq(system(args), 0);
}
END_TEST

// Before the first eviction the window and the sink cache hold the same tokens, so every loss
// is the same; after it they part.
START_TEST(collapse_losses_agree_until_the_first_eviction) {
    char args[4096];
    const char *png = tmp_path("collapse.png"), *csv = tmp_path("collapse.csv");
    snprintf(args, sizeof args, "collapse %s --file %s/data/tinyshakespeare.txt --sinks 4 --window 28 --after 64 --out %s --csv %s",
             stories(), shared_dir(), png, csv);
    int st;
    char *out = sinks(args, &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "collapse failed: %s", out);
    free(out);
    FILE *f = fopen(csv, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    int pos, n = 0, differ_after = 0;
    double w, s;
    while (fscanf(f, "%d,%lf,%lf", &pos, &w, &s) == 3) {
        // the prediction of position pos is made by the query at pos - 1, which sees pos tokens
        if (pos <= 32) ck_assert_msg(fabs(w - s) < 1e-5, "position %d: %f vs %f", pos, w, s);
        else differ_after += fabs(w - s) > 1e-4;
        n++;
    }
    fclose(f);
    ck_assert_int_eq(n, 95);
    ck_assert_int_gt(differ_after, 30);
    Error err = {{0}};
    Image im;
    ck_assert_msg(image_read_png(&im, png, &err) == 0, "%s", err.msg);
    image_free(&im);
    unlink(png);
    unlink(csv);
}
END_TEST

START_TEST(plot_draws_a_csv_and_names_bad_rows) {
    const char *csv = tmp_path("data.csv"), *png = tmp_path("plot.png");
    FILE *f = fopen(csv, "w");
    fputs("run,x,y\na,1,10\na,2,20\nb,1,5\nb,2,50\n", f);
    fclose(f);
    char args[4096];
    snprintf(args, sizeof args, "plot --csv %s --x x --y y --series run --logy --out %s --width 320 --height 200", csv, png);
    int st;
    char *out = sinks(args, &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "plot failed: %s", out);
    free(out);
    Error err = {{0}};
    Image im;
    ck_assert_msg(image_read_png(&im, png, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(im.w, 320);
    ck_assert_int_eq(im.h, 200);
    int seen[2] = {0, 0}; // both series are drawn
    for (int i = 0; i < im.w * im.h; i++)
        for (int k = 0; k < 2; k++) seen[k] |= same((Rgb){im.px[3 * i], im.px[3 * i + 1], im.px[3 * i + 2]}, series_colour(k));
    ck_assert(seen[0] && seen[1]);
    image_free(&im);
    snprintf(args, sizeof args, "plot --csv %s --x x --y nope --out %s", csv, png);
    out = sinks(args, &st);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    ck_assert_msg(strstr(out, "no column 'nope'") && strstr(out, csv), "said '%s'", out);
    free(out);
    f = fopen(csv, "w");
    fputs("x,y\n1,2\n3,oops\n", f);
    fclose(f);
    snprintf(args, sizeof args, "plot --csv %s --x x --y y --out %s", csv, png);
    out = sinks(args, &st);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    ck_assert_msg(strstr(out, ":3:"), "said '%s'", out);
    free(out);
    unlink(csv);
    unlink(png);
}
END_TEST

// The schematic end to end: the size policies_size promises, and a bad cache size named.
START_TEST(plot_policies_draws_the_schematic) {
    const char *png = tmp_path("policies.png");
    char args[4096];
    snprintf(args, sizeof args, "plot --policies --tokens 8 --cache 5 --sinks 1 --out %s", png);
    int st, w, h;
    char *out = sinks(args, &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "plot --policies failed: %s", out);
    free(out);
    Error err = {{0}};
    Image im;
    ck_assert_msg(image_read_png(&im, png, &err) == 0, "%s", err.msg);
    policies_size(&w, &h, 8);
    ck_assert_int_eq(im.w, w);
    ck_assert_int_eq(im.h, h);
    int seen[SLOT_KINDS] = {0}; // every kind of slot appears
    for (int i = 0; i < im.w * im.h; i++)
        for (int k = 0; k < SLOT_KINDS; k++)
            seen[k] |= same((Rgb){im.px[3 * i], im.px[3 * i + 1], im.px[3 * i + 2]}, slot_colour(k));
    for (int k = 0; k < SLOT_KINDS; k++) ck_assert_msg(seen[k], "no %s slot", slot_name(k));
    image_free(&im);
    unlink(png);
    snprintf(args, sizeof args, "plot --policies --tokens 8 --cache 8 --out %s", png);
    out = sinks(args, &st);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    ck_assert_msg(strstr(out, "--cache"), "said '%s'", out);
    free(out);
}
END_TEST

// sinks speed takes its steps in turns: every policy gets its --steps (recompute its own
// count), and each row's median lies within its min..max.
START_TEST(speed_reports_median_and_spread) {
    const char *csv = tmp_path("speed.csv");
    char args[4096];
    snprintf(args, sizeof args, "speed %s --caches 16,24 --steps 4 --recompute-steps 2 --csv %s", stories(), csv);
    int st;
    char *out = sinks(args, &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "speed failed: %s", out);
    ck_assert_msg(strstr(out, "Load average"), "no load line: %s", out);
    free(out);
    FILE *f = fopen(csv, "r");
    ck_assert_ptr_nonnull(f);
    char line[256], pol[32];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "policy,cache,median_ms,min_ms,max_ms,q1_ms,q3_ms,steps\n");
    int rows = 0, cache, steps;
    double med, lo, hi, q1, q3;
    while (fscanf(f, "%31[a-z],%d,%lf,%lf,%lf,%lf,%lf,%d\n", pol, &cache, &med, &lo, &hi, &q1, &q3, &steps) == 8) {
        ck_assert_int_eq(steps, strcmp(pol, "recompute") ? 4 : 2);
        ck_assert(lo > 0 && lo <= q1 && q1 <= med && med <= q3 && q3 <= hi);
        rows++;
    }
    fclose(f);
    ck_assert_int_eq(rows, 8);
    unlink(csv);
}
END_TEST

int main(void) {
    RUN_TESTS("plot", 300,
              viridis_matches_its_published_colours,
              png_round_trip_keeps_every_pixel,
              font_draws_its_glyphs,
              ticks_are_round_numbers,
              log_ticks_read_as_numbers,
              keymap_magnifies_the_first_keys,
              lineplot_draws_whiskers_and_given_ticks,
              policies_keep_what_they_should,
              downsample_by_max_and_by_mean,
              heatmap_cells_take_their_colours,
              lineplot_puts_a_constant_half_way_up,
              attnmap_files_weights_by_stream_position,
              attn_writes_maps_and_sink_scores,
              collapse_losses_agree_until_the_first_eviction,
              plot_draws_a_csv_and_names_bad_rows,
              plot_policies_draws_the_schematic,
              speed_reports_median_and_spread);
}
