// Chapter 4: a whole Llama: load stories260K and write a story, one greedy token at a time.
#include "common.h"
#include "forward.h"
#include "sampler.h"
#include "tokenizer.h"

int main(int argc, char **argv) {
    Opt o[] = {{"--steps", "60", "tokens to generate"},
               {"--temperature", "0", "0: greedy (argmax); above 0: sample with this temperature"},
               {"--seed", "1", "seed of the sampler"}};
    OPTS_PARSE(o, "ch04: load stories260K and write a story");
    int steps, seed;
    OPT_INT(o, "--steps", 1, 100000, &steps);
    OPT_INT(o, "--seed", 0, 1 << 30, &seed);
    char *end;
    float temperature = strtof(OPT_STR(o, "--temperature"), &end);
    if (*end || temperature < 0) {
        fprintf(stderr, "error: --temperature %s: expected a number >= 0\n", OPT_STR(o, "--temperature"));
        return 2;
    }
    Model m;
    Tokenizer tok;
    Error err = {{0}};
    CHECK(model_load(&m, stories("stories260K.bin"), &err), err);
    CHECK(tokenizer_load(&tok, stories("stories260K.bin"), NULL, &err), err);
    const Config *c = &m.cfg;
    printf("stories260K: %d layers, dim %d, %d heads (%d kv heads), vocab %d\n", c->n_layers, c->dim, c->n_heads,
           c->n_kv_heads, c->vocab_size);
    int token = tok.bos_id;
    Sampler sampler; // temperature 0 is greedy: the argmax
    CHECK(sampler_init(&sampler, c->vocab_size, temperature, 0, 1.0f, (uint64_t)seed, &err), err);
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
        token = sampler_sample(&sampler, logits);
        tokdecoder_push(&dec, &tok, token, piece, sizeof piece);
        fputs(piece, stdout);
    }
    printf("\n");
    sampler_free(&sampler);
    free(logits);
    runstate_free(&st);
    kvcache_free(&cache);
    tokenizer_free(&tok);
    model_free(&m);
    return 0;
}
