// mapfile.h: read-only memory maps of whole files. Weight files are mapped, not read: the OS
// pages in what we touch, and a 100 MB model costs no copy until we dequantise it.
#ifndef MAPFILE_H
#define MAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct {
    const uint8_t *data; // [size] the file's bytes
    size_t size;
    int mapped;          // 1 if data came from mmap, 0 if it is a heap copy (or empty)
} MappedFile;

int mapfile_open(MappedFile *f, const char *path, Error *err);
// Wraps a memory buffer (no copy, not owned): lets fuzzers and tests feed parsers from memory.
void mapfile_from_memory(MappedFile *f, const void *data, size_t size);
void mapfile_close(MappedFile *f);

// Reads a whole (small) text file into a NUL-terminated heap string, e.g. a JSON config.
char *read_text_file(const char *path, size_t *len, Error *err);
// The same for files that must be regular (configs, tokenizers): a FIFO or a device is an error
// at once, instead of a read that blocks or never ends. read_text_file also takes pipes (stdin).
char *read_regular_file(const char *path, size_t *len, Error *err);

#endif
