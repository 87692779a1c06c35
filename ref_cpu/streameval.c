// streameval.c: the StreamEval task (facts, and questions d facts back), its tokens, the
// likelihood scorer, and a run of the whole stream under a cache policy.
#include "streameval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const EVAL_KEYS[] = {
    "cup", "box", "hat", "bag", "pen", "ball", "lamp", "book", "coat", "door", "shoe", "bowl", "ring", "car",
    "chair", "table", "bed", "desk", "clock", "phone", "bottle", "glass", "plate", "fork", "knife", "spoon",
    "bike", "boat", "bus", "truck", "kite", "drum", "bell", "coin", "card", "map", "rope", "vase", "jar",
    "tent", "flag", "brush", "comb", "sock", "belt", "pillow", "blanket", "candle", "mirror", "basket",
    "bucket", "ladder", "hammer", "wheel", "tire", "horse", "dog", "cat", "bird", "fish", "cow", "pig",
    "sheep", "goat", "duck", "frog", "mouse", "rabbit", "fox", "bear", "lion", "tiger", "wolf", "snake",
    "apple", "pear", "lemon", "grape", "cherry", "peach", "onion", "carrot", "potato", "tomato", "egg",
    "bread", "cake", "cheese", "shirt", "dress", "skirt", "jacket", "glove", "boot", "tower", "bridge",
    "house", "roof", "wall", "window", "fence", "gate", "garden", "river", "lake", "hill", "stone", "leaf",
    "tree", "flower", "feather", "shell", "pencil", "stamp", "ticket", "wallet", "purse", "helmet", "sword",
    "shield", "crown", "statue", "engine", "rocket", "piano", "guitar", "violin", "trumpet", "tray", "oven",
    "stove", "kettle"};
#define N_KEYS ((int)(sizeof EVAL_KEYS / sizeof *EVAL_KEYS))
#define KEY_CHOICE 16 // a fact's key is drawn among the 16 least recently used
const int EVAL_N_KEYS = N_KEYS, EVAL_KEY_GAP = N_KEYS - KEY_CHOICE;

// splitmix64: small and well mixed; the task depends on nothing else.
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static int below(uint64_t *s, int n) { return (int)(next_u64(s) % (uint64_t)n); }

int evaltask_init(EvalTask *t, const EvalSpec *spec, Error *err) {
    memset(t, 0, sizeof *t);
    if (spec->n_lines < 1 || spec->n_lines > 10000000 || spec->every < 1)
        return err_set(err, "streameval: --lines must be 1..10000000 and --every >= 1");
    if (spec->n_distances < 1 || spec->n_distances > EVAL_MAX_DISTANCES)
        return err_set(err, "streameval: give 1..%d distances", EVAL_MAX_DISTANCES);
    if (spec->n_candidates < 2 || spec->n_candidates > EVAL_N_VALUES)
        return err_set(err, "streameval: --candidates must be 2..%d", EVAL_N_VALUES);
    for (int k = 0; k < spec->n_distances; k++)
        if (spec->distances[k] < 1 || spec->distances[k] > EVAL_KEY_GAP)
            return err_set(err, "streameval: distance %d: must be 1..%d (a key comes back after %d facts)",
                           spec->distances[k], EVAL_KEY_GAP, EVAL_KEY_GAP);
    t->spec = *spec;
    int L = spec->n_lines;
    t->key = malloc((size_t)L * sizeof(int));
    t->value = malloc((size_t)L * sizeof(int));
    t->q = malloc((size_t)(L / spec->every + 1) * sizeof(EvalQuestion));
    char *asked = calloc((size_t)L, 1);
    if (!t->key || !t->value || !t->q || !asked) {
        free(asked);
        evaltask_free(t);
        return err_set(err, "out of memory");
    }
    uint64_t rng = spec->seed;
    // keys least recently used first: lru[0] is the oldest
    int lru[N_KEYS];
    for (int k = 0; k < N_KEYS; k++) lru[k] = k;
    for (int i = 0; i < L; i++) {
        int j = below(&rng, KEY_CHOICE);
        t->key[i] = lru[j];
        memmove(lru + j, lru + j + 1, (size_t)(N_KEYS - 1 - j) * sizeof(int));
        lru[N_KEYS - 1] = t->key[i];
        t->value[i] = below(&rng, EVAL_N_VALUES);
    }
    // Each question takes the distance asked least so far (the first in the list on ties) among
    // those that reach a fact not yet asked about: a fact asked twice would stand nearer than d
    // the second time, its answer repeated by the first question.
    int count[EVAL_MAX_DISTANCES] = {0};
    for (int i = spec->every - 1; i < L; i += spec->every) {
        int pick = -1;
        for (int k = 0; k < spec->n_distances; k++) {
            int target = i + 1 - spec->distances[k];
            if (target < 0 || asked[target]) continue;
            if (pick < 0 || count[k] < count[pick]) pick = k;
        }
        if (pick < 0) continue;
        count[pick]++;
        EvalQuestion *q = &t->q[t->n_questions++];
        q->after = i, q->distance = spec->distances[pick], q->target = i + 1 - q->distance;
        q->answer = t->value[q->target];
        asked[q->target] = 1;
        // the answer in a random slot, the other slots drawn without repeats from the rest
        int pool[EVAL_N_VALUES], n_pool = 0;
        for (int v = 0; v < EVAL_N_VALUES; v++)
            if (v != q->answer) pool[n_pool++] = v;
        int slot = below(&rng, spec->n_candidates);
        for (int c = 0; c < spec->n_candidates; c++) {
            if (c == slot) {
                q->cand[c] = q->answer;
                continue;
            }
            int j = below(&rng, n_pool);
            q->cand[c] = pool[j];
            pool[j] = pool[--n_pool];
        }
    }
    free(asked);
    return 0;
}

void evaltask_free(EvalTask *t) {
    free(t->key);
    free(t->value);
    free(t->q);
    memset(t, 0, sizeof *t);
}

// ANCHOR: format
const char *evaltask_header(void) {
    return "Each line below gives the number of one thing. Remember them: you will be asked about them.\n";
}

int evaltask_fact(char *buf, int n, const EvalTask *t, int line) {
    return snprintf(buf, (size_t)n, "The %s has number %d.\n", EVAL_KEYS[t->key[line]], t->value[line]);
}

// Ends with the space before the number: " 3" is two tokens, a space and the digit, so the
// digit alone is the answer token.
int evaltask_question(char *buf, int n, const EvalTask *t, int qi) {
    const char *key = EVAL_KEYS[t->key[t->q[qi].target]];
    return snprintf(buf, (size_t)n, "Question: what number does the %s have? Answer: The %s has number ", key, key);
}

int evaltask_value(char *buf, int n, int value) { return snprintf(buf, (size_t)n, "%d", value); }

const char *evaltask_answer_end(void) { return ".\n"; }
// END: format

static int append(TokenList *ids, const Tokenizer *tok, const char *text, Error *err) {
    return tokenizer_encode(tok, text, strlen(text), 0, ids, err);
}

int evaltokens_init(EvalTokens *et, const EvalTask *t, const Tokenizer *tok, Error *err) {
    memset(et, 0, sizeof *et);
    char buf[256];
    // Each number's token: the last of "has number 3". Under every tokenizer here the digits
    // differ only in that last token, so all candidates are scored from the same logits.
    TokenList probe[EVAL_N_VALUES];
    memset(probe, 0, sizeof probe);
    int rc = 0;
    for (int v = 0; v < EVAL_N_VALUES && !rc; v++) {
        snprintf(buf, sizeof buf, "has number %d", v);
        rc = append(&probe[v], tok, buf, err);
        if (!rc && (probe[v].n < 2 || probe[v].n != probe[0].n ||
                    memcmp(probe[v].ids, probe[0].ids, (size_t)(probe[0].n - 1) * sizeof(int))))
            rc = err_set(err, "streameval: the numbers 0..9 do not each end in one token of their own with this "
                              "tokenizer");
        if (!rc) et->value_tok[v] = probe[v].ids[probe[v].n - 1];
    }
    for (int v = 0; v < EVAL_N_VALUES; v++) tokenlist_free(&probe[v]);
    if (rc) return rc;
    et->fact_start = malloc((size_t)t->spec.n_lines * sizeof(int));
    et->answer_pos = malloc((size_t)(t->n_questions + 1) * sizeof(int));
    if (!et->fact_start || !et->answer_pos) {
        evaltokens_free(et);
        return err_set(err, "out of memory");
    }
    rc = tokenizer_encode(tok, "", 0, 1, &et->ids, err); // BOS, if the tokenizer adds one
    rc = rc ? rc : append(&et->ids, tok, evaltask_header(), err);
    for (int i = 0, qi = 0; i < t->spec.n_lines && !rc; i++) {
        et->fact_start[i] = et->ids.n;
        evaltask_fact(buf, sizeof buf, t, i);
        rc = append(&et->ids, tok, buf, err);
        for (; qi < t->n_questions && t->q[qi].after == i && !rc; qi++) {
            // the question and its answer in one piece, so the answer token is what the
            // tokenizer makes of it in place; it must be the number's own token
            int m = evaltask_question(buf, sizeof buf, t, qi);
            evaltask_value(buf + m, (int)sizeof buf - m, t->q[qi].answer);
            rc = append(&et->ids, tok, buf, err);
            et->answer_pos[qi] = et->ids.n - 1;
            if (!rc && et->ids.ids[et->answer_pos[qi]] != et->value_tok[t->q[qi].answer])
                rc = err_set(err, "streameval: the answer of question %d is not the number's own token", qi);
            rc = rc ? rc : append(&et->ids, tok, evaltask_answer_end(), err);
        }
    }
    if (rc) evaltokens_free(et);
    return rc;
}

void evaltokens_free(EvalTokens *et) {
    tokenlist_free(&et->ids);
    free(et->fact_start);
    free(et->answer_pos);
    memset(et, 0, sizeof *et);
}

// ANCHOR: score
double candidate_logprob(const float *logits, int V, const int *toks, int n) {
    double lp = 0;
    for (int j = 0; j < n; j++) {
        const float *row = logits + (size_t)j * V; // the logits after the first j tokens
        double max = row[0], sum = 0;
        for (int i = 1; i < V; i++) max = row[i] > max ? row[i] : max;
        for (int i = 0; i < V; i++) sum += exp((double)row[i] - max);
        lp += (double)row[toks[j]] - max - log(sum); // log softmax(row)[toks[j]]
    }
    return lp;
}

int pick_candidate(double *lp, const float *const *logits, int V, const int *const *toks, const int *n_toks,
                   int n_cand) {
    int best = 0;
    for (int k = 0; k < n_cand; k++) {
        lp[k] = candidate_logprob(logits[k], V, toks[k], n_toks[k]);
        if (lp[k] > lp[best]) best = k;
    }
    return best;
}
// END: score

// ANCHOR: run
int streameval_run(EvalOutcome *out, Stream *st, const EvalTask *t, const EvalTokens *et, const char *progress,
                   Error *err) {
    int V = st->model->cfg.vocab_size, n = et->ids.n, done = 0;
    float *logits = malloc((size_t)V * sizeof(float));
    if (!logits) return err_set(err, "out of memory");
    stream_reset(st);
    for (int qi = 0; qi <= t->n_questions; qi++) {
        // everything up to the answer in one feed (the stream cuts it into blocks and evicts
        // between them); its last logits predict the answer token
        int end = qi < t->n_questions ? et->answer_pos[qi] : n;
        if (end > done && stream_feed(st, et->ids.ids + done, end - done, logits, 0, err)) {
            free(logits);
            return -1;
        }
        done = end;
        if (progress) fprintf(stderr, "\r%s: %d/%d tokens   ", progress, done, n);
        if (qi == t->n_questions) break;
        // every candidate is one token: all are scored from these same logits
        const EvalQuestion *q = &t->q[qi];
        const float *rows[EVAL_N_VALUES];
        const int *toks[EVAL_N_VALUES];
        int ones[EVAL_N_VALUES];
        double lp[EVAL_N_VALUES];
        for (int k = 0; k < t->spec.n_candidates; k++)
            rows[k] = logits, toks[k] = &et->value_tok[q->cand[k]], ones[k] = 1;
        int best = pick_candidate(lp, rows, V, toks, ones, t->spec.n_candidates);
        out[qi].picked = q->cand[best];
        out[qi].correct = q->cand[best] == q->answer;
        for (int k = 0; k < t->spec.n_candidates; k++)
            if (q->cand[k] == q->answer) out[qi].lp_answer = lp[k];
    }
    if (progress) fprintf(stderr, "\n");
    free(logits);
    return 0;
}
// END: run
