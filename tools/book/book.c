// book: builds the HTML book from chapters/NN-slug/chapter.md.
//
// A code fence whose info string names a marked region of a real source file, such as
//     ```c @ref_cpu/llama.c#llama_block
// is replaced by the lines between "ANCHOR: llama_block" and "END: llama_block" in that file,
// so the book shows the code that runs and cannot drift from it. The build fails on a missing
// file or marker, and on a marker that no chapter uses. Then every local link and image of the
// site is checked.
//
// usage: book [--out DIR] [--root DIR]     (defaults: book/site, .)
#define _POSIX_C_SOURCE 200809L
#include <cmark.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mapfile.h"

// Paths are bounded buffers; a truncated path simply fails to open, which is reported.
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define MAX_CHAPTERS 64
#define MAX_MARKERS 512

typedef struct {
    char dir[256];    // "04-llama"
    char title[256];  // the chapter's first heading
    char *html;       // rendered body
} Chapter;

typedef struct {
    char file[256];
    char name[64];
    int used;
} Marker;

static const char *root = ".";
static Marker markers[MAX_MARKERS];
static int n_markers, errors;

static void fail(const char *fmt, const char *a, const char *b, const char *c) {
    fprintf(stderr, "error: ");
    fprintf(stderr, fmt, a, b, c);
    fprintf(stderr, "\n");
    errors++;
}

static char *slurp(const char *path) {
    Error err = {{0}};
    char *s = read_text_file(path, NULL, &err);
    return s;
}

// Every "ANCHOR: name" in the source trees the book may quote.
static void scan_markers(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, dir);
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char rel[512], full[1024];
        snprintf(rel, sizeof rel, "%s/%s", dir, e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, rel);
        struct stat st;
        if (stat(full, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            scan_markers(rel);
            continue;
        }
        size_t n = strlen(e->d_name);
        int src = (n > 2 && (!strcmp(e->d_name + n - 2, ".c") || !strcmp(e->d_name + n - 2, ".h"))) ||
                  (n > 3 && !strcmp(e->d_name + n - 3, ".cu"));
        if (!src) continue;
        char *text = slurp(full);
        // a marker: a line comment, the word ANCHOR and a colon, then letters, digits or '_'
        for (char *p = text; p && (p = strstr(p, "// ANCHOR: ")); p++) {
            if (n_markers == MAX_MARKERS) break;
            Marker *m = &markers[n_markers];
            snprintf(m->file, sizeof m->file, "%s", rel);
            int k = 0;
            for (const char *q = p + 11; (isalnum((unsigned char)*q) || *q == '_') && k < 63; q++) m->name[k++] = *q;
            m->name[k] = '\0';
            if (k > 0) n_markers++;
        }
        free(text);
    }
    closedir(d);
}

// The lines strictly between "ANCHOR: name" and "END: name" of file (malloc'ed), or NULL.
static char *region(const char *file, const char *name) {
    char full[1024], open_tag[128], close_tag[128];
    snprintf(full, sizeof full, "%s/%s", root, file);
    char *text = slurp(full);
    if (!text) return NULL;
    snprintf(open_tag, sizeof open_tag, "ANCHOR: %s\n", name);
    snprintf(close_tag, sizeof close_tag, "END: %s\n", name);
    char *a = strstr(text, open_tag), *out = NULL;
    if (a) {
        a = strchr(a, '\n') + 1;
        char *b = strstr(a, close_tag);
        if (b) {
            while (b > a && b[-1] != '\n') b--; // back to the start of the END line
            out = strndup(a, (size_t)(b - a));
        }
    }
    free(text);
    return out;
}

static void mark_used(const char *file, const char *name) {
    for (int i = 0; i < n_markers; i++)
        if (!strcmp(markers[i].file, file) && !strcmp(markers[i].name, name)) markers[i].used = 1;
}

// Replaces every listing fence of the document by its source region, and every include fence
// by the Markdown file it names.
static void pull_listings(cmark_node *doc, const char *chapter) {
    struct {
        cmark_node *fence, *sub;
    } pending[64];
    int n_pending = 0;
    cmark_iter *it = cmark_iter_new(doc);
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE && n_pending < 64) {
        cmark_node *n = cmark_iter_get_node(it);
        if (ev != CMARK_EVENT_ENTER || cmark_node_get_type(n) != CMARK_NODE_CODE_BLOCK) continue;
        const char *info = cmark_node_get_fence_info(n);
        if (info && !strncmp(info, "include @", 9)) { // a generated Markdown file (a results table)
            char full[1024];
            snprintf(full, sizeof full, "%s/%s", root, info + 9);
            char *md = slurp(full);
            if (!md) {
                fail("%s: cannot include %s (run the make target that writes it)%s", chapter, info + 9, "");
                continue;
            }
            cmark_node *sub = cmark_parse_document(md, strlen(md), CMARK_OPT_DEFAULT);
            pending[n_pending].fence = n;
            pending[n_pending++].sub = sub;
            free(md);
            continue;
        }
        const char *at = info ? strstr(info, " @") : NULL;
        if (!at) continue;
        char lang[32] = "", file[256] = "", name[64] = "";
        snprintf(lang, sizeof lang, "%.*s", (int)(at - info), info);
        const char *hash = strchr(at + 2, '#');
        if (!hash) {
            fail("%s: listing '%s' has no #marker%s", chapter, info, "");
            continue;
        }
        snprintf(file, sizeof file, "%.*s", (int)(hash - at - 2), at + 2);
        snprintf(name, sizeof name, "%s", hash + 1);
        char *code = region(file, name);
        if (!code) {
            fail("%s: no region '%s' in %s (missing file or ANCHOR/END marker)", chapter, name, file);
            continue;
        }
        mark_used(file, name);
        cmark_node_set_literal(n, code);
        cmark_node_set_fence_info(n, lang);
        char caption[512];
        snprintf(caption, sizeof caption, "<div class=\"listing\">%s</div>", file);
        cmark_node *html = cmark_node_new(CMARK_NODE_HTML_BLOCK);
        cmark_node_set_literal(html, caption);
        cmark_node_insert_before(n, html);
        free(code);
    }
    cmark_iter_free(it);
    for (int i = 0; i < n_pending; i++) { // splice included documents in (after the walk)
        cmark_node *c;
        while ((c = cmark_node_first_child(pending[i].sub))) cmark_node_insert_before(pending[i].fence, c);
        cmark_node_free(pending[i].fence);
        cmark_node_free(pending[i].sub);
    }
}

static void first_heading(cmark_node *doc, char *out, size_t cap) {
    snprintf(out, cap, "Untitled");
    for (cmark_node *n = cmark_node_first_child(doc); n; n = cmark_node_next(n)) {
        if (cmark_node_get_type(n) != CMARK_NODE_HEADING) continue;
        cmark_node *t = cmark_node_first_child(n);
        if (t && cmark_node_get_literal(t)) snprintf(out, cap, "%s", cmark_node_get_literal(t));
        return;
    }
}

static int by_name(const void *a, const void *b) { return strcmp(((const Chapter *)a)->dir, ((const Chapter *)b)->dir); }

static void copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    if (in) fclose(in);
    if (out) fclose(out);
}

static void write_page(const char *out_dir, const Chapter *ch, int n, int i) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.html", out_dir, i < 0 ? "index" : ch[i].dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fail("cannot write %s%s%s", path, "", "");
        return;
    }
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
               "<title>%s</title><link rel=\"stylesheet\" href=\"style.css\"></head>\n<body>\n<nav class=\"toc\">"
               "<a class=\"home\" href=\"index.html\">Attention sinks, in C</a><ul>\n",
            i < 0 ? "Attention sinks, in C" : ch[i].title);
    for (int k = 0; k < n; k++)
        fprintf(f, "<li%s><a href=\"%s.html\">%s</a></li>\n", k == i ? " class=\"here\"" : "", ch[k].dir, ch[k].title);
    fprintf(f, "</ul></nav>\n<main>\n");
    if (i < 0) {
        char *intro = NULL;
        char ip[1024];
        snprintf(ip, sizeof ip, "%s/book/index.md", root);
        intro = slurp(ip);
        if (intro) {
            char *h = cmark_markdown_to_html(intro, strlen(intro), CMARK_OPT_UNSAFE);
            fputs(h, f);
            free(h);
            free(intro);
        }
        fprintf(f, "<h2>Chapters</h2><ul class=\"chapters\">\n");
        for (int k = 0; k < n; k++) fprintf(f, "<li><a href=\"%s.html\">%s</a></li>\n", ch[k].dir, ch[k].title);
        fprintf(f, "</ul>\n");
    } else {
        fputs(ch[i].html, f);
        fprintf(f, "<nav class=\"pager\">");
        if (i > 0) fprintf(f, "<a class=\"prev\" href=\"%s.html\">&larr; %s</a>", ch[i - 1].dir, ch[i - 1].title);
        if (i + 1 < n) fprintf(f, "<a class=\"next\" href=\"%s.html\">%s &rarr;</a>", ch[i + 1].dir, ch[i + 1].title);
        fprintf(f, "</nav>\n");
    }
    fprintf(f, "</main>\n</body></html>\n");
    fclose(f);
}

// Every href/src in the page that is not an absolute URL or an anchor must exist in the site.
static void check_links(const char *out_dir, const char *page) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, page);
    char *html = slurp(path);
    for (char *p = html; p && *p; p++) {
        int is_href = !strncmp(p, "href=\"", 6), is_src = !strncmp(p, "src=\"", 5);
        if (!is_href && !is_src) continue;
        char *v = p + (is_href ? 6 : 5), *end = strchr(v, '"');
        if (!end) break;
        char target[512];
        snprintf(target, sizeof target, "%.*s", (int)(end - v), v);
        char *hash = strchr(target, '#');
        if (hash) *hash = '\0';
        if (target[0] && !strstr(target, "://") && strncmp(target, "mailto:", 7)) {
            char full[1024];
            struct stat st;
            snprintf(full, sizeof full, "%s/%s", out_dir, target);
            if (stat(full, &st) != 0) fail("%s: broken %s '%s'", page, is_href ? "link" : "image", target);
        }
        p = end;
    }
    free(html);
}

int main(int argc, char **argv) {
    const char *out_dir = "book/site";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out_dir = argv[++i];
        else if (!strcmp(argv[i], "--root") && i + 1 < argc) root = argv[++i];
        else {
            fprintf(stderr, "usage: book [--out DIR] [--root DIR]\n");
            return 2;
        }
    }
    scan_markers("ref_cpu");
    scan_markers("tools");
    scan_markers("gpu");
    char chapters_dir[1024];
    snprintf(chapters_dir, sizeof chapters_dir, "%s/chapters", root);
    DIR *d = opendir(chapters_dir);
    if (!d) {
        fprintf(stderr, "error: %s: %s\n", chapters_dir, strerror(errno));
        return 1;
    }
    static Chapter ch[MAX_CHAPTERS];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_CHAPTERS)
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9') snprintf(ch[n++].dir, sizeof ch[0].dir, "%s", e->d_name);
    closedir(d);
    qsort(ch, (size_t)n, sizeof *ch, by_name);
    mkdir(out_dir, 0755);
    for (int i = 0; i < n; i++) {
        char md[1024];
        snprintf(md, sizeof md, "%s/chapters/%s/chapter.md", root, ch[i].dir);
        char *text = slurp(md);
        if (!text) {
            fail("%s: cannot read%s%s", md, "", "");
            continue;
        }
        cmark_node *doc = cmark_parse_document(text, strlen(text), CMARK_OPT_DEFAULT);
        first_heading(doc, ch[i].title, sizeof ch[i].title);
        pull_listings(doc, md);
        ch[i].html = cmark_render_html(doc, CMARK_OPT_UNSAFE);
        cmark_node_free(doc);
        free(text);
        // the chapter's pictures sit beside its text
        char cdir[1024];
        snprintf(cdir, sizeof cdir, "%s/chapters/%s", root, ch[i].dir);
        DIR *cd = opendir(cdir);
        struct dirent *f;
        while (cd && (f = readdir(cd))) {
            size_t l = strlen(f->d_name);
            if (l > 4 && !strcmp(f->d_name + l - 4, ".png")) {
                char from[2048], to[2048];
                snprintf(from, sizeof from, "%s/%s", cdir, f->d_name);
                snprintf(to, sizeof to, "%s/%s", out_dir, f->d_name);
                copy_file(from, to);
            }
        }
        if (cd) closedir(cd);
    }
    for (int i = 0; i < n_markers; i++)
        if (!markers[i].used) fail("marker '%s' in %s is used by no chapter%s", markers[i].name, markers[i].file, "");
    char css_from[1024], css_to[1024];
    snprintf(css_from, sizeof css_from, "%s/book/style.css", root);
    snprintf(css_to, sizeof css_to, "%s/style.css", out_dir);
    copy_file(css_from, css_to);
    write_page(out_dir, ch, n, -1);
    for (int i = 0; i < n; i++) write_page(out_dir, ch, n, i);
    check_links(out_dir, "index.html");
    for (int i = 0; i < n; i++) {
        char page[300];
        snprintf(page, sizeof page, "%s.html", ch[i].dir);
        check_links(out_dir, page);
        free(ch[i].html);
    }
    if (errors) {
        fprintf(stderr, "book: %d error(s)\n", errors);
        return 1;
    }
    printf("book: %d chapters, %d listings markers, written to %s/index.html\n", n, n_markers, out_dir);
    return 0;
}
