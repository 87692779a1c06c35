// Chapter 6: perplexity, by hand. stories260K reads two texts one token at a time: a story like
// the ones it was trained on, and Shakespeare, which it has never seen.
#include <math.h>
#include <string.h>

#include "common.h"
#include "forward.h"
#include "tokenizer.h"

static double perplexity(const Model *m, const Tokenizer *t, const char *text) {
    TokenList ids = {0};
    Error err = {{0}};
    if (tokenizer_encode(t, text, strlen(text), 1, &ids, &err)) return -1;
    KVCache c;
    RunState s;
    if (kvcache_init(&c, &m->cfg, ids.n, &err) || runstate_init(&s, &m->cfg, 1, ids.n, &err)) return -1;
    float *logits = malloc((size_t)m->cfg.vocab_size * sizeof(float));
    double nll = 0;
    for (int i = 0; i + 1 < ids.n; i++) {
        model_forward(logits, m, &c, &s, &ids.ids[i], 1, 0, &err);
        double max = logits[0], sum = 0;
        for (int v = 1; v < m->cfg.vocab_size; v++) max = fmax(max, logits[v]);
        for (int v = 0; v < m->cfg.vocab_size; v++) sum += exp(logits[v] - max);
        nll += log(sum) + max - logits[ids.ids[i + 1]]; // -log p(next token)
    }
    int n = ids.n - 1;
    free(logits);
    runstate_free(&s);
    kvcache_free(&c);
    tokenlist_free(&ids);
    return exp(nll / n);
}

int main(void) {
    Model m;
    Tokenizer t;
    Error err = {{0}};
    CHECK(model_load(&m, stories("stories260K.bin"), &err), err);
    CHECK(tokenizer_load(&t, stories("stories260K.bin"), NULL, &err), err);
    const char *story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                        "One day, she saw a big, red ball.";
    const char *bard = "Shall I compare thee to a summer's day? Thou art more lovely and more temperate: "
                       "rough winds do shake the darling buds of May.";
    printf("perplexity of a TinyStories-like story: %.2f\n", perplexity(&m, &t, story));
    printf("perplexity of Shakespeare's sonnet 18:  %.2f\n", perplexity(&m, &t, bard));
    tokenizer_free(&t);
    model_free(&m);
    return 0;
}
