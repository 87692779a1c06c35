// Chapter 1: open the default model's GGUF file, read its header, measure the bits a weight of one
// tensor (the first query projection unless --tensor names another), and, for a Q4_1 tensor,
// decode its first block by hand and check it against dequantize().
#include <string.h>

#include "common.h"
#include "gguf.h"
#include "quant.h"

int main(int argc, char **argv) {
    Opt o[] = {{"--model", default_model(), "a GGUF file"},
               {"--tensor", "blk.0.attn_q.weight", "the Q4_1 tensor whose first block is decoded"}};
    OPTS_PARSE(o, "ch01: read a GGUF header and decode one Q4_1 block by hand");
    GGUF g;
    Error err = {{0}};
    CHECK(gguf_open(&g, OPT_STR(o, "--model"), &err), err);
    GGUFStr arch;
    CHECK(gguf_get_str(&g, "general.architecture", &arch, &err), err);
    printf("GGUF version %u, %llu metadata keys, %llu tensors, architecture '%.*s'\n", g.version,
           (unsigned long long)g.n_kv, (unsigned long long)g.n_tensors, (int)arch.len, arch.ptr);
    const char *name = OPT_STR(o, "--tensor");
    const GGUFTensor *t = gguf_tensor(&g, name);
    if (!t) {
        fprintf(stderr, "error: %s: no tensor of that name in the file (build/sinks inspect --tensors lists them)\n",
                name);
        gguf_close(&g);
        return 1;
    }
    printf("%s: %s, %llu x %llu, %llu bytes for %llu weights (%.2f bits each)\n",
           name, ggml_type_name(t->type), (unsigned long long)t->ne[1], (unsigned long long)t->ne[0],
           (unsigned long long)t->nbytes, (unsigned long long)t->n_elements, 8.0 * t->nbytes / t->n_elements);
    if (t->type != GGML_Q4_1) {
        printf("(the hand decoding below is written for Q4_1 blocks only)\n");
        gguf_close(&g);
        return 0;
    }
    // The first block by hand: f16 scale d, f16 minimum m, then 16 bytes of 4-bit codes.
    const uint8_t *b = t->data;
    float d = fp16_to_fp32((uint16_t)(b[0] | b[1] << 8)), m = fp16_to_fp32((uint16_t)(b[2] | b[3] << 8));
    printf("first block: d = %.6f, m = %.6f\n", d, m);
    float mine[32], lib[32];
    for (int j = 0; j < 16; j++) {
        mine[j] = (b[4 + j] & 0xF) * d + m;      // low nibbles: elements 0..15
        mine[j + 16] = (b[4 + j] >> 4) * d + m;  // high nibbles: elements 16..31
    }
    dequantize(lib, b, t->type, 32);
    printf("elements 0..3 by hand:  %9.6f %9.6f %9.6f %9.6f\n", mine[0], mine[1], mine[2], mine[3]);
    printf("elements 0..3 library:  %9.6f %9.6f %9.6f %9.6f\n", lib[0], lib[1], lib[2], lib[3]);
    printf("all 32 agree: %s\n", memcmp(mine, lib, sizeof mine) == 0 ? "yes" : "NO");
    gguf_close(&g);
    return 0;
}
