// registry.c: the table of kernel versions (registry.h). One line per version; the limits are
// per op, spelled once below with the reason for them.
#include "registry.h"

#include <stdio.h>
#include <string.h>

// ANCHOR: registry_limits
// fp32 sums of I products in another order: rounding grows like sqrt(I) * eps * |terms|
#define MATMUL_LIMITS {2e-4, 1e-4, 1e-10, "fp32 sums of I products in another order"}
#define RMSNORM_LIMITS {1e-5, 1e-5, 1e-10, "a sum of D squares, then rsqrtf (2 ulp)"}
#define LAYERNORM_LIMITS {1e-5, 1e-5, 1e-10, "sums of D terms (mean, then variance), then rsqrtf (2 ulp)"}
#define SOFTMAX_LIMITS {1e-7, 1e-5, 1e-8, "expf within 2 ulp; the CPU sums n floats in a row, off by ~sqrt(n) ulp " \
                                          "(~1e-5 at n=49152), which scales every probability alike"}
#define ATTENTION_LIMITS {1e-5, 1e-4, 1e-9, "dot products of head_dim terms, expf, sums in another order"}
#define RING_LIMITS {1e-5, 1e-4, 1e-9, "keys rotated on the fly, dot products of head_dim terms, online softmax " \
                                       "sums in another order"}
#define QMATVEC_LIMITS {2e-4, 1e-4, 1e-10, "each weight q * d + m rounded once (fma) or twice, then fp32 sums of I " \
                                          "products in another order"}
// END: registry_limits

static const KernelInfo KERNELS[] = {
    {"matmul", 1, KERNEL_READY, "matmul_kernel1 (gpu/matmul.cu)", "one thread per output element (loads not coalesced)",
     "matmul_forward (ref_cpu/ops.c)", MATMUL_LIMITS},
    {"matmul", 2, KERNEL_READY, "matmul_kernel2 (gpu/matmul.cu)",
     "one warp per output row, coalesced float4 loads, shuffle sums (decode)", "matmul_forward (ref_cpu/ops.c)",
     MATMUL_LIMITS},
    {"matmul", 3, KERNEL_READY, "matmul_kernel3 (gpu/matmul.cu)",
     "64x64 output tiles through shared memory, 4x4 sums per thread (prefill)", "matmul_forward (ref_cpu/ops.c)",
     MATMUL_LIMITS},
    {"rmsnorm", 1, KERNEL_READY, "rmsnorm_kernel1 (gpu/rmsnorm.cu)", "one thread per row",
     "rmsnorm_forward (ref_cpu/ops.c)", RMSNORM_LIMITS},
    {"rmsnorm", 2, KERNEL_READY, "rmsnorm_kernel2 (gpu/rmsnorm.cu)", "one block per row, a block reduction",
     "rmsnorm_forward (ref_cpu/ops.c)", RMSNORM_LIMITS},
    {"layernorm", 1, KERNEL_READY, "layernorm_kernel1 (gpu/layernorm.cu)", "one thread per row, two passes",
     "layernorm_forward (ref_cpu/ops.c)", LAYERNORM_LIMITS},
    {"layernorm", 2, KERNEL_READY, "layernorm_kernel2 (gpu/layernorm.cu)", "one block per row, two block reductions",
     "layernorm_forward (ref_cpu/ops.c)", LAYERNORM_LIMITS},
    // ANCHOR: registry_softmax
    {"softmax", 1, KERNEL_READY, "softmax_kernel1 (gpu/softmax.cu)", "one thread per row, three passes",
     "softmax_forward (ref_cpu/ops.c), row by row", SOFTMAX_LIMITS},
    {"softmax", 2, KERNEL_READY, "softmax_kernel2 (gpu/softmax.cu)", "one block per row, max and sum as block reductions",
     "softmax_forward (ref_cpu/ops.c), row by row", SOFTMAX_LIMITS},
    {"softmax", 3, KERNEL_TEMPLATE, "softmax_kernel3 (gpu/softmax.cu)",
     "template, not written yet: one warp per row, max and sum with warp shuffles",
     "softmax_forward (ref_cpu/ops.c), row by row", SOFTMAX_LIMITS},
    {"softmax", 101, KERNEL_FAULT, "softmax_skip_last_kernel (gpu/faults.cu)",
     "fault: leaves the last element of every row untouched", "softmax_forward (ref_cpu/ops.c), row by row",
     SOFTMAX_LIMITS},
    {"softmax", 102, KERNEL_FAULT, "softmax_race_kernel (gpu/faults.cu)",
     "fault: a block reduction missing its __syncthreads (a race)", "softmax_forward (ref_cpu/ops.c), row by row",
     SOFTMAX_LIMITS},
    // END: registry_softmax
    {"attention", 1, KERNEL_READY, "attention_kernel1 (gpu/attention.cu)",
     "one thread per (head, query): scores, softmax, weighted values in turn", "attention_forward (ref_cpu/attention.c)",
     ATTENTION_LIMITS},
    {"attention", 2, KERNEL_READY, "attention_kernel2 (gpu/attention.cu)",
     "one block per (head, query), block reductions, coalesced value reads", "attention_forward (ref_cpu/attention.c)",
     ATTENTION_LIMITS},
    {"attention", 5, KERNEL_TEMPLATE, "attention_kernel5 (gpu/attention.cu)",
     "template, not written yet: one block per (head, query), tiles of keys staged in shared memory",
     "attention_forward (ref_cpu/attention.c)", ATTENTION_LIMITS},
    {"attention", 101, KERNEL_FAULT, "attention_kernel1 called with window - 1 (gpu/faults.cu)",
     "fault: the window starts one slot late (off by one)", "attention_forward (ref_cpu/attention.c)",
     ATTENTION_LIMITS},
    {"attention", 102, KERNEL_FAULT, "attention_kernel1 on queries scaled by sqrt(head_dim) (gpu/faults.cu)",
     "fault: scores not scaled by 1/sqrt(head_dim)", "attention_forward (ref_cpu/attention.c)", ATTENTION_LIMITS},
    {"attention_ring", 3, KERNEL_READY, "attention_ring_kernel (gpu/attention.cu)",
     "ring cache, keys split in blocks of 64, a warp per key, online softmax, merged (flash-decoding)",
     "rope_forward + attention_forward (ref_cpu)", RING_LIMITS},
    {"attention_ring", 4, KERNEL_READY, "attention_ring_kernel4 (gpu/attention.cu)",
     "ring cache, a lane per key, 128 keys a block, one max and sum per warp", "rope_forward + attention_forward (ref_cpu)",
     RING_LIMITS},
    {"matvec_q4_1", 1, KERNEL_READY, "gpu_dequant_q4_1 + matmul_kernel2 (gpu/qmatvec.cu)",
     "not fused: the blocks to an fp32 matrix in scratch (4 bytes a weight), then matmul v2",
     "dequantize (ref_cpu/quant.c) + matmul_forward (ref_cpu/ops.c)", QMATVEC_LIMITS},
    {"matvec_q4_1", 2, KERNEL_TEMPLATE, "matvec_q4_1_kernel2 (gpu/qmatvec.cu)",
     "template, not written yet: one warp per row, each block dequantised in registers (fused)",
     "dequantize (ref_cpu/quant.c) + matmul_forward (ref_cpu/ops.c)", QMATVEC_LIMITS},
};
#define N_KERNELS (int)(sizeof KERNELS / sizeof KERNELS[0])

// ANCHOR: model_versions
// The versions the GPU model (gpu/model.cu) runs: `small` for blocks of fewer than `from_T`
// tokens (a decode step is one), `large` from there on; the fastest measured on an H100
// (data/results/gpu/kernels.md). Point a line at your version and `sinks gpucheck` runs the
// whole model on it against the CPU.
static const struct {
    const char *op;
    int small, large, from_T;
} MODEL_VERSIONS[] = {
    {"matmul", 2, 3, 8},         // a warp per row for a few tokens, shared-memory tiles for a block
    {"rmsnorm", 2, 2, 1},
    {"layernorm", 2, 2, 1},
    {"attention_ring", 4, 3, 2}, // a lane per key to decode, a warp per key for blocks
};
// END: model_versions

int kernel_model_version(const char *op, int T) {
    for (size_t i = 0; i < sizeof MODEL_VERSIONS / sizeof MODEL_VERSIONS[0]; i++)
        if (strcmp(MODEL_VERSIONS[i].op, op) == 0) return T < MODEL_VERSIONS[i].from_T ? MODEL_VERSIONS[i].small : MODEL_VERSIONS[i].large;
    return -1;
}

int kernel_model_check(Error *err) {
    for (size_t i = 0; i < sizeof MODEL_VERSIONS / sizeof MODEL_VERSIONS[0]; i++)
        for (int k = 0; k < 2; k++) {
            int v = k ? MODEL_VERSIONS[i].large : MODEL_VERSIONS[i].small;
            const KernelInfo *e = kernel_lookup(MODEL_VERSIONS[i].op, v, err);
            if (!e) return -1;
            if (e->status != KERNEL_READY)
                return err_set(err, "the GPU model is set to run %s v%d, which is a %s, not a ready kernel (gpu/registry.c)",
                               e->op, v, kernel_status_name(e->status));
        }
    return 0;
}

const KernelInfo *kernel_table(int *n) {
    *n = N_KERNELS;
    return KERNELS;
}

int kernel_op_known(const char *op) {
    for (int i = 0; i < N_KERNELS; i++)
        if (strcmp(KERNELS[i].op, op) == 0) return 1;
    return 0;
}

const char *kernel_status_name(KernelStatus s) {
    return s == KERNEL_READY ? "ready" : s == KERNEL_TEMPLATE ? "template" : "fault";
}

void kernel_ops_text(char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_KERNELS && len < n; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= strcmp(KERNELS[j].op, KERNELS[i].op) == 0;
        if (!seen) len += snprintf(buf + len, n - len, "%s%s", len ? ", " : "", KERNELS[i].op);
    }
}

// Appends "label a-b, c" (the versions of op with status s, consecutive ones as a run) to buf.
static size_t append_runs(char *buf, size_t n, size_t len, const char *op, KernelStatus s, const char *label) {
    int v[N_KERNELS], nv = 0;
    for (int i = 0; i < N_KERNELS; i++)
        if (KERNELS[i].status == s && strcmp(KERNELS[i].op, op) == 0) v[nv++] = KERNELS[i].version;
    for (int i = 0; i < nv && len < n; i++) {
        int j = i;
        while (j + 1 < nv && v[j + 1] == v[j] + 1) j++;
        const char *sep = i > 0 ? ", " : len > 0 ? "; " : "";
        len += snprintf(buf + len, n - len, "%s%s", sep, i == 0 ? label : "");
        if (len < n) len += j == i ? snprintf(buf + len, n - len, "%d", v[i]) : snprintf(buf + len, n - len, "%d-%d", v[i], v[j]);
        i = j;
    }
    return len < n ? len : n - 1;
}

void kernel_versions_text(char *buf, size_t n, const char *op) {
    buf[0] = '\0';
    size_t len = append_runs(buf, n, 0, op, KERNEL_READY, "");
    len = append_runs(buf, n, len, op, KERNEL_TEMPLATE, "template: ");
    append_runs(buf, n, len, op, KERNEL_FAULT, "faults: ");
}

const KernelInfo *kernel_lookup(const char *op, int version, Error *err) {
    char list[256];
    if (!kernel_op_known(op)) {
        kernel_ops_text(list, sizeof list);
        err_set(err, "no kernel op '%s' (ops: %s)", op, list);
        return NULL;
    }
    for (int i = 0; i < N_KERNELS; i++)
        if (strcmp(KERNELS[i].op, op) == 0 && KERNELS[i].version == version) return &KERNELS[i];
    kernel_versions_text(list, sizeof list, op);
    err_set(err, "%s has no version %d (versions: %s)", op, version, list);
    return NULL;
}
