#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int stream_init(Stream *s, const Model *m, const Policy *p, int max_tokens, Error *err) {
    return stream_init_on(s, m, p, max_tokens, stream_cpu_open, err);
}

int stream_init_on(Stream *s, const Model *m, const Policy *p, int max_tokens, StreamDeviceOpen open, Error *err) {
    memset(s, 0, sizeof *s);
    if (p->kind < 0 || p->kind >= POLICY_COUNT) return err_set(err, "--policy: unknown policy number %d", p->kind);
    s->model = m;
    s->policy = *p;
    s->def = policy_def(p->kind);
    int slots, block;
    policy_sizes(p, max_tokens, &slots, &block);
    if (slots <= 0 || block <= 0) return err_set(err, "cache size must be positive");
    s->capacity = slots;
    s->block = block;
    s->pos = malloc((size_t)slots * sizeof(long));
    s->keep = malloc((size_t)slots * sizeof(int));
    if (s->def->rerun) s->recent = malloc((size_t)p->window * sizeof(int));
    if (!s->pos || !s->keep || (s->def->rerun && !s->recent)) {
        stream_free(s);
        return err_set(err, "out of memory for a stream of %d slots", slots);
    }
    if (open(&s->ops, &s->dev, m, slots, block, s->def->takes_sinks ? p->n_sink : 0, err)) {
        s->ops = NULL;
        stream_free(s);
        return -1;
    }
    return 0;
}

void stream_free(Stream *s) {
    if (s->ops) s->ops->free(s->dev);
    free(s->pos);
    free(s->keep);
    free(s->recent);
    memset(s, 0, sizeof *s);
}

void stream_reset(Stream *s) {
    s->ops->reset(s->dev);
    s->len = 0;
    s->n_seen = 0;
    s->n_recent = 0;
}

void stream_prime_recent(Stream *s, const int *toks, int n) {
    if (!s->recent) return;
    if (n > s->policy.window) n = s->policy.window;
    memcpy(s->recent, toks, (size_t)n * sizeof(int));
    s->n_recent = n;
}

int stream_watch_attention(Stream *s, AttentionFn fn, void *ctx, Error *err) {
    if (!s->ops->watch_attention)
        return err_set(err, "--device %s cannot report attention probabilities", s->ops->name);
    return s->ops->watch_attention(s->dev, fn, ctx, err);
}

size_t stream_cache_bytes(const Stream *s) { return s->ops->cache_bytes(s->dev); }
const char *stream_device(const Stream *s) { return s->ops->describe(s->dev); }

void recent_push(int *recent, int *n, int W, int tok) {
    if (*n == W) memmove(recent, recent + 1, (size_t)(W - 1) * sizeof(int));
    else (*n)++;
    recent[*n - 1] = tok;
}

// Runs tokens[T] at the end of the cache, a block of at most s->block tokens at a time, and
// files their stream positions after each (what an attention watcher reads).
static int forward(Stream *s, float *logits, const int *tokens, int T, int all, AttnView view, Error *err) {
    if (s->len + T > s->capacity)
        return err_set(err, "KV cache full: %d cached + %d new tokens > %d slots", s->len, T, s->capacity);
    int V = s->model->cfg.vocab_size;
    for (int t0 = 0; t0 < T; t0 += s->block) {
        int n = T - t0 < s->block ? T - t0 : s->block;
        // all: rows t0..; else only the last block's last row is read: the others skip the head
        float *out = all ? logits + (size_t)t0 * V : (t0 + n == T ? logits : NULL);
        if (s->ops->forward(s->dev, out, tokens + t0, n, all, view, err)) return -1;
        for (int t = 0; t < n; t++) s->pos[s->len + t] = s->n_seen + t;
        s->len += n;
        s->n_seen += n;
    }
    return 0;
}

// ANCHOR: evict
// After each block the policy names the slots that survive; the device keeps them.
static int evict(Stream *s, Error *err) {
    if (!s->def->evict) return 0;
    int n = s->def->evict(s->keep, s->pos, s->len, &s->policy);
    if (n == s->len) return 0; // nothing to drop
    if (s->ops->keep(s->dev, s->keep, n, err)) return -1;
    for (int i = 0; i < n; i++) s->pos[i] = s->pos[s->keep[i]];
    s->len = n;
    return 0;
}
// END: evict

// ANCHOR: recompute
// The oracle: every token, forget everything and rerun the last W tokens from position 0.
static int feed_recompute(Stream *s, const int *tokens, int n, float *logits, int all, Error *err) {
    int W = s->policy.window, V = s->model->cfg.vocab_size;
    for (int i = 0; i < n; i++) {
        recent_push(s->recent, &s->n_recent, W, tokens[i]);
        s->ops->reset(s->dev);
        s->len = 0;
        long seen = s->n_seen;
        s->n_seen = seen + 1 - s->n_recent; // the rerun's tokens keep their stream positions
        float *out = all ? logits + (size_t)i * V : (i == n - 1 ? logits : NULL);
        if (forward(s, out, s->recent, s->n_recent, 0, (AttnView){0, 0}, err)) return -1;
    }
    return 0;
}
// END: recompute

// ANCHOR: feed
int stream_feed(Stream *s, const int *tokens, int n, float *logits, int all, Error *err) {
    const Policy *p = &s->policy;
    int V = s->model->cfg.vocab_size;
    if (n <= 0) return err_set(err, "no tokens to feed");
    for (int t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= V)
            return err_set(err, "token id %d out of range (vocabulary has %d tokens)", tokens[t], V);
    if (s->def->rerun) return feed_recompute(s, tokens, n, logits, all, err);
    if (!s->def->bounded) {
        if (s->len + n > s->capacity)
            return err_set(err, "dense cache full: %d + %d tokens > %d (raise --max-tokens)", s->len, n, s->capacity);
        return forward(s, logits, tokens, n, all, policy_view(p), err);
    }
    if (p->reference_prefill && n > 1) {
        // As the reference implementations do: one dense pass over the whole input, positions
        // 0..len+n-1 whatever the trained context, then evict.
        if (s->len + n > s->capacity)
            return err_set(err, "reference prefill of %d tokens does not fit the %d-slot cache", n, s->capacity);
        if (forward(s, logits, tokens, n, all, (AttnView){0, 0}, err)) return -1;
        return evict(s, err);
    }
    // Blocks of at most `chunk` tokens: every token sees the sinks and its last W predecessors, as
    // it would decoding one token at a time. A lazy policy's view already hides what eviction
    // would drop, so it evicts only when the next block would not fit (once every `chunk`
    // tokens when decoding); the others evict after every block.
    for (int i = 0; i < n; i += p->chunk) {
        int m = n - i < p->chunk ? n - i : p->chunk;
        float *out = all ? logits + (size_t)i * V : (i + m == n ? logits : NULL);
        if (s->def->lazy && s->len + m > s->capacity && evict(s, err)) return -1;
        if (forward(s, out, tokens + i, m, all, policy_view(p), err)) return -1;
        if (!s->def->lazy && evict(s, err)) return -1;
    }
    return 0;
}
// END: feed

// ANCHOR: view
int stream_visible(const Stream *s) {
    int kept = s->policy.n_sink + s->policy.window;
    return s->def->lazy && s->len > kept ? kept : s->len;
}

int stream_view(const Stream *s, int *slots) {
    int n = 0;
    if (!s->def->lazy || s->len <= s->policy.n_sink + s->policy.window) {
        for (int i = 0; i < s->len; i++) slots[n++] = i;
        return n;
    }
    return s->def->evict(slots, s->pos, s->len, &s->policy);
}
// END: view
