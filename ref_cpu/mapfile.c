#define _POSIX_C_SOURCE 200809L
#include "mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int mapfile_open(MappedFile *f, const char *path, Error *err) {
    memset(f, 0, sizeof *f);
    // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then turns it away
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(err, "%s: not a regular file", path);
    }
    f->size = (size_t)st.st_size;
    if (f->size == 0) { // mmap of 0 bytes fails; an empty file is simply empty
        close(fd);
        return 0;
    }
    void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return err_set(err, "%s: mmap failed: %s", path, strerror(errno));
    f->data = p;
    f->mapped = 1;
    return 0;
}

void mapfile_from_memory(MappedFile *f, const void *data, size_t size) {
    f->data = data;
    f->size = size;
    f->mapped = 0;
}

void mapfile_close(MappedFile *f) {
    if (f->mapped && f->data) munmap((void *)f->data, f->size);
    memset(f, 0, sizeof *f);
}

static char *read_all(FILE *fp, const char *path, size_t *len, Error *err) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        n += fread(buf + n, 1, cap - n - 1, fp);
        if (n < cap - 1) break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) { free(buf); buf = NULL; break; }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (!buf || bad) { free(buf); err_set(err, "%s: read failed", path); return NULL; }
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

char *read_text_file(const char *path, size_t *len, Error *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) { err_set(err, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    return read_all(fp, path, len, err);
}

char *read_regular_file(const char *path, size_t *len, Error *err) {
    int fd = open(path, O_RDONLY | O_NONBLOCK); // a FIFO must not block us: see mapfile_open
    if (fd < 0) { err_set(err, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        err_set(err, "%s: not a regular file", path);
        return NULL;
    }
    FILE *fp = fdopen(fd, "rb");
    if (!fp) { close(fd); err_set(err, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    return read_all(fp, path, len, err);
}
