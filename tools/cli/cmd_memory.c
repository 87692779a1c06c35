// sinks memory: stream many tokens under a policy and report the resident memory along the way.
// With sinks or window it stays flat; with dense it grows with every token until the run ends.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mapfile.h"

int cmd_memory(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *file = NULL;
    int tokens = 100000, threads = 0;
    PolicyOpts po = POLICY_DEFAULTS;
    Opt opts[] = {
        MODEL_OPT(model),
        TOKENIZER_OPT(tokenizer),
        {"--file", OPT_STR, &file, "text to stream, repeated if too short (required)", 0, 0, "-f"},
        {"--tokens", OPT_INT, &tokens, "tokens to stream (default 100000)", 1, 1000000000, NULL},
        THREADS_OPT(threads),
        POLICY_OPTS(po),
        DEVICE_OPT(po.device),
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    int pr = parse_opts(argc, argv, opts,
                        "usage: sinks memory --file TEXT [options]\n\n"
                        "Streams --tokens tokens through the model under a cache policy and prints the resident\n"
                        "memory (RSS) at 1K, 2K, 5K, 10K, 20K, 50K, 100K, ... tokens.");
    if (pr) return pr > 0 ? EXIT_OK : EXIT_USAGE;
    if (!file || tokens <= 0) {
        fprintf(stderr, "error: --file is required and --tokens must be > 0\n");
        return 2;
    }
    Loaded L;
    Policy pol;
    int lr = load_for_streaming(&L, &pol, model, tokenizer, &po, threads);
    if (lr) return lr;
    Error err = {{0}};
    TokenList ids = {0};
    Stream st;
    memset(&st, 0, sizeof st);
    float *logits = malloc((size_t)L.model.cfg.vocab_size * sizeof(float));
    int rc = 1;
    if (!logits || tokenize_file(&L.tok, file, 0, &ids, &err)) goto done;
    if (ids.n == 0) {
        err_set(&err, "%s: no tokens", file);
        goto done;
    }
    long rss0 = current_rss_kb();
    if (stream_open(&st, &L.model, &pol, tokens, po.device, &err)) goto done;
    char label[64];
    policy_label(label, sizeof label, &pol);
    printf("policy %s, %d tokens of %s (repeated as needed); RSS before the cache: %ld MB\n", label, tokens, strrchr(file, '/') ? strrchr(file, '/') + 1 : file, rss0 >> 10);
    if (gpu_stream_device_bytes(&st))
        printf("on %s: %zu MB of GPU memory held, allocated once\n", stream_device(&st), gpu_stream_device_bytes(&st) >> 20);
    if (st.def->bounded && !st.def->rerun)
        printf("cache: %d slots allocated once: S+W = %d+%d and room for a block of %d\n", st.capacity, pol.n_sink,
               pol.window, pol.chunk);
    else
        printf("cache: %d slots allocated once\n", st.capacity);
    printf("| tokens | RSS MB | tokens the model sees | tok/s since last row |\n|---|---|---|---|\n");
    static const long marks[] = {1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000};
    int next_mark = 0;
    double t0 = now_seconds();
    long last = 0;
    for (long i = 0; i < tokens; i++) {
        if (stream_feed(&st, &ids.ids[i % ids.n], 1, logits, 0, &err)) goto done;
        if (next_mark < 10 && i + 1 == marks[next_mark]) {
            double now = now_seconds();
            printf("| %ld | %ld | %d | %.1f |\n", i + 1, current_rss_kb() >> 10, stream_visible(&st), (i + 1 - last) / (now - t0));
            fflush(stdout);
            t0 = now;
            last = i + 1;
            next_mark++;
        }
    }
    printf("peak RSS %ld MB\n", peak_rss_kb() >> 10);
    rc = 0;
done:
    if (rc) fprintf(stderr, "error: %s\n", err.msg[0] ? err.msg : "out of memory");
    stream_free(&st);
    free(logits);
    tokenlist_free(&ids);
    loaded_free(&L);
    return rc;
}
