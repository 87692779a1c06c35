// libFuzzer target: the byte-level and SentencePiece encoders and the streaming decoder on
// arbitrary text (invalid UTF-8 included), with the real GPT-NeoX and stories260K vocabularies.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tokenizer.h"

static Tokenizer neox, spm;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Error err;
    if (!ready) {
        const char *shared = getenv("SINKS_SHARED") ? getenv("SINKS_SHARED") : "../shared";
        char p[1024];
        snprintf(p, sizeof p, "%s/tokenizers/gpt-neox-20b/tokenizer.json", shared);
        if (tokenizer_from_json(&neox, p, &err)) abort();
        snprintf(p, sizeof p, "%s/models/stories260K/tok512.bin", shared);
        if (tokenizer_from_llama2c(&spm, p, &err)) abort();
        ready = 1;
    }
    if (size > 4096) return 0; // merging is quadratic in a word's length; keep runs fast
    const Tokenizer *ts[2] = {&neox, &spm};
    for (int k = 0; k < 2; k++) {
        TokenList ids = {0};
        if (tokenizer_encode(ts[k], (const char *)data, size, 1, &ids, &err) == 0) {
            for (int i = 0; i < ids.n; i++)
                if (ids.ids[i] < 0 || ids.ids[i] >= ts[k]->n_vocab) abort();
            free(tokenizer_decode(ts[k], ids.ids, ids.n));
        }
        tokenlist_free(&ids);
    }
    return 0;
}
