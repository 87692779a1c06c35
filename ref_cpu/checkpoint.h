// checkpoint.h: trained models to and from Hugging Face Llama directories.
#ifndef CHECKPOINT_H
#define CHECKPOINT_H

#include "train.h"

// Writes dir/config.json and dir/model.safetensors (float32; dir is created if missing).
// Two keys of ours ride along in config.json, ignored by Hugging Face: "sinks_attention"
// (softmax, softmax1, sigmoid) and "sinks_sink_token" (the id prepended to every training
// sequence, or -1).
int checkpoint_write(const TrainModel *m, const char *dir, int sink_token, Error *err);
// Reads such a directory into a fresh TrainModel for batches of B x T (T 0: its seq_len).
int checkpoint_read(TrainModel *m, const char *dir, int B, int T, int *sink_token, Error *err);

const char *attn_kind_name(AttnKind k);
int attn_kind_parse(AttnKind *k, const char *s, Error *err);

#endif
