// Chapter 10: watch the sink + window cache evict. stories260K streams 14 tokens through a
// cache of 2 sinks + 4 recent tokens; after each step we print which stream positions it holds.
#include "common.h"
#include "stream.h"

int main(void) {
    Model m;
    Error err = {{0}};
    CHECK(model_load(&m, stories("stories260K.bin"), &err), err);
    Policy p = {POLICY_SINKS, 2, 4, 0, 0};
    CHECK(policy_validate(&p, &m.cfg, 0, &err), err);
    Stream s;
    CHECK(stream_init(&s, &m, &p, 0, &err), err);
    float *logits = malloc((size_t)m.cfg.vocab_size * sizeof(float));
    printf("cache of %d slots: 2 sinks + 4 recent + room for a block of %d tokens in flight\n", s.cache.capacity,
           p.chunk);
    for (int t = 0; t < 14; t++) {
        int token = 1 + t;
        CHECK(stream_feed(&s, &token, 1, logits, 0, &err), err);
        printf("after token %2d: slots hold stream positions", t);
        for (int i = 0; i < s.cache.len; i++) printf(" %2ld%s", s.cache.stream_pos[i], i == 1 ? " |" : "");
        printf("\n");
    }
    free(logits);
    stream_free(&s);
    model_free(&m);
    return 0;
}
