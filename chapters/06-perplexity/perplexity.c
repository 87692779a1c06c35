// Chapter 6: perplexity, by hand. A model reads real text one token at a time; perplexity is
// exp(mean negative log-likelihood of each next token). Three readings of the same tokens:
//   1. a passage of real text (Tiny Shakespeare by default),
//   2. the same tokens shuffled: the same words, no order; a model that uses context must do worse,
//   3. the model's own greedy continuation: it grades its own homework, so the number is low and
//      proves nothing about the model.
#include <math.h>
#include <string.h>

#include "common.h"
#include "forward.h"
#include "mapfile.h"
#include "tokenizer.h"

// ANCHOR: perplexity
// exp(mean over i of -log p(ids[i+1] | ids[0..i])), feeding one token at a time (a decode step
// each, as generation would).
static double perplexity(const Model *m, const int *ids, int n, Error *err) {
    KVCache c;
    RunState s;
    if (kvcache_init(&c, &m->cfg, n, err) || runstate_init(&s, &m->cfg, 1, n, err)) return -1;
    int V = m->cfg.vocab_size;
    float *logits = malloc((size_t)V * sizeof(float));
    double nll = 0;
    for (int i = 0; i + 1 < n; i++) {
        if (model_forward(logits, m, &c, &s, &ids[i], 1, 0, err)) return -1;
        // -log softmax(logits)[next] = log(sum_v e^(l_v - max)) + max - l_next, in double
        double max = logits[0], sum = 0;
        for (int v = 1; v < V; v++) max = fmax(max, logits[v]);
        for (int v = 0; v < V; v++) sum += exp(logits[v] - max);
        nll += log(sum) + max - logits[ids[i + 1]];
    }
    free(logits);
    runstate_free(&s);
    kvcache_free(&c);
    return exp(nll / (n - 1));
}
// END: perplexity

int main(int argc, char **argv) {
    char text_default[1024];
    snprintf(text_default, sizeof text_default, "%s/data/tinyshakespeare.txt",
             getenv("SINKS_SHARED") ? getenv("SINKS_SHARED") : "../shared");
    Opt o[] = {{"--model", stories("stories260K.bin"), "a llama2.c .bin (its tok<vocab>.bin beside it) or a GGUF"},
               {"--file", text_default, "the text to read"},
               {"--tokens", "256", "tokens to read from the start of the file"},
               {"--seed", "1", "seed of the shuffle"}};
    OPTS_PARSE(o, "ch06: perplexity by hand on real text, shuffled text and the model's own output");
    int n, seed;
    OPT_INT(o, "--tokens", 2, 100000, &n);
    OPT_INT(o, "--seed", 0, 1 << 30, &seed);
    Model m;
    Tokenizer t;
    Error err = {{0}};
    CHECK(model_load(&m, OPT_STR(o, "--model"), &err), err);
    CHECK(tokenizer_load(&t, OPT_STR(o, "--model"), NULL, &err), err);
    size_t len;
    char *text = read_text_file(OPT_STR(o, "--file"), &len, &err);
    if (!text) {
        fprintf(stderr, "error: %s\n", err.msg);
        tokenizer_free(&t);
        model_free(&m);
        return 1;
    }
    TokenList ids = {0};
    // at most 8 bytes a token is plenty for the first n tokens
    CHECK(tokenizer_encode(&t, text, len < (size_t)n * 8 ? len : (size_t)n * 8, 1, &ids, &err), err);
    free(text);
    if (ids.n < n) n = ids.n;
    if (n > m.cfg.ctx_len) n = m.cfg.ctx_len; // stay inside the trained context
    printf("%s, first %d tokens of %s\n", OPT_STR(o, "--model"), n, OPT_STR(o, "--file"));
    printf("  real text:                     perplexity %8.2f\n", perplexity(&m, ids.ids, n, &err));
    // The same tokens in a random order (the first, a BOS, stays first).
    int *shuffled = malloc((size_t)n * sizeof(int));
    memcpy(shuffled, ids.ids, (size_t)n * sizeof(int));
    unsigned r = (unsigned)seed * 2654435761u + 1;
    for (int i = n - 1; i > 1; i--) {
        r = r * 1664525u + 1013904223u;
        int j = 1 + (int)((r >> 8) % (unsigned)i), tmp = shuffled[i];
        shuffled[i] = shuffled[j], shuffled[j] = tmp;
    }
    printf("  the same tokens, shuffled:     perplexity %8.2f\n", perplexity(&m, shuffled, n, &err));
    // The model's own greedy continuation of the first token: what it finds most likely.
    KVCache c;
    RunState s;
    CHECK(kvcache_init(&c, &m.cfg, n, &err), err);
    CHECK(runstate_init(&s, &m.cfg, 1, n, &err), err);
    float *logits = malloc((size_t)m.cfg.vocab_size * sizeof(float));
    shuffled[0] = ids.ids[0];
    for (int i = 0; i + 1 < n; i++) {
        CHECK(model_forward(logits, &m, &c, &s, &shuffled[i], 1, 0, &err), err);
        shuffled[i + 1] = argmax(logits, m.cfg.vocab_size);
    }
    printf("  its own greedy output:         perplexity %8.2f   (meaningless: it chose every token)\n",
           perplexity(&m, shuffled, n, &err));
    free(logits);
    runstate_free(&s);
    kvcache_free(&c);
    free(shuffled);
    tokenlist_free(&ids);
    tokenizer_free(&t);
    model_free(&m);
    return 0;
}
