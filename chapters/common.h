// common.h: what every chapter program needs: where the models are.
#ifndef CHAPTERS_COMMON_H
#define CHAPTERS_COMMON_H

#include <stdio.h>
#include <stdlib.h>

// ../shared (or $SINKS_SHARED)/models/stories260K/<file>
static inline const char *stories(const char *file) {
    static char buf[2][1024];
    static int k;
    const char *shared = getenv("SINKS_SHARED") ? getenv("SINKS_SHARED") : "../shared";
    char *b = buf[k++ % 2];
    snprintf(b, 1024, "%s/models/stories260K/%s", shared, file);
    return b;
}

// The default model, SmolLM2-135M-Instruct (`make model` fetches it).
static inline const char *default_model(void) {
    static char buf[1024];
    if (getenv("SINKS_MODEL")) return getenv("SINKS_MODEL");
    snprintf(buf, sizeof buf, "%s/.cache/streaming-sinks/SmolLM2-135M-Instruct.Q4_1.gguf", getenv("HOME") ? getenv("HOME") : ".");
    return buf;
}

#define CHECK(call, err)                                  \
    do {                                                  \
        if ((call) != 0) {                                \
            fprintf(stderr, "error: %s\n", (err).msg);    \
            return 1;                                     \
        }                                                 \
    } while (0)

#endif
