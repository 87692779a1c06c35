// Chapter 4: a whole Llama: load stories260K and write a story, one greedy token at a time.
#include "common.h"
#include "forward.h"
#include "tokenizer.h"

int main(void) {
    Model m;
    Tokenizer tok;
    Error err = {{0}};
    CHECK(model_load(&m, stories("stories260K.bin"), &err), err);
    CHECK(tokenizer_load(&tok, stories("stories260K.bin"), NULL, &err), err);
    const Config *c = &m.cfg;
    printf("stories260K: %d layers, dim %d, %d heads (%d kv heads), vocab %d, %zu parameters\n", c->n_layers,
           c->dim, c->n_heads, c->n_kv_heads, c->vocab_size, m.n_params);
    int steps = 60, token = tok.bos_id;
    KVCache cache;
    RunState st;
    CHECK(kvcache_init(&cache, c, steps + 1, &err), err);
    CHECK(runstate_init(&st, c, 1, steps + 1, &err), err);
    float *logits = malloc((size_t)c->vocab_size * sizeof(float));
    TokDecoder dec;
    tokdecoder_init(&dec);
    dec.prev = token;
    char piece[256];
    for (int i = 0; i < steps; i++) {
        CHECK(model_forward(logits, &m, &cache, &st, &token, 1, 0, &err), err);
        token = argmax(logits, c->vocab_size);
        tokdecoder_push(&dec, &tok, token, piece, sizeof piece);
        fputs(piece, stdout);
    }
    printf("\n");
    free(logits);
    runstate_free(&st);
    kvcache_free(&cache);
    tokenizer_free(&tok);
    model_free(&m);
    return 0;
}
