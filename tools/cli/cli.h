// cli.h: shared pieces of the `sinks` command line: option parsing and model loading.
#ifndef CLI_H
#define CLI_H

#include "forward.h"
#include "model.h"
#include "runner.h"
#include "stream.h"
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
long current_rss_kb(void);

// ChatML, SmolLM2-Instruct's template, for tokenizers that have <|im_start|>; else the prompt as is.
#define SMOLLM2_SYSTEM "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
char *build_prompt(const Tokenizer *t, const char *prompt, const char *system, int raw);
// One chat turn in ChatML: "<|im_start|>{role}\n{text}<|im_end|>\n" (malloc'ed).
char *chatml_turn(const char *role, const char *text);
int has_chat_template(const Tokenizer *t);
int token_ends_turn(const Tokenizer *t, int id);
double now_seconds(void);
long peak_rss_kb(void);

// The cache-policy options every streaming command shares.
typedef struct {
    const char *name;    // --policy
    int sinks, window, chunk, force, reference_prefill;
} PolicyOpts;

#define POLICY_OPTS(po)                                                                                  \
    {"--policy", OPT_STR, &(po).name, "KV cache policy: dense, window, sinks or recompute (default sinks)"}, \
    {"--sinks", OPT_INT, &(po).sinks, "sink tokens kept, for --policy sinks (default 4)"},              \
    {"--window", OPT_INT, &(po).window, "recent tokens kept, or re-run by recompute (default 1020, or less to fit the trained context)"}, \
    {"--chunk", OPT_INT, &(po).chunk, "tokens per block when a long input is fed (default min(W, 256))"}, \
    {"--reference-prefill", OPT_FLAG, &(po).reference_prefill,                                          \
     "feed a long prompt as one dense pass, as the reference implementations do"},                       \
    {"--force", OPT_FLAG, &(po).force, "allow a cache larger than the trained context"}

#define POLICY_DEFAULTS {"sinks", 4, -1, 0, 0, 0} // window -1: 1020, or what fits the trained context

// Turns the options into a validated Policy for this model; prints the error and returns -1.
int policy_from_opts(Policy *p, const PolicyOpts *o, const Config *cfg);
// What every streaming command starts with: threads, model and tokenizer, the cache policy.
// Returns 0, or the exit code (1: the model would not load, 2: bad policy options), with the
// error printed and nothing left to free.
int load_for_streaming(Loaded *L, Policy *pol, const char *model, const char *tokenizer, const PolicyOpts *po,
                       int threads);
// The ids of a whole text file.
int tokenize_file(const Tokenizer *t, const char *path, int add_bos, TokenList *out, Error *err);

// -log p(target) from logits[V], in double precision.
double nll_of(const float *logits, int V, int target);

// Feeds toks[n] through st in blocks of 64, with progress on stderr under `what`. When nll is not
// NULL it gets the n - 1 losses, nll[i] that of toks[i + 1].
int feed_with_progress(Stream *st, const int *toks, int n, double *nll, const char *what, Error *err);

int cmd_generate(int argc, char **argv);
int cmd_ppl(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_memory(int argc, char **argv);
int cmd_speed(int argc, char **argv);
int cmd_streameval(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_attn(int argc, char **argv);
int cmd_collapse(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_gpucheck(int argc, char **argv);

#endif
