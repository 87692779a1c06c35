// Chapter 2: the same sentence through both tokenizer families, piece by piece.
#include <string.h>

#include "common.h"
#include "tokenizer.h"

static void show(const char *label, const Tokenizer *t, const char *text) {
    TokenList ids = {0};
    Error err = {{0}};
    if (tokenizer_encode(t, text, strlen(text), 0, &ids, &err)) return;
    printf("%s: %d tokens\n ", label, ids.n);
    for (int i = 0; i < ids.n; i++) printf(" [%s]", t->piece[ids.ids[i]]); // as the vocabulary stores them
    char *back = tokenizer_decode(t, ids.ids, ids.n);
    printf("\n  decodes back exactly: %s\n", strcmp(back, text) == 0 ? "yes" : "no");
    free(back);
    tokenlist_free(&ids);
}

int main(int argc, char **argv) {
    Opt o[] = {{"--text", "Once upon a time, 1234 cats naïvely said: héllo!", "the text to tokenise"}};
    OPTS_PARSE(o, "ch02: one text through both tokenizer families");
    const char *text = OPT_STR(o, "--text");
    Tokenizer spm, bpe;
    Error err = {{0}};
    CHECK(tokenizer_from_llama2c(&spm, stories("tok512.bin"), &err), err);
    show("stories260K (SentencePiece-style BPE, 512 pieces)", &spm, text);
    CHECK(tokenizer_from_gguf(&bpe, default_model(), &err), err);
    show("SmolLM2 (byte-level BPE, 49152 pieces, digits split)", &bpe, text);
    tokenizer_free(&spm);
    tokenizer_free(&bpe);
    return 0;
}
