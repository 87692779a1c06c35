// sinks streameval: a StreamEval-style benchmark (the StreamingLLM authors described theirs but
// never released it). A stream of numbered lines, each holding a fact:
//     Line 17: REGISTER_CONTENT is <48213>.
// and every few lines a question about the line d lines back:
//     Question: what is the REGISTER_CONTENT in line 12? Answer: Line 12: REGISTER_CONTENT is <
// The model answers greedily; the answer counts if it reproduces the number exactly. The true
// answer is then fed, so the stream goes on the same way whatever the model said.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
    int correct, asked;
    long tokens;
} EvalResult;

static uint32_t next_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

static int feed_str(Stream *st, const Tokenizer *tok, const char *text, float *logits, long *n, Error *err) {
    TokenList ids = {0};
    int rc = tokenizer_encode(tok, text, strlen(text), 0, &ids, err);
    if (!rc && ids.n) rc = stream_feed(st, ids.ids, ids.n, logits, 0, err);
    *n += ids.n;
    tokenlist_free(&ids);
    return rc;
}

// ANCHOR: streameval
static int run_eval(EvalResult *r, const Model *m, const Tokenizer *tok, Policy p, int lines, int every, int d,
                    uint64_t seed, Error *err) {
    Stream st;
    memset(r, 0, sizeof *r);
    // a line and its question take well under 64 tokens: room for the whole stream when dense
    if (stream_init(&st, m, &p, lines * 64 + 256, err)) return -1;
    float *logits = malloc((size_t)m->cfg.vocab_size * sizeof(float));
    int *value = malloc((size_t)lines * sizeof(int)), rc = 0;
    char buf[256], piece[256];
    int bos = tok->bos_id;
    if (tok->add_bos && bos >= 0) rc = stream_feed(&st, &bos, 1, logits, 0, err);
    if (!rc) rc = feed_str(&st, tok, "Below is a list of lines, each with a REGISTER_CONTENT value. "
                                     "Remember them: you will be asked about them.\n", logits, &r->tokens, err);
    for (int i = 0; i < lines && !rc; i++) {
        value[i] = 10000 + (int)(next_rand(&seed) % 90000);
        snprintf(buf, sizeof buf, "Line %d: REGISTER_CONTENT is <%d>.\n", i, value[i]);
        rc = feed_str(&st, tok, buf, logits, &r->tokens, err);
        if (rc || (i + 1) % every != 0 || i - d < 0) continue;
        int target = i - d;
        snprintf(buf, sizeof buf, "Question: what is the REGISTER_CONTENT in line %d? Answer: Line %d: REGISTER_CONTENT is <",
                 target, target);
        rc = feed_str(&st, tok, buf, logits, &r->tokens, err);
        // greedy answer: digits until anything else
        char answer[32] = "";
        int len = 0;
        TokDecoder dec;
        tokdecoder_init(&dec);
        for (int k = 0; k < 8 && !rc; k++) {
            int next = argmax(logits, m->cfg.vocab_size);
            int n = tokdecoder_push(&dec, tok, next, piece, sizeof piece);
            int stop = 0;
            for (int c = 0; c < n && !stop; c++) {
                if (piece[c] >= '0' && piece[c] <= '9' && len < 31) answer[len++] = piece[c];
                else stop = 1;
            }
            answer[len] = '\0';
            if (stop || len >= 6) break;
            rc = stream_feed(&st, &next, 1, logits, 0, err); // the model's own digits, as it wrote them
            r->tokens++;
        }
        r->asked++;
        r->correct += atoi(answer) == value[target] && len == 5;
        // close the answer with the truth, whatever was said (digits the model already wrote stay)
        if (value[target] != atoi(answer)) {
            char fix[64];
            snprintf(fix, sizeof fix, "> (correct: %d).\n", value[target]);
            rc = rc ? rc : feed_str(&st, tok, fix, logits, &r->tokens, err);
        } else {
            rc = rc ? rc : feed_str(&st, tok, ">.\n", logits, &r->tokens, err);
        }
    }
    free(value);
    free(logits);
    stream_free(&st);
    return rc;
}
// END: streameval

int cmd_streameval(int argc, char **argv) {
    const char *model = NULL, *distances = "2,5,10,20,40";
    int lines = 120, every = 4, sinks = 4, window = 252, threads = 0, seed = 1;
    Opt opts[] = {
        {"--model", OPT_STR, &model, "model (default " DEFAULT_MODEL_HINT ")"},
        {"--distances", OPT_STR, &distances, "how many lines back the questions ask (default 2,5,10,20,40)"},
        {"--lines", OPT_INT, &lines, "lines in the stream (default 120, about 2.3K tokens with questions)"},
        {"--every", OPT_INT, &every, "a question after every N lines (default 4)"},
        {"--sinks", OPT_INT, &sinks, "sink tokens of the sinks policy (default 4)"},
        {"--window", OPT_INT, &window, "window of the sinks policy; the window policy gets sinks + window (default 252)"},
        {"--seed", OPT_INT, &seed, "seed of the register values (default 1)"},
        {"--threads", OPT_INT, &threads, "OpenMP threads (default: all cores)"},
        {NULL, 0, NULL, NULL},
    };
    int pr = parse_opts(argc, argv, opts,
                        "usage: sinks streameval [options]\n\n"
                        "Accuracy of recalling a value d lines back, for dense, window and sinks caches of equal size.");
    if (pr) return pr > 0 ? 0 : 2;
    if (lines < 2 || every < 1 || window < 1 || sinks < 0) {
        fprintf(stderr, "error: --lines >= 2, --every >= 1, --window >= 1 and --sinks >= 0 are required\n");
        return 2;
    }
    set_threads(threads);
    Loaded L;
    if (load_model_and_tokenizer(&L, resolve_model(model), NULL, 1)) return 1;
    Policy pols[3] = {{POLICY_DENSE, 0, 0, 0, 0}, {POLICY_WINDOW, 0, sinks + window, 0, 0}, {POLICY_SINKS, sinks, window, 0, 0}};
    Error err = {{0}};
    for (int k = 0; k < 3; k++)
        if (policy_validate(&pols[k], &L.model.cfg, 0, &err)) {
            fprintf(stderr, "error: %s\n", err.msg);
            loaded_free(&L);
            return 2;
        }
    printf("command: sinks streameval --distances %s --lines %d --every %d --sinks %d --window %d --seed %d\n", distances,
           lines, every, sinks, window, seed);
    printf("| lines back | ~tokens back | questions | dense | window %d | sinks %d+%d |\n|---|---|---|---|---|---|\n",
           sinks + window, sinks, window);
    char *list = strdup(distances);
    int rc = 0;
    for (char *tk = strtok(list, ","); tk && !rc; tk = strtok(NULL, ",")) {
        int d = atoi(tk);
        if (d < 1 || d >= lines) continue;
        EvalResult r[3];
        for (int k = 0; k < 3 && !rc; k++)
            rc = run_eval(&r[k], &L.model, &L.tok, pols[k], lines, every, d, (uint64_t)seed, &err);
        if (rc) break;
        double tokens_per_line = (double)r[0].tokens / lines;
        printf("| %d | %.0f | %d | %.0f%% | %.0f%% | %.0f%% |\n", d, d * tokens_per_line, r[0].asked,
               100.0 * r[0].correct / r[0].asked, 100.0 * r[1].correct / r[1].asked, 100.0 * r[2].correct / r[2].asked);
        fflush(stdout);
    }
    if (rc) fprintf(stderr, "error: %s\n", err.msg);
    free(list);
    loaded_free(&L);
    return rc ? 1 : 0;
}
