// attn_view.h: which cached slots a query sees. The one statement of the rule, included by the
// CPU attention (ref_cpu/attention.c, forward.c) and the CUDA kernels (gpu/common.cuh) alike.
//
// A block of T queries sits at slots n_past..n_past+T-1 after the cached ones. A query at
// `slot` sees the sinks (slots below min(n_sink, slot)) and its last `window` predecessors up
// to itself. Evicting after every token would leave each query exactly that much of the cache,
// so a block run this way gives the numbers token-by-token decoding gives.
#ifndef ATTN_VIEW_H
#define ATTN_VIEW_H

#ifdef __CUDACC__
#define ATTN_VIEW_FN static inline __host__ __device__
#else
#define ATTN_VIEW_FN static inline
#endif

typedef struct {
    int n_sink; // slots 0..n_sink-1 are sinks, always visible
    int window; // then the last `window` predecessors and the query itself; 0 = every slot
} AttnView;

// ANCHOR: visible
// The sinks a query at `slot` sees: slots 0..min(n_sink, slot)-1 (only those before it).
ATTN_VIEW_FN int attention_sinks(int slot, int n_sink) { return n_sink < slot ? n_sink : slot; }

// First visible non-sink slot of a query at `slot`: max(min(n_sink, slot), slot - window).
ATTN_VIEW_FN int attention_window_start(int slot, int n_sink, int window) {
    int sinks = attention_sinks(slot, n_sink), start = window > 0 ? slot - window : 0;
    return start > sinks ? start : sinks;
}

// Both at once, and how many slots the query sees: the sinks, then slots start..slot.
ATTN_VIEW_FN int attention_visible(int slot, int n_sink, int window, int *sinks, int *start) {
    *sinks = attention_sinks(slot, n_sink);
    *start = attention_window_start(slot, n_sink, window);
    return *sinks + slot + 1 - *start;
}

// The position a query at `slot` holds facing the sinks: had the hidden window slots before it
// been evicted, it would sit that many slots closer to them.
ATTN_VIEW_FN int attention_sink_position(int slot, int n_sink, int window) {
    return slot - (attention_window_start(slot, n_sink, window) - attention_sinks(slot, n_sink));
}
// END: visible

#endif
