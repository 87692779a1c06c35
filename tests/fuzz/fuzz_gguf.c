// libFuzzer target: the GGUF parser on arbitrary bytes. `make fuzz` runs it.
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "quant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    GGUF g;
    Error err;
    if (gguf_parse(&g, data, size, "fuzz", &err) == 0) {
        // touch everything the parser vouched for: strings, arrays and tensor bytes
        float out[256];
        for (uint64_t i = 0; i < g.n_tensors; i++) {
            const GGUFTensor *t = &g.tensors[i];
            uint64_t bs = (uint64_t)ggml_block_size(t->type), n = t->n_elements < 256 ? t->n_elements : 256;
            n -= n % bs;
            if (n) dequantize(out, t->data, t->type, n);
        }
        for (uint64_t i = 0; i < g.n_kv; i++) {
            const GGUFKV *kv = &g.kv[i];
            if (kv->type == GGUF_ARRAY && kv->arr_type == GGUF_STRING && kv->arr_n < 4096) {
                GGUFStr s[4096];
                gguf_str_array(kv, s);
            } else if (kv->type == GGUF_ARRAY && kv->arr_type != GGUF_ARRAY && kv->arr_n > 0) {
                (void)gguf_arr_num(kv, kv->arr_n - 1);
            }
        }
    }
    gguf_close(&g);
    return 0;
}
