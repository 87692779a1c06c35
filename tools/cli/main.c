// sinks: the one command line of the project. `sinks <command> --help` for each command.
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} Command;

static const Command COMMANDS[] = {
    {"generate", cmd_generate, "generate text from a prompt (chat template for instruct models)"},
    {"chat", cmd_chat, "multi-turn chat with one cache carried across turns (/reset, /stats)"},
    {"ppl", cmd_ppl, "stream a text through the model under a cache policy: perplexity by position"},
    {"memory", cmd_memory, "stream many tokens under a policy, reporting resident memory"},
    {"speed", cmd_speed, "per-token latency of every policy at several cache sizes (vs re-computation)"},
    {"streameval", cmd_streameval, "recall of facts d lines back under dense, window and sinks caches"},
    {"attn", cmd_attn, "attention maps of every layer and head, and sink scores, as PNG"},
    {"collapse", cmd_collapse, "window vs sinks around the first eviction: attention and loss, as PNG"},
    {"plot", cmd_plot, "a line chart of a CSV file, as PNG"},
    {"inspect", cmd_inspect, "show a model's configuration, tensors, parameter count and memory"},
    {"tokenize", cmd_tokenize, "print the token ids (and pieces) of a text"},
    {"bench", cmd_bench, "measure prefill/decode speed and the memory-bandwidth floor"},
    {"gpucheck", cmd_gpucheck, "the GPU model against the CPU: logits, perplexity, greedy tokens"},
    {NULL, NULL, NULL},
};

static void usage(void) {
    printf("usage: sinks <command> [options]\n\n"
           "StreamingLLM (attention sinks) in plain C: Llama and GPT-NeoX models on the CPU,\n"
           "and on an NVIDIA GPU with --device cuda.\n\ncommands:\n");
    for (const Command *c = COMMANDS; c->name; c++) printf("  %-10s %s\n", c->name, c->help);
    printf("\nThe default model is %s (`make model` fetches it);\n"
           "--model also takes a llama2.c .bin checkpoint or a Hugging Face directory.\n", DEFAULT_MODEL_HINT);
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage();
        return argc < 2 ? 1 : 0;
    }
    for (const Command *c = COMMANDS; c->name; c++)
        if (strcmp(argv[1], c->name) == 0) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "error: unknown command '%s' (see sinks --help)\n", argv[1]);
    return 1;
}
