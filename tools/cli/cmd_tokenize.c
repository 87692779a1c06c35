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
        {"--model", OPT_STR, &model, "model whose tokenizer to use (default " DEFAULT_MODEL_HINT ")"},
        {"--tokenizer", OPT_STR, &tokenizer, "a tokenizer file instead: tokenizer.json, .gguf or llama2.c .bin"},
        {"--text", OPT_STR, &text, "the text (default: read --file, or stdin)"},
        {"--file", OPT_STR, &file, "read the text from this file"},
        {"--pieces", OPT_FLAG, &pieces, "print one id and its piece per line"},
        {"--bos", OPT_FLAG, &bos, "prepend BOS if the tokenizer uses one"},
        {NULL, 0, NULL, NULL},
    };
    int pr = parse_opts(argc, argv, opts, "usage: sinks tokenize [options]\n\nPrints the token ids of a text, space-separated.");
    if (pr) return pr > 0 ? 0 : 2;
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
        buf = read_text_file(file ? file : "/dev/stdin", &len, &err);
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
    for (int i = 0; i < ids.n && !rc; i++) {
        if (pieces) {
            char *s = tokenizer_decode(&tok, &ids.ids[i], 1);
            printf("%d\t", ids.ids[i]);
            for (const char *c = s; c && *c; c++) // make whitespace visible
                if (*c == '\n') printf("\\n");
                else if (*c == '\t') printf("\\t");
                else putchar(*c);
            printf("\n");
            free(s);
        } else {
            printf("%s%d", i ? " " : "", ids.ids[i]);
        }
    }
    if (!pieces && !rc) printf("\n");
    tokenlist_free(&ids);
    free(buf);
    tokenizer_free(&tok);
    return rc ? 1 : 0;
}
