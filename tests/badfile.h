// badfile.h: what the bad-input tests share: writing and reading whole files, and the check
// that a parser refuses an input with a one-line error naming it.
#ifndef BADFILE_H
#define BADFILE_H

#include <stdint.h>

#include "testutil.h"

static inline void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert(fwrite(data, 1, n, f) == n);
    fclose(f);
}

// A malloc'ed copy of the whole file (n bytes, one zero byte spare so an empty file is not calloc(0)).
static inline uint8_t *slurp(const char *path, size_t *n) {
    MappedFile m;
    Error err = {{0}};
    ck_assert_msg(mapfile_open(&m, path, &err) == 0, "%s", err.msg);
    uint8_t *copy = calloc(m.size + 1, 1);
    if (m.size) memcpy(copy, m.data, m.size); // an empty file has no data pointer
    *n = m.size;
    mapfile_close(&m);
    return copy;
}

// The call must fail, with one line that contains `name`.
#define EXPECT_ERROR(call, err, name)                                                    \
    do {                                                                                 \
        (err).msg[0] = '\0';                                                             \
        ck_assert_msg((call) != 0, "accepted bad input: %s", #call);                     \
        ck_assert_msg(strstr((err).msg, (name)) != NULL, "error '%s' does not name '%s'", (err).msg, (name)); \
        ck_assert_msg(strchr((err).msg, '\n') == NULL, "error is not one line: %s", (err).msg); \
    } while (0)

#endif
