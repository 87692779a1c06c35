// sinks tokenize: the token ids of a text, to compare with any other tokenizer.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mapfile.h"

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *text = NULL, *file = NULL;
    int pieces = 0, bos = 0;
    Opt opts[] = {
        MODEL_OPT(model),
        {"--tokenizer", OPT_STR, &tokenizer, "a tokenizer file instead: tokenizer.json, .gguf or llama2.c .bin", 0, 0, NULL},
        {"--text", OPT_STR, &text, "the text (default: read --file, or stdin)", 0, 0, "-p --prompt"},
        {"--file", OPT_STR, &file, "read the text from this file (- for stdin)", 0, 0, "-f"},
        {"--pieces", OPT_FLAG, &pieces, "print one id and its piece per line, the piece quoted (C escapes)", 0, 0, NULL},
        {"--bos", OPT_FLAG, &bos, "prepend BOS if the tokenizer uses one", 0, 0, NULL},
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    int pr = parse_opts(argc, argv, opts, "usage: sinks tokenize [options]\n\nPrints the token ids of a text, space-separated.");
    if (pr) return pr > 0 ? EXIT_OK : EXIT_USAGE;
    Error err = {{0}};
    Tokenizer tok;
    const char *src = tokenizer ? tokenizer : resolve_model(model);
    if (tokenizer_load(&tok, src, tokenizer, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 1;
    }
    char *buf = NULL;
    size_t len = 0;
    if (text) {
        len = strlen(text);
    } else {
        buf = read_text_file(file && strcmp(file, "-") ? file : "/dev/stdin", &len, &err);
        if (!buf) {
            fprintf(stderr, "error: %s\n", err.msg);
            tokenizer_free(&tok);
            return 1;
        }
        text = buf;
    }
    TokenList ids = {0};
    int rc = tokenizer_encode(&tok, text, len, bos, &ids, &err);
    if (rc) fprintf(stderr, "error: %s\n", err.msg);
    // pieces decode in context (a decoder across the whole list), so that SentencePiece's
    // leading space shows; quoted, so that a space at either end can be seen
    TokDecoder dec;
    tokdecoder_init(&dec);
    size_t cap = 3 * (size_t)tok.max_piece_len + 16;
    char *piece = pieces ? malloc(cap) : NULL;
    if (pieces && !piece) rc = 1, fprintf(stderr, "error: out of memory\n");
    for (int i = 0; i < ids.n && !rc; i++) {
        if (pieces) {
            int n = tokdecoder_push(&dec, &tok, ids.ids[i], piece, (int)cap);
            printf("%d\t\"", ids.ids[i]);
            for (int k = 0; k < n; k++) {
                unsigned char c = (unsigned char)piece[k];
                if (c == '\n') printf("\\n");
                else if (c == '\t') printf("\\t");
                else if (c == '"' || c == '\\') printf("\\%c", c);
                else if (c < 32 || c == 127) printf("\\x%02x", c);
                else putchar(c);
            }
            printf("\"\n");
        } else {
            printf("%s%d", i ? " " : "", ids.ids[i]);
        }
    }
    if (!pieces && !rc) printf("\n");
    free(piece);
    tokenlist_free(&ids);
    free(buf);
    tokenizer_free(&tok);
    return rc ? 1 : 0;
}
