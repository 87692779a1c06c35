// sinks chat: multi-turn chat with one KV cache carried across turns: no reset and no
// re-computation between turns; under the sinks policy it can go on forever at constant memory.
// Reads one user message per line from stdin (a terminal or a pipe); /reset, /stats, /quit.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sampler.h"

typedef struct {
    Loaded *L;
    Runner *st;
    Sampler *sampler;
    float *logits;
    char *piece;
    size_t piece_cap;
    long turns, fed, generated;
    double gen_seconds;
} Chat;

// Feeds text (no BOS) into the cache; logits then predict what follows it.
static int feed_text(Chat *c, const char *text, Error *err) {
    TokenList ids = {0};
    int rc = tokenizer_encode(&c->L->tok, text, strlen(text), 0, &ids, err);
    if (!rc && ids.n > 0) rc = runner_feed(c->st, ids.ids, ids.n, c->logits, 0, err);
    c->fed += ids.n;
    tokenlist_free(&ids);
    return rc;
}

// Generates the assistant's reply until its end-of-turn token, streaming it to stdout, and
// leaves the end of the turn in the cache so the next turn continues the same conversation.
static int reply(Chat *c, int max_tokens, Error *err) {
    TokDecoder dec;
    tokdecoder_init(&dec);
    double t0 = now_seconds();
    int ended = 0;
    for (int i = 0; i < max_tokens; i++) {
        int next = sampler_sample(c->sampler, c->logits);
        if (runner_feed(c->st, &next, 1, c->logits, 0, err)) return -1;
        c->generated++;
        if (token_ends_turn(&c->L->tok, next)) {
            ended = 1;
            break;
        }
        int n = tokdecoder_push(&dec, &c->L->tok, next, c->piece, (int)c->piece_cap);
        fwrite(c->piece, 1, (size_t)n, stdout);
        fflush(stdout);
    }
    int n = tokdecoder_flush(&dec, c->piece, (int)c->piece_cap);
    fwrite(c->piece, 1, (size_t)n, stdout);
    printf("\n");
    fflush(stdout);
    c->gen_seconds += now_seconds() - t0;
    // close the turn as the template does: "<|im_end|>\n" (the end token is already in if sampled)
    if (has_chat_template(&c->L->tok)) return feed_text(c, ended ? "\n" : "<|im_end|>\n", err);
    return 0;
}

static char *read_line(FILE *f) {
    size_t cap = 256, n = 0;
    char *s = malloc(cap);
    int ch;
    while (s && (ch = fgetc(f)) != EOF && ch != '\n') {
        if (n + 1 == cap) {
            char *ns = realloc(s, cap *= 2);
            if (!ns) { free(s); return NULL; }
            s = ns;
        }
        s[n++] = (char)ch;
    }
    if (!s || (n == 0 && ch == EOF)) {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    return s;
}

int cmd_chat(int argc, char **argv) {
    const char *model = NULL, *system = SMOLLM2_SYSTEM, *device = "cpu";
    int max_reply = 512, top_k = 0, seed = 42, threads = 0;
    float temperature = 0.0f, top_p = 0.9f;
    PolicyOpts po = POLICY_DEFAULTS;
    Opt opts[] = {
        {"--model", OPT_STR, &model, "model (default " DEFAULT_MODEL_HINT ")"},
        {"--system", OPT_STR, &system, "system message (default: SmolLM2's)"},
        {"--max-reply", OPT_INT, &max_reply, "tokens per reply at most (default 512)"},
        {"--temperature", OPT_FLOAT, &temperature, "0 = greedy (default 0)"},
        {"--top-k", OPT_INT, &top_k, "sample from the k most likely tokens (0 = off)"},
        {"--top-p", OPT_FLOAT, &top_p, "nucleus sampling mass (default 0.9)"},
        {"--seed", OPT_INT, &seed, "random seed (default 42)"},
        {"--threads", OPT_INT, &threads, "OpenMP threads (default: all cores)"},
        POLICY_OPTS(po),
        DEVICE_OPT(device),
        {NULL, 0, NULL, NULL},
    };
    int pr = parse_opts(argc, argv, opts,
                        "usage: sinks chat [options]\n\n"
                        "Multi-turn chat, one message per line on stdin (a terminal or a pipe). One KV cache\n"
                        "is carried across turns, never reset or recomputed. Commands: /reset clears the\n"
                        "conversation, /stats prints cache and speed figures, /quit (or end of input) ends.");
    if (pr) return pr > 0 ? 0 : 2;
    if (max_reply <= 0) {
        fprintf(stderr, "error: --max-reply must be > 0\n");
        return 2;
    }
    Loaded L;
    Policy pol;
    int lr = load_for_streaming(&L, &pol, model, NULL, &po, threads);
    if (lr) return lr;
    Error err = {{0}};
    Runner st;
    memset(&st, 0, sizeof st);
    Sampler sampler = {0};
    Chat c = {&L, &st, &sampler, NULL, NULL, 3 * (size_t)L.tok.max_piece_len + 16, 0, 0, 0, 0};
    c.logits = malloc((size_t)L.model.cfg.vocab_size * sizeof(float));
    c.piece = malloc(c.piece_cap);
    int rc = 1, tty = isatty(0), started = 0;
    if (!c.logits || !c.piece || runner_init(&st, &L.model, &pol, L.model.cfg.ctx_len, device, &err) ||
        sampler_init(&sampler, L.model.cfg.vocab_size, temperature, top_k, top_p, (uint64_t)seed, &err))
        goto done;
    if (tty) fprintf(stderr, "chatting with %s (%s cache); /reset, /stats, /quit\n", resolve_model(model), policy_name(pol.kind));
    for (;;) {
        if (tty) fprintf(stderr, "> ");
        char *line = read_line(stdin);
        if (!line || strcmp(line, "/quit") == 0) {
            free(line);
            break;
        }
        if (strcmp(line, "/reset") == 0) {
            runner_reset(&st);
            started = 0;
            printf("[conversation cleared]\n");
        } else if (strcmp(line, "/stats") == 0) {
            printf("[turns %ld | tokens seen %ld | cache %d/%d slots | generated %ld at %.1f tok/s | RSS %ld MB]\n",
                   c.turns, st.n_seen, runner_len(&st), runner_capacity(&st), c.generated,
                   c.gen_seconds > 0 ? c.generated / c.gen_seconds : 0.0, current_rss_kb() >> 10);
        } else if (line[0] != '\0') {
            char *turn = has_chat_template(&L.tok) ? chatml_turn("user", line) : strdup(line);
            char *sys = !started && has_chat_template(&L.tok) ? chatml_turn("system", system) : NULL;
            int bad = !turn || (sys && feed_text(&c, sys, &err)) || feed_text(&c, turn, &err) ||
                      (has_chat_template(&L.tok) && feed_text(&c, "<|im_start|>assistant\n", &err)) ||
                      reply(&c, max_reply, &err);
            free(turn);
            free(sys);
            started = 1;
            c.turns++;
            if (bad) {
                free(line);
                goto done;
            }
        }
        fflush(stdout);
        free(line);
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "error: %s\n", err.msg[0] ? err.msg : "out of memory");
    sampler_free(&sampler);
    runner_free(&st);
    free(c.logits);
    free(c.piece);
    loaded_free(&L);
    return rc;
}
