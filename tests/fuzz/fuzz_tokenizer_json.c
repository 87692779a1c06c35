// libFuzzer target: tokenizer.json (and config JSON handling through cJSON) on arbitrary bytes.
#include <stdint.h>
#include <stdlib.h>

#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Tokenizer t;
    Error err;
    if (tokenizer_from_json_text(&t, (const char *)data, size, "fuzz", &err) == 0) {
        TokenList ids = {0};
        if (tokenizer_encode(&t, "Hello world 123 \xC3\xA9\n", 19, 1, &ids, &err) == 0) free(tokenizer_decode(&t, ids.ids, ids.n));
        tokenlist_free(&ids);
        tokenizer_free(&t);
    }
    return 0;
}
