// streameval.h: StreamEval, recalling facts from far back in a stream (the StreamingLLM
// authors' benchmark idea; they described theirs but never released it).
//
// The stream is a list of short facts, one a line, and after every few facts a question about
// the fact d facts back:
//
//     The lamp has number 3.
//     ...
//     Question: what number does the lamp have? Answer: The lamp has number 3.
//
// The answer is scored by likelihood, not by free generation: at the answer position the model
// gives each candidate number a log-probability, and the question counts as answered when the
// right one has the highest. Every candidate is one token, so all are scored from the same
// logits and the cache needs no branching; then the true answer is fed, so the stream goes on
// the same way whatever the model preferred.
#ifndef STREAMEVAL_H
#define STREAMEVAL_H

#include <stdint.h>

#include "stream.h"
#include "tokenizer.h"

#define EVAL_N_VALUES 10     // the answers: the numbers 0..9
#define EVAL_MAX_DISTANCES 64 // as many as a list option takes (CLI_MAX_LIST)

typedef struct {
    int n_lines;             // facts in the stream
    int every;               // a question after every `every` facts
    const int *distances;    // [n_distances] how many facts back the questions ask
    int n_distances;
    int n_candidates;        // answers offered per question (2..EVAL_N_VALUES), the right one once
    uint64_t seed;
} EvalSpec;

typedef struct {
    int after;               // asked right after fact `after` (0-based)
    int target;              // the fact it asks about: after + 1 - distance
    int distance;            // facts back: 1 is the fact just before the question
    int answer;              // the number of the target fact
    int cand[EVAL_N_VALUES]; // n_candidates numbers, the answer among them exactly once
} EvalQuestion;

typedef struct {
    EvalSpec spec;
    int *key;                // [n_lines] what each fact is about (index into EVAL_KEYS)
    int *value;              // [n_lines] its number, 0..9
    EvalQuestion *q;         // [n_questions] in stream order
    int n_questions;
} EvalTask;

// The keys: one-token nouns. A key comes back only after at least EVAL_KEY_GAP other facts, so
// the fact a question asks about (d <= EVAL_KEY_GAP) is the latest one about its key.
extern const char *const EVAL_KEYS[];
extern const int EVAL_N_KEYS, EVAL_KEY_GAP;

// Draws the facts and the questions; the same spec (seed included) gives the same task. Each
// fact is asked about at most once; each question takes the distance asked least so far among
// those that reach a fact not yet asked about.
int evaltask_init(EvalTask *t, const EvalSpec *spec, Error *err);
void evaltask_free(EvalTask *t);

// The text of the stream, in order: the header; each fact's line; after it, where a question is
// due, the question up to the answer, the answer, and the end of the answer line.
const char *evaltask_header(void);
int evaltask_fact(char *buf, int n, const EvalTask *t, int line);     // "The lamp has number 3.\n"
int evaltask_question(char *buf, int n, const EvalTask *t, int qi);   // "Question: ... The lamp has number "
int evaltask_value(char *buf, int n, int value);                      // "3"
const char *evaltask_answer_end(void);                                // ".\n"

// The whole stream as tokens, and where things are in it.
typedef struct {
    TokenList ids;           // the stream
    int *fact_start;         // [n_lines] index of the first token of each fact
    int *answer_pos;         // [n_questions] index of each answer's token; the logits after the
                             // token before it score the candidates
    int value_tok[EVAL_N_VALUES]; // the one token of each number
} EvalTokens;

int evaltokens_init(EvalTokens *et, const EvalTask *t, const Tokenizer *tok, Error *err);
void evaltokens_free(EvalTokens *et);

// log p(candidate) = sum over its tokens j of log softmax(logits[j])[toks[j]], where logits
// ([n, V]) row j are the logits after the candidate's first j tokens.
double candidate_logprob(const float *logits, int V, const int *toks, int n);
// The candidate with the highest log-probability (the first on ties); lp[k] gets each one's.
// logits[k] are candidate k's rows, toks[k][n_toks[k]] its tokens.
int pick_candidate(double *lp, const float *const *logits, int V, const int *const *toks, const int *n_toks,
                   int n_cand);

// What one policy did on one question.
typedef struct {
    int correct;             // the answer had the highest log-probability
    int picked;              // the number picked
    double lp_answer;        // log-probability of the answer
} EvalOutcome;

// Feeds the whole stream through st (reset first) and scores every question at its position:
// out[n_questions]. `progress` (may be NULL) labels a progress line on stderr.
int streameval_run(EvalOutcome *out, Stream *st, const EvalTask *t, const EvalTokens *et, const char *progress,
                   Error *err);

#endif
