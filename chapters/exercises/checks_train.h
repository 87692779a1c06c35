// checks_train.h: the checker behind `make exercise-15` (the softmax backward), kept apart from
// checks.h because it works in double precision, as the training code does. tests/test_train.c
// proves that it passes a correct answer and fails the usual wrong ones.
#ifndef EXERCISE_CHECKS_TRAIN_H
#define EXERCISE_CHECKS_TRAIN_H

#include <math.h>
#include <stdio.h>

// ds[n] = dL/ds from p = softmax(s) and dp = dL/dp
typedef void (*SoftmaxBackwardFn)(double *ds, const double *p, const double *dp, int n);
void exercise_softmax_backward(double *ds, const double *p, const double *dp, int n);

// L(s) = sum_j c_j softmax(s)_j, so dL/dp = c. The reader's ds is compared with central
// differences of L (h = 1e-6: error ~1e-12), at several lengths and with one logit far above
// the rest (a nearly one-hot p, where a missing term hides least).
static inline int check_softmax_backward(SoftmaxBackwardFn fn, char *msg, size_t cap) {
    static const int lens[] = {1, 2, 5, 17, 64};
    unsigned st = 12345;
    for (int c = 0; c < 10; c++) {
        int n = lens[c % 5];
        double s[64] = {0}, p[64], dp[64], ds[64];
        for (int j = 0; j < n; j++) {
            st = st * 1664525u + 1013904223u;
            s[j] = ((st >> 8) / 16777216.0 - 0.5) * 6;
            st = st * 1664525u + 1013904223u;
            dp[j] = ((st >> 8) / 16777216.0 - 0.5) * 2;
        }
        if (c >= 5) s[n / 2] += 8; // one dominant logit
        double max = s[0], sum = 0;
        for (int j = 1; j < n; j++) max = s[j] > max ? s[j] : max;
        for (int j = 0; j < n; j++) sum += p[j] = exp(s[j] - max);
        for (int j = 0; j < n; j++) p[j] /= sum;
        fn(ds, p, dp, n);
        for (int j = 0; j < n; j++) {
            double h = 1e-6, lp = 0, lm = 0, keep = s[j];
            for (int side = 0; side < 2; side++) {
                s[j] = keep + (side ? -h : h);
                double mx = s[0], sm = 0, l = 0;
                for (int i = 1; i < n; i++) mx = s[i] > mx ? s[i] : mx;
                for (int i = 0; i < n; i++) sm += exp(s[i] - mx);
                for (int i = 0; i < n; i++) l += dp[i] * exp(s[i] - mx) / sm;
                if (side) lm = l; else lp = l;
            }
            s[j] = keep;
            double fd = (lp - lm) / (2 * h);
            if (!isfinite(ds[j]) || fabs(ds[j] - fd) > 1e-7 + 1e-5 * fabs(fd)) {
                snprintf(msg, cap, "softmax backward, n = %d, case %d: ds[%d] = %.9g, finite differences give %.9g", n, c,
                         j, ds[j], fd);
                return 1;
            }
        }
    }
    return 0;
}

#endif
