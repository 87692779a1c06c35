// model.cuh: the GPU model's weights and run state, shared by model.cu (upload, the forward
// pass of a block) and stream.cu (cache policies, graphs). Every pointer is device memory.
#ifndef GPU_MODEL_CUH
#define GPU_MODEL_CUH

extern "C" {
#include "stream.h"
}
#include "common.cuh"

// The matrices are GpuWeights (kernels.h): fp32, or the file's Q4_1 / Q8_0 blocks with
// --weights native (other block types are dequantised to fp32 at upload).
typedef struct {
    const float *attn_norm, *attn_norm_b; // [D]
    GpuWeights wqkv; const float *bqkv;   // [Hq*hd + 2*Hkv*hd, D]: wq, wk, wv stacked, one product
    GpuWeights wo; const float *bo;       // [D, Hq*hd], [D]
    const float *ffn_norm, *ffn_norm_b;   // [D]
    GpuWeights w_gate, w_up;              // [F, D] each (gate and up: the same type)
    const float *b_up;                    // [F]
    GpuWeights w_down; const float *b_down; // [D, F], [D]
} GpuLayer;

typedef struct {
    Config cfg;
    unsigned char *arena;  // every weight, one allocation
    size_t arena_bytes;
    GpuLayer *layers;      // [L], on the host: pointers into arena
    GpuWeights tok_emb;    // [V, D]
    const float *final_norm, *final_norm_b; // [D]
    GpuWeights lm_head;    // [V, D], tok_emb when tied
    float *wscratch;       // [rows * cols] of the largest block matrix, dequantised for a block of
                           // tokens (NULL when every weight is fp32)
    size_t wscratch_floats;
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
