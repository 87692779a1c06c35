// optim.c: the optimisers. AdamW as PyTorch's torch.optim.AdamW computes it (decoupled weight
// decay applied first, bias-corrected moments), and plain SGD for the comparison.
#include <math.h>

#include "train.h"

// ANCHOR: adamw
// For each parameter w with gradient g, at step t (from 1):
//   w <- w - lr wd w                    (decoupled decay; matrices only, not norm gains)
//   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
//   w <- w - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
real optim_step(TrainModel *m, const OptimConfig *o, float lr) {
    real norm2 = 0;
    for (size_t i = 0; i < m->n_params; i++) norm2 += m->grads[i] * m->grads[i];
    real norm = sqrt(norm2), gscale = o->clip > 0 && norm > o->clip ? o->clip / norm : 1.0;
    m->step++;
    real bc1 = 1 - pow(o->beta1, (double)m->step), bc2 = 1 - pow(o->beta2, (double)m->step);
    for (int ti = 0; ti < m->n_tensors; ti++) {
        const TensorInfo *t = &m->tensors[ti];
        real *w = m->params + t->offset, *g = m->grads + t->offset, *mm = m->m + t->offset, *vv = m->v + t->offset;
        if (o->kind == OPTIM_SGD) {
            for (size_t i = 0; i < t->n; i++) w[i] -= lr * g[i] * gscale;
            continue;
        }
        real decay = t->decay ? 1.0 - (real)lr * o->weight_decay : 1.0;
        for (size_t i = 0; i < t->n; i++) {
            real gi = g[i] * gscale;
            w[i] *= decay;
            mm[i] = o->beta1 * mm[i] + (1 - o->beta1) * gi;
            vv[i] = o->beta2 * vv[i] + (1 - o->beta2) * gi * gi;
            w[i] -= lr * (mm[i] / bc1) / (sqrt(vv[i] / bc2) + o->eps);
        }
    }
    return norm;
}
// END: adamw
