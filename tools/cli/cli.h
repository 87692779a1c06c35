// cli.h: shared pieces of the `sinks` command line: option parsing and model loading.
#ifndef CLI_H
#define CLI_H

#include "forward.h"
#include "model.h"
#include "tokenizer.h"

#define DEFAULT_MODEL_HINT "$HOME/.cache/streaming-sinks/SmolLM2-135M-Instruct.Q4_1.gguf"

typedef enum { OPT_FLAG, OPT_INT, OPT_FLOAT, OPT_STR } OptType;

typedef struct {
    const char *name;   // "--steps"
    OptType type;
    void *dst;          // int*, float* or const char**
    const char *help;
} Opt;

// Parses argv against opts (NULL-terminated by name). Prints usage for --help (returns 1) and a
// one-line error naming the option for bad input (returns -1). Returns 0 when all is well.
int parse_opts(int argc, char **argv, const Opt *opts, const char *usage);

// The model path from --model, else $SINKS_MODEL, else the default cache location.
const char *resolve_model(const char *opt);

typedef struct {
    Model model;
    Tokenizer tok;
} Loaded;

int load_model_and_tokenizer(Loaded *l, const char *model_path, const char *tokenizer_path, int need_tokenizer);
void loaded_free(Loaded *l);
void set_threads(int n);
double now_seconds(void);
long peak_rss_kb(void);

int cmd_generate(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
