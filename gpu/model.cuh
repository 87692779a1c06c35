// model.cuh: the GPU model's weights and run state, shared by model.cu (upload, the forward
// pass of a block) and stream.cu (cache policies, graphs). Every pointer is device memory.
#ifndef GPU_MODEL_CUH
#define GPU_MODEL_CUH

extern "C" {
#include "stream.h"
}
#include "common.cuh"

typedef struct {
    const float *attn_norm, *attn_norm_b; // [D]
    const float *wqkv, *bqkv;             // [Hq*hd + 2*Hkv*hd, D]: wq, wk, wv stacked, one product
    const float *wo, *bo;                 // [D, Hq*hd], [D]
    const float *ffn_norm, *ffn_norm_b;   // [D]
    const float *w_gate, *w_up, *b_up;    // [F, D], [F]
    const float *w_down, *b_down;         // [D, F], [D]
} GpuLayer;

typedef struct {
    Config cfg;
    float *arena;          // every weight, one allocation
    size_t arena_bytes;
    GpuLayer *layers;      // [L], on the host: pointers into arena
    const float *tok_emb;  // [V, D]
    const float *final_norm, *final_norm_b; // [D]
    const float *lm_head;  // [V, D], tok_emb when tied
} GpuModel;

typedef struct {
    int max_T, capacity;
    GpuRing ring;
    float *k, *v;           // [L, C, Hkv*hd] keys (unrotated) and values, ring-ordered
    float *cos, *sin;       // [C, rot_dim/2] ref_cpu's rotary table, uploaded
    float *x, *xb, *xb2;    // [max_T, D]
    float *qkv;             // [max_T, Hq*hd + 2*Hkv*hd]
    float *q, *q_sink;      // [max_T, Hq*hd]
    float *att_out;         // [max_T, Hq*hd]
    float *hb, *hb2;        // [max_T, F]
    float *partial;         // attention's split scratch
    float *logits;          // [max_T, V]
    int *tokens;            // [max_T]
    GpuStep *step;          // the block's place in the cache
    float *att;             // [L, Hq, max_T, C] attention probabilities for pictures; NULL: not written
    size_t bytes;
} GpuRun;

enum { GPU_LOGITS_NONE, GPU_LOGITS_LAST, GPU_LOGITS_ALL };

int gpu_model_upload(GpuModel *g, const Model *m, Error *err);
void gpu_model_free(GpuModel *g);
int gpu_run_init(GpuRun *r, const Config *cfg, int max_T, int capacity, int ring_sinks, Error *err);
void gpu_run_free(GpuRun *r);
// Launches the forward pass of the T tokens in r->tokens, placed by r->step (both already on
// the device), onto the current stream. Logits rows land in r->logits: none, the last (row 0)
// or all T.
void gpu_block_forward(const GpuModel *g, GpuRun *r, int T, int want);

#endif
