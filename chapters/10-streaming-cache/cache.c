// Chapter 10: watch the sink + window cache evict. stories260K streams tokens through a small
// cache (2 sinks + 4 recent by default); after each step we print which stream positions it holds.
// The rotary position of a key is its slot, the index printed first.
#include "common.h"
#include "stream.h"

int main(int argc, char **argv) {
    Opt o[] = {{"--sinks", "2", "S: the first tokens kept forever"},
               {"--window", "4", "W: the recent tokens kept"},
               {"--tokens", "14", "tokens to stream through the cache"}};
    OPTS_PARSE(o, "ch10: which stream positions a sink cache holds after each token");
    int S, W, n;
    OPT_INT(o, "--sinks", 0, 64, &S);
    OPT_INT(o, "--window", 1, 256, &W);
    OPT_INT(o, "--tokens", 1, 100000, &n);
    Model m;
    Error err = {{0}};
    CHECK(model_load(&m, stories("stories260K.bin"), &err), err);
    Policy p = {.kind = POLICY_SINKS, .n_sink = S, .window = W};
    CHECK(policy_validate(&p, &m.cfg, 0, &err), err);
    Stream s;
    CHECK(stream_init(&s, &m, &p, 0, &err), err);
    float *logits = malloc((size_t)m.cfg.vocab_size * sizeof(float));
    int *view = malloc((size_t)s.capacity * sizeof(int));
    printf("cache of %d slots: %d sinks + %d recent + room for a block of %d tokens in flight\n", s.capacity,
           S, W, p.chunk);
    printf("slot (= rotary position):          ");
    for (int i = 0; i < S + W; i++) printf(" %3d%s", i, i == S - 1 ? " |" : "");
    printf("\n");
    for (int t = 0; t < n; t++) {
        int token = 1 + t % (m.cfg.vocab_size - 1);
        CHECK(stream_feed(&s, &token, 1, logits, 0, &err), err);
        // what the next token sees: the sinks and the last W (the cache evicts the rest lazily)
        int k = stream_view(&s, view);
        printf("after token %3d, stream positions:", t);
        for (int i = 0; i < k; i++) printf(" %3ld%s", s.pos[view[i]], i == S - 1 ? " |" : "");
        printf("\n");
    }
    free(logits);
    free(view);
    stream_free(&s);
    model_free(&m);
    return 0;
}
