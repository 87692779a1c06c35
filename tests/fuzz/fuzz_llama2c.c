// libFuzzer target: the llama2.c checkpoint header parser and the tokenizer.bin reader.
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llama2c.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Llama2cFile f;
    Error err;
    if (llama2c_parse(&f, data, size, "fuzz", &err) == 0) {
        volatile float x = f.weights[llama2c_expected_floats(&f, 1) - 1]; // last float it vouched for
        (void)x;
    }
    // the tokenizer reader takes a path: go through a temporary file
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz-tok-%d.bin", (int)getpid());
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    fwrite(data, 1, size, fp);
    fclose(fp);
    Tokenizer t;
    if (tokenizer_from_llama2c(&t, path, &err) == 0) {
        TokenList ids = {0};
        if (tokenizer_encode(&t, "Once upon a time\n", 17, 1, &ids, &err) == 0) free(tokenizer_decode(&t, ids.ids, ids.n));
        tokenlist_free(&ids);
        tokenizer_free(&t);
    }
    // a checkpoint's tokenizer is looked up by the vocabulary size in its header
    if (tokenizer_load(&t, path, NULL, &err) == 0) tokenizer_free(&t);
    unlink(path);
    return 0;
}
