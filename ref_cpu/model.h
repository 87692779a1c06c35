// model.h: one configuration and one set of fp32 weights for both model families.
//
//   Llama  (Llama-2, SmolLM2, llama2.c): RMSNorm, rotary on the whole head, grouped-query
//          attention, SwiGLU MLP, optionally tied output head. No biases.
//   GPT-NeoX (Pythia): LayerNorm with bias, rotary on the first rot_dim dims of each head,
//          biases everywhere, GELU MLP, parallel or sequential residual, untied head.
// Loaders for GGUF, Hugging Face safetensors and llama2.c checkpoints all fill this struct.
#ifndef MODEL_H
#define MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"
#include "qmatmul.h"

typedef enum { ARCH_LLAMA, ARCH_NEOX } Arch;

// Which pairs of a head's dims rotary embedding rotates together:
//   ROPE_INTERLEAVED: (x[2i], x[2i+1])            llama2.c, GGUF (Q/K weights pre-permuted)
//   ROPE_HALF:        (x[i],  x[i + rot_dim/2])   Hugging Face checkpoints
typedef enum { ROPE_INTERLEAVED, ROPE_HALF } RopeStyle;

typedef enum { ACT_SILU, ACT_GELU, ACT_GELU_TANH } Activation;

typedef struct {
    Arch arch;
    int dim;          // D, residual stream width
    int hidden_dim;   // F, MLP width
    int n_layers;     // L
    int n_heads;      // Hq, query heads
    int n_kv_heads;   // Hkv, key/value heads (Hq for NeoX); Hq % Hkv == 0
    int head_dim;     // hd = D / Hq
    int vocab_size;   // V
    int ctx_len;      // trained context length, from the model's metadata
    int rot_dim;      // dims of each head that rotary touches (hd for Llama)
    float rope_theta;
    RopeStyle rope_style;
    float norm_eps;
    Activation act;
    int parallel_residual; // NeoX: x + attn(ln1(x)) + mlp(ln2(x)) instead of two steps
    int tied_head;         // output head shares the token embedding
} Config;

typedef struct {
    float *attn_norm, *attn_norm_b; // [D], bias NeoX only
    float *wq, *bq;                 // [Hq*hd, D], [Hq*hd]
    float *wk, *bk;                 // [Hkv*hd, D], [Hkv*hd]
    float *wv, *bv;                 // [Hkv*hd, D], [Hkv*hd]
    float *wo, *bo;                 // [D, Hq*hd], [D]
    float *ffn_norm, *ffn_norm_b;   // [D]
    float *w_gate;                  // [F, D]      Llama only (SwiGLU gate)
    float *w_up, *b_up;             // [F, D], [F]
    float *w_down, *b_down;         // [D, F], [D]
    // --weights native: the same matrices in their file's blocks; where .data is set, the fp32
    // pointer above is NULL and the layer multiplies by the blocks (linear_forward).
    QMat qwq, qwk, qwv, qwo, qw_gate, qw_up, qw_down;
} LayerWeights;

typedef struct {
    float *tok_emb;                  // [V, D]
    LayerWeights *layers;            // [L]
    float *final_norm, *final_norm_b; // [D]
    float *lm_head;                  // [V, D], == tok_emb when tied
    QMat qtok_emb, qlm_head;         // --weights native (qlm_head == qtok_emb when tied)
} Weights;

typedef struct {
    Config cfg;
    Weights w;
    float *arena;       // every weight lives in this one allocation
    size_t n_params;    // floats in the arena (tied head counted once)
    char source[64];    // "gguf", "safetensors" or "llama2.c", for `inspect`
    GGUF *file;         // --weights native: the open file whose mapped blocks the QMats point into
    size_t n_quant;     // weights kept quantized (not in the arena)
    size_t quant_bytes; // their bytes in the file
} Model;

// How a GGUF file's quantized matrices are held: dequantised to fp32 at load (the reference), or
// kept in their blocks and multiplied as they are (fast; see qmatmul.h). F32/F16/BF16 tensors,
// safetensors and llama2.c files are fp32 either way.
typedef enum { WEIGHTS_FP32, WEIGHTS_NATIVE } WeightsKind;

// Allocates the arena for cfg (zeroed) and points every weight of w into it.
int model_alloc(Model *m, const Config *cfg, Error *err);
// The same, leaving out of the arena every matrix whose QMat in q (layers[L] included) is set,
// and copying those QMats into m->w. q NULL: model_alloc.
int model_alloc_quantized(Model *m, const Config *cfg, const Weights *q, Error *err);
// dst = src with every quantized matrix dequantised into a fresh fp32 arena (gpucheck's CPU
// reference for a GPU reading the blocks); the same numbers as loading with WEIGHTS_FP32.
int model_fp32_copy(Model *dst, const Model *src, Error *err);
void model_free(Model *m);
// model_alloc_quantized for a file whose tensors hold `have` weights (fp32 or quantized): a
// header that needs more is an error naming the file, before anything is allocated; so is a
// failed allocation.
int model_alloc_for(Model *m, const Config *cfg, const Weights *q, uint64_t have, const char *path, Error *err);
// Checks the sizes in cfg are positive, consistent and small enough to allocate.
int config_validate(const Config *cfg, const char *path, Error *err);

// Loads any supported checkpoint: a .gguf file, a llama2.c .bin file, or a Hugging Face
// directory (config.json + model.safetensors[.index.json]).
int model_load(Model *m, const char *path, Error *err);
// model_load with a choice of weight storage (model_load: WEIGHTS_FP32).
int model_load_as(Model *m, const char *path, WeightsKind kind, Error *err);
int model_load_gguf(Model *m, const char *path, Error *err);
int model_load_gguf_as(Model *m, const char *path, WeightsKind kind, Error *err);
int model_load_hf(Model *m, const char *dir, Error *err);
int model_load_llama2c(Model *m, const char *path, Error *err);

#endif
