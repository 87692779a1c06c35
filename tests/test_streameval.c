// StreamEval: the task generator (deterministic; each answer really is d facts back, read off
// the text itself; candidates hold the answer once), the likelihood scorer on hand-built logits,
// the run scoring each answer at its own position (against one dense pass over the whole
// stream), and `sinks ppl --replace-first` (the newline-sinks experiment) on stories260K.
#define _GNU_SOURCE
#include <sys/wait.h>

#include "streameval.h"
#include "testutil.h"

static const int DIST[] = {1, 2, 4, 8, 16, 32};
#define N_DIST (int)(sizeof DIST / sizeof *DIST)

static EvalTask make_task(int lines, int every, int cands, uint64_t seed) {
    EvalSpec spec = {lines, every, DIST, N_DIST, cands, seed};
    EvalTask t;
    Error err = {{0}};
    ck_assert_msg(evaltask_init(&t, &spec, &err) == 0, "%s", err.msg);
    return t;
}

START_TEST(same_seed_same_task_other_seed_other_task) {
    EvalTask a = make_task(300, 3, 6, 7), b = make_task(300, 3, 6, 7), c = make_task(300, 3, 6, 8);
    ck_assert_int_eq(a.n_questions, b.n_questions);
    ck_assert(!memcmp(a.key, b.key, 300 * sizeof(int)) && !memcmp(a.value, b.value, 300 * sizeof(int)));
    ck_assert(!memcmp(a.q, b.q, (size_t)a.n_questions * sizeof(EvalQuestion)));
    int differ = 0;
    for (int i = 0; i < 300; i++) differ += a.value[i] != c.value[i] || a.key[i] != c.key[i];
    ck_assert_int_gt(differ, 200);
    evaltask_free(&a), evaltask_free(&b), evaltask_free(&c);
}
END_TEST

// Reads the stream as text, as the model will see it: for each question, walk back over the
// fact lines to the latest one about the same thing; it must be d facts back and hold the answer.
START_TEST(each_answer_is_d_facts_back_in_the_text) {
    EvalTask t = make_task(400, 3, 10, 1);
    ck_assert_int_ge(t.n_questions, 120);
    char (*lines)[128] = malloc((size_t)t.spec.n_lines * 128); // the fact lines said so far
    int n_lines = 0, qi = 0, per_d[N_DIST] = {0};
    for (int i = 0; i < t.spec.n_lines; i++) {
        evaltask_fact(lines[n_lines++], 128, &t, i);
        for (; qi < t.n_questions && t.q[qi].after == i; qi++) {
            char q[256], key[64], want[128];
            evaltask_question(q, sizeof q, &t, qi);
            ck_assert_msg(sscanf(q, "Question: what number does the %63s have?", key) == 1, "%s", q);
            snprintf(want, sizeof want, "The %s has number ", key);
            int back = 0, found = -1;
            for (int j = n_lines - 1; j >= 0 && found < 0; j--, back++)
                if (!strncmp(lines[j], want, strlen(want))) found = j;
            ck_assert_msg(found >= 0, "question %d: no fact about the %s", qi, key);
            ck_assert_int_eq(back, t.q[qi].distance); // the latest fact about it is d facts back
            ck_assert_int_eq(atoi(lines[found] + strlen(want)), t.q[qi].answer);
            // and the question ends right where that number goes
            char v[8];
            evaltask_value(v, sizeof v, t.q[qi].answer);
            ck_assert_int_eq(lines[found][strlen(want)], v[0]);
            ck_assert(q[strlen(q) - 1] == ' ' && strstr(q, want) == q + strlen(q) - strlen(want));
            for (int k = 0; k < N_DIST; k++) per_d[k] += DIST[k] == t.q[qi].distance;
        }
    }
    // every distance is asked about, and about as often as the others
    for (int k = 0; k < N_DIST; k++) ck_assert_msg(per_d[k] >= t.n_questions / N_DIST - 3, "d=%d: %d", DIST[k], per_d[k]);
    free(lines);
    evaltask_free(&t);
}
END_TEST

START_TEST(candidates_hold_the_answer_exactly_once) {
    for (int cands = 2; cands <= EVAL_N_VALUES; cands += 4) {
        EvalTask t = make_task(200, 2, cands, 3);
        int slot_seen[EVAL_N_VALUES] = {0};
        for (int qi = 0; qi < t.n_questions; qi++) {
            int hits = 0, seen[EVAL_N_VALUES] = {0};
            for (int k = 0; k < cands; k++) {
                int v = t.q[qi].cand[k];
                ck_assert(v >= 0 && v < EVAL_N_VALUES);
                ck_assert_msg(!seen[v]++, "question %d: candidate %d twice", qi, v);
                if (v == t.q[qi].answer) hits++, slot_seen[k] = 1;
            }
            ck_assert_int_eq(hits, 1);
        }
        // the answer moves around: a scorer that always picks the first slot must not score
        int slots = 0;
        for (int k = 0; k < cands; k++) slots += slot_seen[k];
        ck_assert_int_eq(slots, cands);
        evaltask_free(&t);
    }
}
END_TEST

START_TEST(bad_specs_refused) {
    Error err = {{0}};
    EvalTask t;
    int far[] = {EVAL_KEY_GAP + 1}, zero[] = {0};
    EvalSpec s1 = {10, 2, far, 1, 4, 1}, s2 = {10, 2, zero, 1, 4, 1}, s3 = {10, 2, DIST, N_DIST, 11, 1},
             s4 = {10, 0, DIST, N_DIST, 4, 1};
    ck_assert(evaltask_init(&t, &s1, &err) != 0 && strstr(err.msg, "distance"));
    ck_assert(evaltask_init(&t, &s2, &err) != 0 && strstr(err.msg, "distance 0"));
    ck_assert(evaltask_init(&t, &s3, &err) != 0 && strstr(err.msg, "candidates"));
    ck_assert(evaltask_init(&t, &s4, &err) != 0 && strstr(err.msg, "every"));
}
END_TEST

// Hand-derived: a row of zeros over V = 4 gives each token log(1/4); a row with log(3) at one
// place and zeros elsewhere gives that token 3/6 = 1/2.
START_TEST(scorer_sums_token_logprobs_and_picks_the_best) {
    const int V = 4;
    float flat[4] = {0, 0, 0, 0}, half2[4] = {0, 0, logf(3), 0}, two_rows[8];
    memcpy(two_rows, flat, sizeof flat), memcpy(two_rows + 4, half2, sizeof half2);
    int a_toks[2] = {1, 2}, b_toks[1] = {3};
    ck_assert_double_eq_tol(candidate_logprob(flat, V, b_toks, 1), -log(4), 1e-6);
    ck_assert_double_eq_tol(candidate_logprob(two_rows, V, a_toks, 2), -log(4) - log(2), 1e-6);
    ck_assert_double_eq_tol(candidate_logprob(half2, V, (int[]){2}, 1), -log(2), 1e-6);
    // A = tokens 1 then 2 (log 1/8), B = token 3 (log 1/4): both start equally likely, so only the
    // sum over A's tokens tells them apart. A is listed first: a scorer that read only the first
    // token would tie and pick A.
    const float *rows[2] = {two_rows, flat};
    const int *toks[2] = {a_toks, b_toks}, n_toks[2] = {2, 1};
    double lp[3];
    ck_assert_int_eq(pick_candidate(lp, rows, V, toks, n_toks, 2), 1);
    ck_assert_double_eq_tol(lp[0], -log(8), 1e-6);
    ck_assert_double_eq_tol(lp[1], -log(4), 1e-6);
    // single tokens from one row: the largest logit wins wherever it is listed
    float row[4] = {0.5f, 2.0f, -1.0f, 1.9f};
    const float *same[3] = {row, row, row};
    int t0 = 0, t1 = 1, t3 = 3, ones[3] = {1, 1, 1};
    const int *order1[3] = {&t3, &t0, &t1}, *order2[3] = {&t1, &t3, &t0};
    ck_assert_int_eq(pick_candidate(lp, same, V, order1, ones, 3), 2);
    ck_assert_int_eq(pick_candidate(lp, same, V, order2, ones, 3), 0);
    // ties go to the first listed
    float tie[4] = {1, 1, 1, 1};
    const float *ties[2] = {tie, tie};
    const int *tt[2] = {&t3, &t1};
    ck_assert_int_eq(pick_candidate(lp, ties, V, tt, ones, 2), 0);
}
END_TEST

// The run scores each answer from the logits at its own position: the same numbers as one dense
// pass over the whole stream with every row kept (stories260K, whose tokenizer makes each digit
// one token after "number").
START_TEST(run_scores_each_answer_at_its_position) {
    Error err = {{0}};
    Model m;
    Tokenizer tok;
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.bin", shared_dir());
    ck_assert_msg(model_load(&m, path, &err) == 0, "%s", err.msg);
    ck_assert_msg(tokenizer_load(&tok, path, NULL, &err) == 0, "%s", err.msg);
    EvalTask t = make_task(24, 2, 5, 11);
    EvalTokens et;
    ck_assert_msg(evaltokens_init(&et, &t, &tok, &err) == 0, "%s", err.msg);
    int n = et.ids.n, V = m.cfg.vocab_size;
    for (int qi = 0; qi < t.n_questions; qi++) {
        ck_assert_int_eq(et.ids.ids[et.answer_pos[qi]], et.value_tok[t.q[qi].answer]);
        ck_assert_int_lt(et.fact_start[t.q[qi].target], et.answer_pos[qi]);
    }
    Policy dense = {.kind = POLICY_DENSE, .n_sink = 0, .window = 0, .chunk = 0, .reference_prefill = 0};
    ck_assert(policy_validate(&dense, &m.cfg, 1, &err) == 0);
    Stream st;
    ck_assert_msg(stream_init(&st, &m, &dense, n, &err) == 0, "%s", err.msg);
    EvalOutcome *out = calloc((size_t)t.n_questions, sizeof *out);
    ck_assert_msg(streameval_run(out, &st, &t, &et, NULL, &err) == 0, "%s", err.msg);
    // the reference: every row of one pass, log softmax by hand at answer_pos - 1
    float *all = malloc((size_t)n * V * sizeof(float));
    stream_reset(&st);
    ck_assert_msg(stream_feed(&st, et.ids.ids, n, all, 1, &err) == 0, "%s", err.msg);
    for (int qi = 0; qi < t.n_questions; qi++) {
        const float *row = all + (size_t)(et.answer_pos[qi] - 1) * V;
        double max = row[0], sum = 0;
        for (int i = 1; i < V; i++) max = fmax(max, row[i]);
        for (int i = 0; i < V; i++) sum += exp(row[i] - max);
        double want = row[et.value_tok[t.q[qi].answer]] - max - log(sum);
        ck_assert_msg(fabs(out[qi].lp_answer - want) < 1e-3, "question %d: %f vs %f", qi, out[qi].lp_answer, want);
        int best = t.q[qi].cand[0];
        for (int k = 1; k < t.spec.n_candidates; k++)
            if (row[et.value_tok[t.q[qi].cand[k]]] > row[et.value_tok[best]]) best = t.q[qi].cand[k];
        ck_assert_int_eq(out[qi].picked, best);
        ck_assert_int_eq(out[qi].correct, best == t.q[qi].answer);
    }
    free(all), free(out);
    stream_free(&st);
    evaltokens_free(&et);
    evaltask_free(&t);
    tokenizer_free(&tok);
    model_free(&m);
}
END_TEST

// ppl --replace-first N:TEXT: the first N tokens become TEXT's token, the rest stay; a TEXT of
// more than one token, or a bad N, is refused with one line naming the option.
static char *cli(const char *args, int *status) {
    const char *bin = getenv("SINKS_CLI");
    ck_assert_msg(bin != NULL, "SINKS_CLI is not set (run the tests through make)");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    return capture(cmd, status);
}

START_TEST(ppl_replace_first_swaps_only_the_first_tokens) {
    char base[1400], args[1600], a_csv[] = "/tmp/sinks-rf-a-XXXXXX", b_csv[] = "/tmp/sinks-rf-b-XXXXXX";
    close(mkstemp(a_csv)), close(mkstemp(b_csv));
    snprintf(base, sizeof base, "ppl --model %s/models/stories260K/stories260K.bin --file %s/data/war-and-peace.txt "
             "--tokens 12 --quiet --threads 1", shared_dir(), shared_dir());
    int st;
    snprintf(args, sizeof args, "%s --csv %s", base, a_csv);
    free(cli(args, &st));
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    snprintf(args, sizeof args, "%s --csv %s --replace-first 3:the", base, b_csv);
    char *o = cli(args, &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", o);
    free(o);
    // the one token of "the" under stories260K's tokenizer, asked of the tokenizer itself
    snprintf(args, sizeof args, "tokenize --model %s/models/stories260K/stories260K.bin --text the", shared_dir());
    o = cli(args, &st);
    int the = atoi(o);
    free(o);
    ck_assert_int_gt(the, 0);
    FILE *fa = fopen(a_csv, "r"), *fb = fopen(b_csv, "r");
    char la[128], lb[128];
    ck_assert(fgets(la, sizeof la, fa) && fgets(lb, sizeof lb, fb)); // headers
    int rows = 0;
    while (fgets(la, sizeof la, fa) && fgets(lb, sizeof lb, fb)) {
        int pa, ta, pb, tb;
        ck_assert(sscanf(la, "%d,%d", &pa, &ta) == 2 && sscanf(lb, "%d,%d", &pb, &tb) == 2);
        ck_assert_int_eq(pa, pb);
        if (pb < 3) ck_assert_msg(tb == the, "position %d: token %d, want %d", pb, tb, the);
        else ck_assert_msg(tb == ta, "position %d: token %d changed to %d", pb, ta, tb);
        rows++;
    }
    ck_assert_int_eq(rows, 12);
    fclose(fa), fclose(fb);
    // Token 0 is never a predicted row; it is replaced too: with only it replaced, token 1 stays
    // but is predicted from "the" instead of the start, so its loss changes.
    snprintf(args, sizeof args, "%s --csv %s --replace-first 1:the", base, b_csv);
    free(cli(args, &st));
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fa = fopen(a_csv, "r"), fb = fopen(b_csv, "r");
    double na, nb;
    int pa, ta, pb, tb;
    ck_assert(fgets(la, sizeof la, fa) && fgets(lb, sizeof lb, fb) && fgets(la, sizeof la, fa) &&
              fgets(lb, sizeof lb, fb));
    ck_assert(sscanf(la, "%d,%d,%lf", &pa, &ta, &na) == 3 && sscanf(lb, "%d,%d,%lf", &pb, &tb, &nb) == 3);
    ck_assert(pa == 1 && pb == 1 && ta == tb);
    ck_assert_msg(fabs(na - nb) > 1e-3, "token 0 was not replaced: the loss of token 1 is still %f", nb);
    fclose(fa), fclose(fb);
    unlink(a_csv), unlink(b_csv);
    const char *bad[] = {"3:the cat", "0:the", "x", "3the", "5000:the"};
    for (int i = 0; i < 5; i++) {
        snprintf(args, sizeof args, "%s --replace-first '%s'", base, bad[i]);
        o = cli(args, &st);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0 && strstr(o, "--replace-first") && !strchr(strchr(o, '\n') ? strchr(o, '\n') + 1 : "", '\n'),
                      "%s: %s", bad[i], o);
        free(o);
    }
}
END_TEST

int main(void) {
    RUN_TESTS("streameval", 120,
              same_seed_same_task_other_seed_other_task,
              each_answer_is_d_facts_back_in_the_text,
              candidates_hold_the_answer_exactly_once,
              bad_specs_refused,
              scorer_sums_token_logprobs_and_picks_the_best,
              run_scores_each_answer_at_its_position,
              ppl_replace_first_swaps_only_the_first_tokens);
}
