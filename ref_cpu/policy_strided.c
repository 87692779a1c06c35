// policy_strided.c: a policy added to the table in one file. "Sinks + stride" spends the same
// S + W slots as sinks but reaches further back: the newest W/2 tokens stay dense, and the
// other W/2 slots keep only every K-th older token (stream positions divisible by K), the
// newest of them first. The window then spans W/2 + K * W/2 tokens of the stream; K = 1 keeps
// exactly what sinks keeps.
#include "policy.h"

// ANCHOR: strided
int policy_keep_strided(int *keep, const long *pos, int len, const Policy *p) {
    int S = p->n_sink, W = p->window, K = p->stride, n = 0;
    if (len <= S + W) S = len, W = 0;                // everything fits: keep it all
    int dense = W - W / 2, sparse = W / 2;          // the newest half dense, the rest strided
    int first_dense = len - dense;
    for (int i = 0; i < S; i++) keep[n++] = i;      // the sinks
    int found = 0, from = first_dense;               // the newest `sparse` older tokens on the stride
    for (int i = first_dense - 1; i >= S && found < sparse; i--)
        if (pos[i] % K == 0) found++, from = i;
    for (int i = from; i < first_dense; i++)
        if (pos[i] % K == 0) keep[n++] = i;
    for (int i = first_dense; i < len; i++) keep[n++] = i;
    return n;
}
// END: strided
