#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *policy_name(PolicyKind k) {
    static const char *names[] = {"dense", "window", "sinks", "recompute"};
    return names[k];
}

void policy_label(char *buf, size_t n, const Policy *p) {
    if (p->kind == POLICY_SINKS) snprintf(buf, n, "sinks %d+%d", p->n_sink, p->window);
    else if (p->kind == POLICY_DENSE) snprintf(buf, n, "dense");
    else snprintf(buf, n, "%s %d", policy_name(p->kind), p->window);
}

int policy_parse(PolicyKind *k, const char *name, Error *err) {
    for (int i = 0; i < 4; i++)
        if (strcmp(name, policy_name((PolicyKind)i)) == 0) {
            *k = (PolicyKind)i;
            return 0;
        }
    return err_set(err, "--policy: unknown policy '%s' (dense, window, sinks or recompute)", name);
}

int policy_validate(Policy *p, const Config *cfg, int force, Error *err) {
    if (p->kind == POLICY_DENSE) {
        p->n_sink = 0;
        p->window = 0;
        if (p->chunk <= 0) p->chunk = 64;
        return 0;
    }
    if (p->kind != POLICY_SINKS) p->n_sink = 0;
    if (p->n_sink < 0) return err_set(err, "--sinks must be >= 0 (got %d)", p->n_sink);
    if (p->window < 1) return err_set(err, "--window must be >= 1 (got %d)", p->window);
    if (p->n_sink > 1000000 || p->window > 1000000)
        return err_set(err, "--sinks %d --window %d: cache far beyond any context", p->n_sink, p->window);
    if (p->n_sink + p->window > cfg->ctx_len && !force)
        return err_set(err, "--sinks %d + --window %d = %d slots exceeds the model's trained context of %d tokens "
                            "(--force allows it)", p->n_sink, p->window, p->n_sink + p->window, cfg->ctx_len);
    if (p->chunk <= 0) p->chunk = p->window < 256 ? p->window : 256; // bounds the attention scratch
    if (p->chunk > p->window) return err_set(err, "--chunk %d must not exceed --window %d", p->chunk, p->window);
    return 0;
}

void stream_sizes(const Policy *p, int max_tokens, int *slots, int *block) {
    int S = p->n_sink, W = p->window;
    *block = p->chunk;
    switch (p->kind) {
    case POLICY_DENSE: *slots = max_tokens; break;
    case POLICY_RECOMPUTE: *slots = W; *block = W < 256 ? W : 256; break;
    default:
        *slots = S + W + p->chunk; // the kept tokens and the block in flight
        if (p->reference_prefill && max_tokens > *slots) *slots = max_tokens;
    }
}

void recent_push(int *recent, int *n, int W, int tok) {
    if (*n == W) memmove(recent, recent + 1, (size_t)(W - 1) * sizeof(int));
    else (*n)++;
    recent[*n - 1] = tok;
}

int stream_init(Stream *s, const Model *m, const Policy *p, int max_tokens, Error *err) {
    memset(s, 0, sizeof *s);
    s->model = m;
    s->policy = *p;
    s->max_tokens = max_tokens;
    int S = p->n_sink, W = p->window, slots, block;
    stream_sizes(p, max_tokens, &slots, &block);
    if (slots <= 0) return err_set(err, "cache size must be positive");
    if (kvcache_init(&s->cache, &m->cfg, slots, err) || runstate_init(&s->state, &m->cfg, block, slots, err)) {
        stream_free(s);
        return -1;
    }
    if (p->kind == POLICY_WINDOW || p->kind == POLICY_SINKS) {
        s->state.n_sink = S;
        s->state.window = W;
    }
    if (p->kind == POLICY_RECOMPUTE) {
        s->recent = malloc((size_t)W * sizeof(int));
        s->scratch = malloc((size_t)m->cfg.vocab_size * sizeof(float));
        if (!s->recent || !s->scratch) {
            stream_free(s);
            return err_set(err, "out of memory");
        }
    }
    return 0;
}

void stream_free(Stream *s) {
    kvcache_free(&s->cache);
    runstate_free(&s->state);
    free(s->recent);
    free(s->scratch);
    memset(s, 0, sizeof *s);
}

void stream_reset(Stream *s) {
    kvcache_reset(&s->cache);
    s->n_recent = 0;
}

size_t stream_cache_bytes(const Stream *s) {
    return (size_t)3 * s->cache.n_layers * s->cache.capacity * s->cache.kv_dim * sizeof(float);
}

// ANCHOR: evict
// After each block: keep the first S tokens of the stream and the most recent W.
static void evict(Stream *s) {
    int S = s->policy.n_sink, W = s->policy.window;
    if (s->cache.len > S + W) kvcache_keep(&s->cache, S, W);
}
// END: evict

// ANCHOR: recompute
// The oracle: every token, forget everything and rerun the last W tokens from position 0.
static int feed_recompute(Stream *s, const int *tokens, int n, float *logits, int all, Error *err) {
    int W = s->policy.window, V = s->model->cfg.vocab_size;
    for (int i = 0; i < n; i++) {
        recent_push(s->recent, &s->n_recent, W, tokens[i]);
        kvcache_reset(&s->cache);
        float *out = all ? logits + (size_t)i * V : (i == n - 1 ? logits : s->scratch);
        if (model_forward(out, s->model, &s->cache, &s->state, s->recent, s->n_recent, 0, err)) return -1;
    }
    return 0;
}
// END: recompute

// ANCHOR: feed
int stream_feed(Stream *s, const int *tokens, int n, float *logits, int all, Error *err) {
    const Policy *p = &s->policy;
    int V = s->model->cfg.vocab_size;
    if (n <= 0) return err_set(err, "no tokens to feed");
    if (p->kind == POLICY_RECOMPUTE) return feed_recompute(s, tokens, n, logits, all, err);
    if (p->kind == POLICY_DENSE) {
        if (s->cache.len + n > s->cache.capacity)
            return err_set(err, "dense cache full: %d + %d tokens > %d (raise --max-tokens)", s->cache.len, n,
                           s->cache.capacity);
        return model_forward(logits, s->model, &s->cache, &s->state, tokens, n, all, err);
    }
    if (p->reference_prefill && n > 1) {
        // As the reference implementations do: one dense pass over the whole input, positions
        // 0..len+n-1 whatever the trained context, then evict.
        RunState *st = &s->state;
        if (s->cache.len + n > s->cache.capacity)
            return err_set(err, "reference prefill of %d tokens does not fit the %d-slot cache", n, s->cache.capacity);
        st->n_sink = 0, st->window = 0;
        int rc = model_forward(logits, s->model, &s->cache, st, tokens, n, all, err);
        st->n_sink = p->n_sink, st->window = p->window;
        if (!rc) evict(s);
        return rc;
    }
    // Blocks of at most `chunk` tokens, evicting after each: every token sees the sinks and its
    // last W predecessors, as it would decoding one token at a time.
    for (int i = 0; i < n; i += p->chunk) {
        int m = n - i < p->chunk ? n - i : p->chunk;
        float *out = all ? logits + (size_t)i * V : logits;
        if (model_forward(out, s->model, &s->cache, &s->state, tokens + i, m, all, err)) return -1;
        evict(s);
    }
    return 0;
}
// END: feed
