// libFuzzer target: the byte-level and SentencePiece encoders and the streaming decoder on
// arbitrary text (invalid UTF-8 included), with the real GPT-NeoX and stories260K vocabularies.
// The heap merges must give the ids of the simple O(n^2) scans: any difference aborts.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    Tokenizer *ts[2] = {&neox, &spm};
    for (int k = 0; k < 2; k++) {
        TokenList ids = {0}, slow = {0};
        if (tokenizer_encode(ts[k], (const char *)data, size, 1, &ids, &err) == 0) {
            for (int i = 0; i < ids.n; i++)
                if (ids.ids[i] < 0 || ids.ids[i] >= ts[k]->n_vocab) abort();
            free(tokenizer_decode(ts[k], ids.ids, ids.n));
            ts[k]->simple_merges = 1; // the simple scans are quadratic: only on short inputs
            if (size <= 4096 && tokenizer_encode(ts[k], (const char *)data, size, 1, &slow, &err) == 0 &&
                (slow.n != ids.n || (ids.n > 0 && memcmp(slow.ids, ids.ids, (size_t)ids.n * sizeof(int)) != 0)))
                abort();
            ts[k]->simple_merges = 0;
        }
        tokenlist_free(&ids);
        tokenlist_free(&slow);
    }
    return 0;
}
