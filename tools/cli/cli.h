// cli.h: shared pieces of the `sinks` command line: option parsing and model loading.
#ifndef CLI_H
#define CLI_H

#include "forward.h"
#include "model.h"
#include "device.h"
#include "stream.h"
#include "tokenizer.h"

#include <stdio.h>

#define DEFAULT_MODEL_HINT "$HOME/.cache/streaming-sinks/SmolLM2-135M-Instruct.Q4_1.gguf"

// Exit codes of every command (documented in `sinks --help` and the README).
enum {
    EXIT_OK = 0,
    EXIT_INPUT = 1,   // a file or model that cannot be used, or a run that failed
    EXIT_USAGE = 2,   // a bad command line
    EXIT_IO = 3,      // output could not be written (disk full, closed pipe, ...)
    EXIT_NO_GPU = 4,  // the command needs a CUDA device and found none (sinks kernels check, bench)
    EXIT_SIGNAL = 128 // + the signal: 130 Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP
};

// OPT_LIST: comma-separated integers, each checked against the range; kept as the string
// (read it with cli_int_list).
typedef enum { OPT_FLAG, OPT_INT, OPT_FLOAT, OPT_STR, OPT_LIST } OptType;

typedef struct {
    const char *name;   // "--n-predict"
    OptType type;
    void *dst;          // int*, float* or const char**
    const char *help;
    double lo, hi;      // OPT_INT, OPT_FLOAT, OPT_LIST: the accepted range, inclusive (required)
    const char *alias;  // other spellings, space-separated: "-n --steps" (short flags first)
} Opt;

// The options every command that loads a model shares, spelled once.
#define MODEL_OPT(m) \
    {"--model", OPT_STR, &(m), "model: .gguf, llama2.c .bin or Hugging Face directory (default " DEFAULT_MODEL_HINT ")", 0, 0, "-m"}
#define TOKENIZER_OPT(t) {"--tokenizer", OPT_STR, &(t), "tokenizer file, if not the model's own", 0, 0, NULL}
#define THREADS_OPT(t) {"--threads", OPT_INT, &(t), "OpenMP threads (default 0: all cores)", 0, 1024, "-t"}
#define CLI_MAX_LIST 64 // elements of a list option

// Parses argv against opts (NULL-terminated by name): "--name value", "--name=value", the
// aliases ("-n 5", "-n=5"), integer and float ranges, lists element by element. Prints usage for
// --help (returns 1), the option names for --list-options (returns 1), and a one-line error
// naming the option and what it accepts (with a "did you mean" for a near miss) for bad input
// (returns -1). Returns 0 when all is well.
int parse_opts(int argc, char **argv, const Opt *opts, const char *usage);
// The integers of a list option that parse_opts accepted; returns how many (at most max).
int cli_int_list(const char *s, int *out, int max);
// The closest of names[n] to s within a small edit distance, or NULL.
const char *cli_closest(const char *s, const char *const *names, int n);

// Signals. cli_catch_signals: SIGINT, SIGTERM and SIGHUP set a flag that the long loops check
// (a second one of the same kills at once); SIGPIPE is ignored so that a closed pipe is a write
// error (EPIPE) that the command reports. cli_stop_signal: the signal caught, or 0.
void cli_catch_signals(void);
int cli_stop_signal(void);
void cli_clear_stop(void);
// Flushes f and checks its error flag; on failure prints "error: PATH: cannot write (why)" and
// returns EXIT_IO. cli_close also closes it (a NULL f is fine).
int cli_check_write(FILE *f, const char *path);
// Reports a write to f that failed with errnum (stdout: only the first time); returns EXIT_IO.
int cli_write_failed(FILE *f, const char *path, int errnum);
int cli_close(FILE *f, const char *path);
// Whether progress lines should be drawn: stderr is a terminal.
int cli_progress(void);

// The model path from --model, else $SINKS_MODEL, else the default cache location.
const char *resolve_model(const char *opt);

typedef struct {
    Model model;
    Tokenizer tok;
} Loaded;

int load_model_and_tokenizer(Loaded *l, const char *model_path, const char *tokenizer_path, int need_tokenizer);
// The same with --weights: "fp32", "native" or NULL (native). -1: it would not load; -2: bad --weights.
int load_model_weights(Loaded *l, const char *model_path, const char *tokenizer_path, int need_tokenizer,
                       const char *weights);
// --weights: how a GGUF file's quantized matrices are held (ref_cpu/qmatmul.h). Native is the
// default: faster, and the per-token losses agree with fp32 (data/results/native_vs_fp32.md).
#define WEIGHTS_OPT(w) {"--weights", OPT_STR, &(w), "fp32 (dequantised at load) or native (GGUF blocks kept " \
    "quantized; default native, fp32 with --device cuda)", 0, 0, NULL}
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
    const char *weights; // --weights (load_for_streaming loads with it)
    int stride;          // --stride (strided)
    const char *device;  // --device: cpu or cuda
} PolicyOpts;

#define POLICY_OPTS(po) POLICY_OPTS_DEFAULT(po, "sinks")
// For a command whose default policy is not sinks (attn: dense).
#define POLICY_OPTS_DEFAULT(po, dflt)                                                                    \
    {"--policy", OPT_STR, &(po).name, "KV cache policy: dense, window, sinks, recompute or strided (default " dflt ")", 0, 0, NULL}, \
    {"--sinks", OPT_INT, &(po).sinks, "S: sink tokens kept, for --policy sinks and strided (default 4)", 0, 65536, NULL}, \
    {"--window", OPT_INT, &(po).window, "W: recent tokens kept (or re-run by recompute); the cache holds S+W " \
     "(default 1020, or less to fit the trained context)", 1, 16777216, NULL},                      \
    {"--chunk", OPT_INT, &(po).chunk, "tokens per block when a long input is fed (default min(W, 256))", 0, 65536, NULL}, \
    {"--reference-prefill", OPT_FLAG, &(po).reference_prefill,                                          \
     "feed a long prompt as one dense pass, as the reference implementations do", 0, 0, NULL},           \
    {"--force", OPT_FLAG, &(po).force, "allow a cache larger than the trained context", 0, 0, NULL}, \
    {"--stride", OPT_INT, &(po).stride, "K, for --policy strided: half of W keeps every K-th older token (default 4)", 1, 65536, NULL}, \
    WEIGHTS_OPT((po).weights)

// window -1: 1020, or what fits the trained context
#define POLICY_DEFAULTS {.name = "sinks", .sinks = POLICY_PAPER_SINKS, .window = -1, .device = "cpu"}

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
int cmd_train(int argc, char **argv);
int cmd_kernels(int argc, char **argv);

#endif
