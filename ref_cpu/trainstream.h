// trainstream.h: a trained model (any attention kind) streamed under an S+W cache.
#ifndef TRAINSTREAM_H
#define TRAINSTREAM_H

#include "train.h"

// Reads tokens[n] one at a time, keeping S sinks + W recent tokens between steps (W <= 0:
// dense, every token kept). nll[i] = -log p(tokens[i+1] | what the cache holds), i < n - 1.
int train_stream_nll(double *nll, const TrainModel *m, const int *tokens, int n, int S, int W, Error *err);

#endif
