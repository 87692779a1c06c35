// sinks bench: prefill and decode speed beside the memory-bandwidth floor.
//
// Decoding one token reads every weight once (the tied head counted once, the embedding as one
// row) plus the KV cache. Dividing those bytes by the bandwidth this program measures gives the
// fastest decode the machine allows: the floor.
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Read bandwidth in GB/s: best of 5 sums over a buffer far larger than the caches.
static double measure_bandwidth(int threads, size_t bytes) {
    size_t n = bytes / sizeof(float);
    float *buf = malloc(n * sizeof(float));
    if (!buf) return 0;
#pragma omp parallel for num_threads(threads)
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 7);
    double best = 1e30, sink = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = now_seconds();
        float s = 0;
#pragma omp parallel for simd reduction(+ : s) num_threads(threads)
        for (size_t i = 0; i < n; i++) s += buf[i];
        double dt = now_seconds() - t0;
        sink += s;
        if (dt < best) best = dt;
    }
    free(buf);
    if (sink == -1) printf(" "); // keeps the sums from being optimised away
    return bytes / best / 1e9;
}

// Bytes one decode step reads: every weight once (a separate embedding table: one row), as the
// model holds them: fp32, or --weights native's blocks (which the GPU keeps too for Q4_1 and
// Q8_0; it holds other block types as fp32, not counted here).
static double step_weight_bytes(const Model *M) {
    const Config *c = &M->cfg;
    size_t emb_rows = c->tied_head ? 0 : (size_t)c->vocab_size;
    return (M->n_params - (M->w.tok_emb ? emb_rows * c->dim : 0)) * 4.0 + M->quant_bytes -
           (M->w.qtok_emb.data ? emb_rows * qmat_row_bytes(M->w.qtok_emb.type, c->dim) : 0);
}

// ANCHOR: bench_cuda
// --device cuda: the model on the GPU under sinks 4 + W, the prompt filling the cache so that
// every timed step attends over S + W keys and evicts one. Timed with the host clock around
// each whole step (tokens in, logits back), as a user of generate sees it; median of the steps.
static int bench_cuda(const Model *m, const char *path, int window, int prompt, int steps) {
    const Config *c = &m->cfg;
    Policy p = {.kind = POLICY_SINKS, .n_sink = POLICY_PAPER_SINKS, .window = window};
    Error err = {{0}};
    if (policy_validate(&p, c, 0, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 2;
    }
    Stream r;
    int V = c->vocab_size, n = prompt + steps, *toks = malloc((size_t)n * sizeof(int));
    float *logits = malloc((size_t)V * sizeof(float));
    double *dt = malloc((size_t)steps * sizeof(double)), med[2] = {0, 0}, prefill_s = 0;
    for (int i = 0; i < n; i++) toks[i] = (int)((i * 7919u + 13) % (unsigned)V);
    if (!toks || !logits || !dt || stream_open(&r, m, &p, n, "cuda", &err)) {
        fprintf(stderr, "error: %s\n", err.msg[0] ? err.msg : "out of memory");
        free(toks), free(logits), free(dt);
        return 1;
    }
    for (int graph = 1; graph >= 0; graph--) {
        gpu_stream_use_graph(&r, graph);
        stream_reset(&r);
        double t0 = now_seconds();
        if (stream_feed(&r, toks, prompt, logits, 0, &err)) break;
        if (graph) prefill_s = now_seconds() - t0;
        for (int s = 0; s < steps && !err.msg[0]; s++) {
            double a = now_seconds();
            if (stream_feed(&r, &toks[prompt + s], 1, logits, 0, &err)) break;
            dt[s] = now_seconds() - a;
        }
        qsort(dt + 1, (size_t)steps - 1, sizeof *dt, cmp_double); // step 0 captures the graph
        med[graph] = dt[1 + (steps - 1) / 2];
    }
    int rc = err.msg[0] != 0;
    if (rc) fprintf(stderr, "error: %s\n", err.msg);
    double bw = gpu_copy_bandwidth((size_t)1 << 30);
    double weights = step_weight_bytes(m);
    double kv = 2.0 * c->n_layers * r.len * c->n_kv_heads * c->head_dim * 4.0;
    double floor_s = (weights + kv) / (bw * 1e9);
    if (!rc) {
        printf("device: %s\n", stream_device(&r));
        printf("model: %s (%.1f M parameters, %s weights %.0f MB, cache %.1f MB at %d slots)\n", path,
               (m->n_params + m->n_quant) / 1e6, m->n_quant ? "native" : "fp32", weights / 1e6, kv / 1e6, r.len);
        printf("command: sinks bench --device cuda --model %s --window %d --prompt %d --steps %d\n", path, window,
               prompt, steps);
        printf("prefill: %d tokens in %.1f ms (%.0f tok/s)\n", prompt, prefill_s * 1e3, prompt / prefill_s);
        printf("copy bandwidth (read + write): %.0f GB/s; floor %.3f ms/token (%.0f tok/s)\n", bw, floor_s * 1e3,
               1 / floor_s);
        printf("| decode, sinks 4+%d | tok/s | ms/token | / floor |\n|---|---|---|---|\n", window);
        printf("| CUDA graph | %.0f | %.3f | %.2fx |\n", 1 / med[1], med[1] * 1e3, med[1] / floor_s);
        printf("| kernel launches | %.0f | %.3f | %.2fx |\n", 1 / med[0], med[0] * 1e3, med[0] / floor_s);
    }
    stream_free(&r);
    free(toks), free(logits), free(dt);
    return rc;
}
// END: bench_cuda

// --device cuda --like-llama-bench: llama-bench's two tests on the GPU, for `make bench-peer-gpu`:
// pp, a prefill of `prompt` tokens into an empty cache, and tg, `steps` tokens decoded one at a
// time from an empty cache (total time / steps), each a whole stream_feed (tokens in, logits
// back), under a dense cache, CUDA graph on. One JSON line, as the CPU's --json prints.
static int bench_cuda_like_peer(const Model *m, const char *path, int prompt, int steps) {
    int V = m->cfg.vocab_size, n = prompt > steps ? prompt : steps, *toks = malloc((size_t)n * sizeof(int));
    Policy p = {.kind = POLICY_DENSE};
    Error err = {{0}};
    Stream r;
    float *logits = malloc((size_t)V * sizeof(float));
    for (int i = 0; toks && i < n; i++) toks[i] = (int)((i * 7919u + 13) % (unsigned)V);
    if (!toks || !logits || policy_validate(&p, &m->cfg, 0, &err) || stream_open(&r, m, &p, n + 8, "cuda", &err)) {
        fprintf(stderr, "error: %s\n", err.msg[0] ? err.msg : "out of memory");
        free(toks), free(logits);
        return 1;
    }
    gpu_stream_use_graph(&r, 1);
    int rc = stream_feed(&r, toks, 8, logits, 0, &err); // warm-up
    stream_reset(&r);
    double t0 = now_seconds();
    if (!rc) rc = stream_feed(&r, toks, prompt, logits, 0, &err);
    double pp = now_seconds() - t0;
    stream_reset(&r);
    t0 = now_seconds();
    for (int s = 0; s < steps && !rc; s++) rc = stream_feed(&r, &toks[s], 1, logits, 0, &err);
    double tg = now_seconds() - t0;
    if (rc) fprintf(stderr, "error: %s\n", err.msg);
    cJSON *j = rc ? NULL : cJSON_CreateObject();
    if (j) {
        cJSON_AddStringToObject(j, "device", stream_device(&r));
        cJSON_AddStringToObject(j, "model", path);
        cJSON_AddStringToObject(j, "weights", m->n_quant ? "native" : "fp32");
        cJSON_AddNumberToObject(j, "prompt", prompt);
        cJSON_AddNumberToObject(j, "n_predict", steps);
        cJSON_AddNumberToObject(j, "prefill_tok_s", prompt / pp);
        cJSON_AddNumberToObject(j, "decode_tok_s", steps / tg);
        cJSON_AddNumberToObject(j, "peak_rss_mb", (double)(peak_rss_kb() >> 10));
        char *text = cJSON_PrintUnformatted(j);
        if (text) printf("%s\n", text);
        free(text);
        cJSON_Delete(j);
    }
    stream_free(&r);
    free(toks), free(logits);
    return rc != 0;
}

int cmd_bench(int argc, char **argv) {
    const char *model = NULL, *thread_list = "1,2", *device = "cpu", *weights = NULL;
    int prompt = 0, steps = 0, window = POLICY_PAPER_WINDOW, json = 0, like_peer = 0, depth = 0;
    Opt opts[] = {
        MODEL_OPT(model),
        {"--threads", OPT_LIST, &thread_list, "comma-separated thread counts (default 1,2)", 1, 1024, "-t"},
        {"--prompt", OPT_INT, &prompt, "prefill length in tokens (default 128; cuda: 4 + window, a full cache)", 1, 1048576, "-p"},
        {"--n-predict", OPT_INT, &steps, "decode steps timed after the prefill (default 64; cuda 512)", 2, 1048576, "-n --steps"},
        {"--window", OPT_INT, &window, "cuda: W, the cache is 4 sinks + W recent tokens, 4+W (default 1020)", 1, 1048576, NULL},
        {"--json", OPT_FLAG, &json, "print the results as one JSON object (CPU)", 0, 0, NULL},
        {"--like-llama-bench", OPT_FLAG, &like_peer, "decode from an empty cache and report -n / total time, as "
         "llama-bench's tg test does (its pp test is our prefill)", 0, 0, NULL},
        {"--depth", OPT_INT, &depth, "with --like-llama-bench (CPU): both tests start from a cache already holding N "
         "tokens, as llama-bench -d N (default 0)", 0, 1048576, "-d"},
        WEIGHTS_OPT(weights),
        DEVICE_OPT(device),
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    int pr = parse_opts(argc, argv, opts, "usage: sinks bench [options]\n\nPrefill and decode tokens/s, peak RSS, and the memory-bandwidth floor.");
    if (pr) return pr > 0 ? EXIT_OK : EXIT_USAGE;
    int cuda = strcmp(device, "cuda") == 0;
    if (!cuda && strcmp(device, "cpu") != 0) {
        fprintf(stderr, "error: --device: unknown device '%s' (cpu or cuda)\n", device);
        return 2;
    }
    if (prompt == 0) prompt = cuda ? 4 + window : 128;
    if (steps == 0) steps = cuda ? 512 : 64;
    if (prompt < 1 || steps < 2) {
        fprintf(stderr, "error: --prompt must be >= 1 and --steps >= 2\n");
        return 2;
    }
    const char *path = resolve_model(model);
    Loaded L;
    int lr = load_model_weights(&L, path, NULL, 0, weights_for(weights, device));
    if (lr) return lr == -2 ? EXIT_USAGE : EXIT_INPUT;
    if (depth && (cuda || !like_peer)) {
        fprintf(stderr, "error: --depth: only with --like-llama-bench on the CPU\n");
        loaded_free(&L);
        return 2;
    }
    if (cuda) {
        int rc = like_peer ? bench_cuda_like_peer(&L.model, path, prompt, steps)
                           : bench_cuda(&L.model, path, window, prompt, steps);
        loaded_free(&L);
        return rc;
    }
    const Config *c = &L.model.cfg;
    int capacity = depth + prompt + steps;
    if (capacity > c->ctx_len) {
        fprintf(stderr, "error: --depth + --prompt + --steps = %d exceeds the trained context %d\n", capacity, c->ctx_len);
        loaded_free(&L);
        return 2;
    }
    Error err = {{0}};
    KVCache cache;
    RunState st;
    float *logits = malloc((size_t)c->vocab_size * sizeof(float));
    int *tokens = malloc((size_t)capacity * sizeof(int));
    double *dt = malloc((size_t)steps * sizeof(double));
    if (!logits || !tokens || !dt || kvcache_init(&cache, c, capacity, &err) || runstate_init(&st, c, 64, capacity, &err)) {
        fprintf(stderr, "error: %s\n", err.msg[0] ? err.msg : "out of memory");
        return 1;
    }
    for (int i = 0; i < capacity; i++) tokens[i] = (int)((i * 7919u + 13) % (unsigned)c->vocab_size);
    // bytes one decode step reads: the weights, and K (rotated copy) and V at mid-run length
    double kv_len = (like_peer ? depth : prompt) + steps / 2.0;
    const Model *M = &L.model;
    double weight_bytes = step_weight_bytes(M);
    const char *kind = M->n_quant ? "native" : "fp32";
    double kv_bytes = 2.0 * c->n_layers * kv_len * c->n_kv_heads * c->head_dim * 4.0;
    if (!json) {
        printf("model: %s (%.1f M parameters, %s weights: %.0f MB read per token)\n", path,
               (M->n_params + M->n_quant) / 1e6, kind, weight_bytes / 1e6);
        printf("command: sinks bench --model %s --threads %s --prompt %d -n %d --weights %s%s", path, thread_list, prompt,
               steps, kind, like_peer ? " --like-llama-bench" : "");
        printf(depth ? " --depth %d\n" : "\n", depth);
        printf("| threads | prefill tok/s | decode tok/s | decode ms/token | read GB/s | floor ms/token | decode / floor |\n");
        printf("|---|---|---|---|---|---|---|\n");
    }
    // model runs first for every thread count, so the peak RSS is the model's, not the probe's
    int th_list[16], n_th = 0;
    double prefill_s[16], decode_med[16];
    char *list = strdup(thread_list);
    for (char *tk = strtok(list, ","); tk && n_th < 16; tk = strtok(NULL, ",")) {
        int th = atoi(tk);
        if (th <= 0) continue;
        omp_set_num_threads(th);
        kvcache_reset(&cache);
        model_forward(logits, &L.model, &cache, &st, tokens, 8, 0, &err); // warm-up
        kvcache_reset(&cache);
        if (depth) model_forward(logits, &L.model, &cache, &st, tokens + prompt + steps, depth, 0, &err); // context
        double t0 = now_seconds();
        model_forward(logits, &L.model, &cache, &st, tokens, prompt, 0, &err);
        prefill_s[n_th] = now_seconds() - t0;
        if (like_peer) { // llama-bench's tg: from an empty cache, or one holding `depth` tokens
            kvcache_reset(&cache);
            if (depth) model_forward(logits, &L.model, &cache, &st, tokens + prompt + steps, depth, 0, &err);
        }
        double d0 = now_seconds();
        for (int s = 0; s < steps; s++) {
            double a = now_seconds();
            model_forward(logits, &L.model, &cache, &st, &tokens[prompt + s], 1, 0, &err);
            dt[s] = now_seconds() - a;
        }
        double total = now_seconds() - d0;
        qsort(dt + 1, (size_t)steps - 1, sizeof *dt, cmp_double); // step 0 is warm-up
        decode_med[n_th] = like_peer ? total / steps : dt[1 + (steps - 1) / 2];
        th_list[n_th++] = th;
    }
    long model_rss = peak_rss_kb();
    cJSON *j = json ? cJSON_CreateObject() : NULL, *rows = j ? cJSON_AddArrayToObject(j, "runs") : NULL;
    for (int i = 0; i < n_th; i++) {
        double bw = measure_bandwidth(th_list[i], (size_t)1 << 30);
        double floor_s = (weight_bytes + kv_bytes) / (bw * 1e9), med = decode_med[i];
        if (j) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "threads", th_list[i]);
            cJSON_AddNumberToObject(o, "prefill_tok_s", prompt / prefill_s[i]);
            cJSON_AddNumberToObject(o, "decode_tok_s", 1.0 / med);
            cJSON_AddNumberToObject(o, "decode_ms_per_token", med * 1e3);
            cJSON_AddNumberToObject(o, "read_gb_s", bw);
            cJSON_AddNumberToObject(o, "floor_ms_per_token", floor_s * 1e3);
            cJSON_AddItemToArray(rows, o);
            continue;
        }
        printf("| %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.2fx |\n", th_list[i], prompt / prefill_s[i], 1.0 / med,
               med * 1e3, bw, floor_s * 1e3, med / floor_s);
    }
    if (j) {
        cJSON_AddStringToObject(j, "model", path);
        cJSON_AddNumberToObject(j, "parameters", (double)(M->n_params + M->n_quant));
        cJSON_AddStringToObject(j, "weights", kind);
        cJSON_AddNumberToObject(j, "prompt", prompt);
        cJSON_AddNumberToObject(j, "n_predict", steps);
        cJSON_AddNumberToObject(j, "depth", depth);
        cJSON_AddNumberToObject(j, "peak_rss_mb", model_rss >> 10);
        char *text = cJSON_PrintUnformatted(j);
        if (text) printf("%s\n", text);
        free(text);
        cJSON_Delete(j);
    } else {
        printf("peak RSS of the model runs: %ld MB (%s weights, KV cache, activations, mapped file)\n", model_rss >> 10, kind);
    }
    free(list);
    free(logits);
    free(tokens);
    free(dt);
    runstate_free(&st);
    kvcache_free(&cache);
    loaded_free(&L);
    return 0;
}
