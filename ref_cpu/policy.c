#include "policy.h"

#include <stdio.h>
#include <string.h>

// ANCHOR: evict
// After each block: keep the first S tokens of the stream and the most recent W.
int policy_keep_sinks_and_recent(int *keep, const long *pos, int len, const Policy *p) {
    (void)pos;
    int S = p->n_sink, W = p->window, n = 0;
    if (len <= S + W) S = len, W = 0; // everything fits: keep it all
    for (int i = 0; i < S; i++) keep[n++] = i;
    for (int i = len - W; i < len; i++) keep[n++] = i;
    return n;
}
// END: evict

// ANCHOR: policy_table
static const PolicyDef POLICIES[POLICY_COUNT] = {
    //                name        summary                                             sinks bounded rerun lazy evict
    [POLICY_DENSE] = {"dense", "every token stays (memory grows with the stream)", 0, 0, 0, 0, NULL},
    [POLICY_WINDOW] = {"window", "the last W tokens", 0, 1, 0, 1, policy_keep_sinks_and_recent},
    [POLICY_SINKS] = {"sinks", "the first S tokens and the last W (StreamingLLM)", 1, 1, 0, 1,
                      policy_keep_sinks_and_recent},
    [POLICY_RECOMPUTE] = {"recompute", "rerun the last W tokens from scratch for every token (slow oracle)", 0, 1, 1, 0,
                          NULL},
    [POLICY_STRIDED] = {"strided", "S sinks, the newest W/2 tokens, every K-th older one in the other W/2", 1, 1, 0, 0,
                        policy_keep_strided},
};
// END: policy_table

const PolicyDef *policy_def(PolicyKind k) { return &POLICIES[k]; }
const char *policy_name(PolicyKind k) { return POLICIES[k].name; }

const char *policy_names(void) { return "dense, window, sinks, recompute or strided"; }

void policy_label(char *buf, size_t n, const Policy *p) {
    if (p->kind == POLICY_SINKS) snprintf(buf, n, "sinks %d+%d", p->n_sink, p->window);
    else if (p->kind == POLICY_STRIDED) snprintf(buf, n, "strided %d+%d/%d", p->n_sink, p->window, p->stride);
    else if (p->kind == POLICY_DENSE) snprintf(buf, n, "dense");
    else snprintf(buf, n, "%s %d", policy_name(p->kind), p->window);
}

int policy_parse(PolicyKind *k, const char *name, Error *err) {
    for (int i = 0; i < POLICY_COUNT; i++)
        if (strcmp(name, POLICIES[i].name) == 0) {
            *k = (PolicyKind)i;
            return 0;
        }
    return err_set(err, "--policy: unknown policy '%s' (%s)", name, policy_names());
}

int policy_validate(Policy *p, const Config *cfg, int force, Error *err) {
    if (p->kind < 0 || p->kind >= POLICY_COUNT) return err_set(err, "--policy: unknown policy number %d", p->kind);
    if (p->kind == POLICY_DENSE) {
        p->n_sink = 0;
        p->window = 0;
        if (p->chunk <= 0) p->chunk = POLICY_DENSE_CHUNK;
        return 0;
    }
    if (!POLICIES[p->kind].takes_sinks) p->n_sink = 0;
    if (p->kind != POLICY_STRIDED) p->stride = 0;
    else if (p->stride <= 0) p->stride = POLICY_DEFAULT_STRIDE;
    if (p->n_sink < 0) return err_set(err, "--sinks must be >= 0 (got %d)", p->n_sink);
    if (p->window < 1) return err_set(err, "--window must be >= 1 (got %d)", p->window);
    if (p->n_sink > 1000000 || p->window > 1000000)
        return err_set(err, "--sinks %d --window %d: cache far beyond any context", p->n_sink, p->window);
    if (p->n_sink + p->window > cfg->ctx_len && !force)
        return err_set(err, "--sinks %d + --window %d = %d slots exceeds the model's trained context of %d tokens "
                            "(--force allows it)", p->n_sink, p->window, p->n_sink + p->window, cfg->ctx_len);
    if (p->chunk <= 0) p->chunk = p->window < POLICY_MAX_CHUNK ? p->window : POLICY_MAX_CHUNK;
    if (p->chunk > p->window) return err_set(err, "--chunk %d must not exceed --window %d", p->chunk, p->window);
    return 0;
}

// ANCHOR: view
AttnView policy_view(const Policy *p) {
    const PolicyDef *d = &POLICIES[p->kind];
    if (!d->bounded || d->rerun) return (AttnView){0, 0}; // every cached slot
    return (AttnView){d->takes_sinks ? p->n_sink : 0, p->window};
}
// END: view

void policy_sizes(const Policy *p, int max_tokens, int *slots, int *block) {
    const PolicyDef *d = &POLICIES[p->kind];
    int S = p->n_sink, W = p->window;
    *block = p->chunk;
    if (!d->bounded) {
        *slots = max_tokens;
    } else if (d->rerun) {
        *slots = W;
        *block = W < POLICY_MAX_CHUNK ? W : POLICY_MAX_CHUNK;
    } else {
        *slots = S + W + p->chunk; // the kept tokens and the block in flight
        if (p->reference_prefill && max_tokens > *slots) *slots = max_tokens;
    }
}
