// error.h: one-line errors that travel up to main() instead of exit()ing deep inside a parser.
// Parsers must never exit: fuzzers and tests call them over and over on bad input.
#ifndef ERROR_H
#define ERROR_H

#define ERROR_LEN 512

typedef struct {
    char msg[ERROR_LEN]; // "file: what is wrong", empty when no error
} Error;

// Formats the message into err (if err is not NULL) and returns -1, so callers can write
// `return err_set(err, "%s: bad magic", path);`
int err_set(Error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
