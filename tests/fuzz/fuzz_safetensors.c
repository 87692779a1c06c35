// libFuzzer target: the safetensors parser on arbitrary bytes.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quant.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    SafeTensors st;
    Error err;
    memset(&st, 0, sizeof st);
    if (safetensors_parse(&st, data, size, "fuzz", &err) == 0) {
        float out[64];
        for (int i = 0; i < st.n_tensors; i++) {
            uint64_t n = st.tensors[i].n_elements < 64 ? st.tensors[i].n_elements : 64;
            dequantize(out, st.tensors[i].data, st.tensors[i].type, n);
        }
    }
    safetensors_close(&st);
    return 0;
}
