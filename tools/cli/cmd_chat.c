// sinks chat: multi-turn chat with one KV cache carried across turns: no reset and no
// re-computation between turns; under the sinks policy it can go on forever at constant memory.
// Reads one user message per line from stdin (a terminal, with libedit's line editing, or a
// pipe); /help, /reset, /stats, /quit.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include <editline/readline.h>

#include "cli.h"
#include "sampler.h"

typedef struct {
    Loaded *L;
    Stream *st;
    Sampler *sampler;
    float *logits;
    char *piece;
    size_t piece_cap;
    long turns, fed, generated;
    double gen_seconds;
    int dense; // a cache that fills up: the reply must stop before it does
} Chat;

// Feeds text (no BOS) into the cache; logits then predict what follows it.
static int feed_text(Chat *c, const char *text, Error *err) {
    TokenList ids = {0};
    int rc = tokenizer_encode(&c->L->tok, text, strlen(text), 0, &ids, err);
    if (!rc && ids.n > 0) rc = stream_feed(c->st, ids.ids, ids.n, c->logits, 0, err);
    c->fed += ids.n;
    tokenlist_free(&ids);
    return rc;
}

// Generates the assistant's reply until its end-of-turn token, streaming it to stdout, and
// leaves the end of the turn in the cache so the next turn continues the same conversation.
// Ctrl-C (or SIGTERM/SIGHUP) stops the reply; the turn is closed and the conversation kept.
// Returns 0, -1 on an error, or 1 when a dense cache is full (the reply ends there).
static int reply(Chat *c, int max_tokens, Error *err) {
    TokDecoder dec;
    tokdecoder_init(&dec);
    double t0 = now_seconds();
    int ended = 0, full = 0;
    for (int i = 0; i < max_tokens && !cli_stop_signal(); i++) {
        if (c->dense && c->st->len >= c->st->capacity) {
            full = 1;
            break;
        }
        int next = sampler_sample(c->sampler, c->logits);
        if (stream_feed(c->st, &next, 1, c->logits, 0, err)) return -1;
        c->generated++;
        if (token_ends_turn(&c->L->tok, next)) {
            ended = 1;
            break;
        }
        int n = tokdecoder_push(&dec, &c->L->tok, next, c->piece, (int)c->piece_cap);
        fwrite(c->piece, 1, (size_t)n, stdout);
        if (fflush(stdout)) return 0; // stdout is gone: main() reports it
    }
    int n = tokdecoder_flush(&dec, c->piece, (int)c->piece_cap);
    fwrite(c->piece, 1, (size_t)n, stdout);
    printf("\n");
    fflush(stdout);
    c->gen_seconds += now_seconds() - t0;
    if (cli_stop_signal() == SIGINT) {
        fprintf(stderr, "[reply stopped; the conversation goes on (Ctrl-C at the prompt or Ctrl-D ends)]\n");
        cli_clear_stop();
    }
    if (full) return 1;
    // close the turn as the template does: "<|im_end|>\n" (the end token is already in if sampled)
    if (has_chat_template(&c->L->tok) && c->st->len + 3 <= c->st->capacity + (c->dense ? 0 : 3))
        return feed_text(c, ended ? "\n" : "<|im_end|>\n", err);
    return 0;
}

// One line from the user: libedit's readline on a terminal (editing, history), stdio on a pipe.
// NULL at end of input, or when a signal interrupted the wait.
static char *read_line(FILE *f, int tty) {
    if (tty) {
        char *line = readline("> ");
        if (line && *line) add_history(line);
        return line;
    }
    size_t cap = 256, n = 0;
    char *s = malloc(cap);
    int ch = 0;
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

#define CHAT_COMMANDS                                                                              \
    "/help   this list\n"                                                                            \
    "/stats  turns, tokens seen, the cache (tokens held of S+W), speed, memory\n"                    \
    "/reset  forget the conversation: an empty cache, turn count 0\n"                                \
    "/quit   end (so do Ctrl-D and Ctrl-C at the prompt); Ctrl-C during a reply stops the reply\n"

int cmd_chat(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *system = SMOLLM2_SYSTEM;
    int max_reply = 512, top_k = 0, seed = 42, threads = 0;
    float temperature = 0.0f, top_p = 0.9f;
    PolicyOpts po = POLICY_DEFAULTS;
    Opt opts[] = {
        MODEL_OPT(model),
        TOKENIZER_OPT(tokenizer),
        {"--system", OPT_STR, &system, "system message (default: SmolLM2's)", 0, 0, NULL},
        {"--n-predict", OPT_INT, &max_reply, "tokens per reply at most (default 512)", 1, 100000000, "-n --max-reply"},
        {"--temperature", OPT_FLOAT, &temperature, "0 = greedy (default 0)", 0, 100, "--temp"},
        {"--top-k", OPT_INT, &top_k, "sample from the k most likely tokens (0 = off)", 0, 1000000, NULL},
        {"--top-p", OPT_FLOAT, &top_p, "nucleus sampling mass (default 0.9)", 0, 1, NULL},
        {"--seed", OPT_INT, &seed, "random seed (default 42)", 0, 2147483647, "-s"},
        THREADS_OPT(threads),
        POLICY_OPTS(po),
        DEVICE_OPT(po.device),
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    int pr = parse_opts(argc, argv, opts,
                        "usage: sinks chat [options]\n\n"
                        "Multi-turn chat, one message per line on stdin (a terminal, with line editing, or a\n"
                        "pipe). One KV cache of S+W tokens is carried across turns, never reset or recomputed.\n"
                        "Commands:\n" CHAT_COMMANDS);
    if (pr) return pr > 0 ? EXIT_OK : EXIT_USAGE;
    Loaded L;
    Policy pol;
    int lr = load_for_streaming(&L, &pol, model, tokenizer, &po, threads);
    if (lr) return lr;
    Error err = {{0}};
    Stream st;
    memset(&st, 0, sizeof st);
    Sampler sampler = {0};
    Chat c = {&L, &st, &sampler, NULL, NULL, 3 * (size_t)L.tok.max_piece_len + 16, 0, 0, 0, 0, pol.kind == POLICY_DENSE};
    c.logits = malloc((size_t)L.model.cfg.vocab_size * sizeof(float));
    c.piece = malloc(c.piece_cap);
    int rc = EXIT_INPUT, tty = isatty(0) && isatty(1), started = 0;
    int S = pol.kind == POLICY_SINKS ? pol.n_sink : 0, W = pol.kind == POLICY_DENSE ? L.model.cfg.ctx_len - S : pol.window;
    if (!c.logits || !c.piece || stream_open(&st, &L.model, &pol, L.model.cfg.ctx_len, po.device, &err) ||
        sampler_init(&sampler, L.model.cfg.vocab_size, temperature, top_k, top_p, (uint64_t)seed, &err))
        goto done;
    cli_catch_signals();
    if (tty) fprintf(stderr, "chatting with %s (%s cache %d+%d); /help lists the commands\n", resolve_model(model),
                     policy_name(pol.kind), S, W);
    while (!cli_stop_signal()) { // a SIGTERM or SIGHUP during a reply ends the chat after it
        char *line = read_line(stdin, tty);
        if (!line || strcmp(line, "/quit") == 0) {
            free(line);
            break;
        }
        if (strcmp(line, "/reset") == 0) {
            stream_reset(&st);
            started = 0;
            c.turns = 0;
            printf("[conversation cleared]\n");
        } else if (strcmp(line, "/help") == 0) {
            fputs(CHAT_COMMANDS, stdout);
        } else if (strcmp(line, "/stats") == 0) {
            printf("[turns %ld | tokens seen %ld | cache %d tokens of %d+%d | generated %ld at %.1f tok/s | RSS %ld MB]\n",
                   c.turns, st.n_seen, stream_visible(&st), S, W, c.generated,
                   c.gen_seconds > 0 ? c.generated / c.gen_seconds : 0.0, current_rss_kb() >> 10);
        } else if (line[0] == '/' && strchr(line, ' ') == NULL) {
            printf("[unknown command %s: /help lists them]\n", line);
        } else if (line[0] != '\0') {
            char *turn = has_chat_template(&L.tok) ? chatml_turn("user", line) : strdup(line);
            char *sys = !started && has_chat_template(&L.tok) ? chatml_turn("system", system) : NULL;
            int bad = !turn || (sys && feed_text(&c, sys, &err)) || feed_text(&c, turn, &err) ||
                      (has_chat_template(&L.tok) && feed_text(&c, "<|im_start|>assistant\n", &err));
            int r = bad ? -1 : reply(&c, max_reply, &err);
            free(turn);
            free(sys);
            started = 1;
            c.turns++;
            if (r == 1 || (bad && c.dense && strstr(err.msg, "full"))) {
                fflush(stdout);
                fprintf(stderr, "\nerror: the dense cache is full (%d tokens, the trained context): start chat with "
                                "--policy sinks to keep talking, or type /reset\n", st.capacity);
                err.msg[0] = '\0';
            } else if (r < 0) {
                free(line);
                goto done;
            }
        }
        fflush(stdout);
        free(line);
        if (ferror(stdout)) break;
    }
    rc = cli_stop_signal() ? EXIT_SIGNAL + cli_stop_signal() : EXIT_OK;
done:
    if (rc && rc < EXIT_SIGNAL) fprintf(stderr, "error: %s\n", err.msg[0] ? err.msg : "out of memory");
    sampler_free(&sampler);
    stream_free(&st);
    free(c.logits);
    free(c.piece);
    loaded_free(&L);
    return rc;
}
