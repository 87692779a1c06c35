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

#include "error.h"

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
} LayerWeights;

typedef struct {
    float *tok_emb;                  // [V, D]
    LayerWeights *layers;            // [L]
    float *final_norm, *final_norm_b; // [D]
    float *lm_head;                  // [V, D], == tok_emb when tied
} Weights;

typedef struct {
    Config cfg;
    Weights w;
    float *arena;       // every weight lives in this one allocation
    size_t n_params;    // floats in the arena (tied head counted once)
    char source[64];    // "gguf", "safetensors" or "llama2.c", for `inspect`
} Model;

// Allocates the arena for cfg (zeroed) and points every weight of w into it.
int model_alloc(Model *m, const Config *cfg, Error *err);
void model_free(Model *m);
// Checks the sizes in cfg are positive, consistent and small enough to allocate.
int config_validate(const Config *cfg, const char *path, Error *err);

// Loads any supported checkpoint: a .gguf file, a llama2.c .bin file, or a Hugging Face
// directory (config.json + model.safetensors[.index.json]).
int model_load(Model *m, const char *path, Error *err);
int model_load_gguf(Model *m, const char *path, Error *err);
int model_load_hf(Model *m, const char *dir, Error *err);
int model_load_llama2c(Model *m, const char *path, Error *err);

#endif
