// book: builds the HTML book from chapters/NN-slug/chapter.md, then appendices chapters/A1-slug/,
// with book/index.md as the front page and book/bibliography.md at the end. The conventions it
// implements are in the team's BOOK_CONVENTIONS.md; in short:
//
//   ```c @ref_cpu/llama.c#llama_block      the lines between "ANCHOR: llama_block" and
//   ```                                    "END: llama_block", captioned "Listing N.M" and linked
//                                          to a page of the whole source file (site/src/...)
//   ```include @data/results/x.md          a generated Markdown file (a results table)
//   | a | b | ... then "Table: text"        a numbered table "Table N.M. text" (cmark-gfm tables)
//   ![Caption.](file.png)                  alone in a paragraph: <figure>, "Figure N.M. Caption."
//   $x$, $$ x $$                           TeX, hidden from Markdown, typeset by KaTeX in the page
//   {{data/results/f.values:KEY}}          the value of the line "KEY = value" in that file
//
// The build fails on a missing file, marker, value, image or caption, on a marker that no chapter
// uses, on a pipe table that did not become a table, and on a broken link or #anchor.
// `book --check DIR` looks at a built site as a reader does (headless Chromium, see reader.c).
//
// usage: book [--out DIR] [--root DIR] [--katex DIR]    (defaults: book/site, ., Debian's KaTeX)
//        book --check DIR | --screenshots DIR OUTDIR
#define _POSIX_C_SOURCE 200809L
#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm-extension_api.h>
#include <cmark-gfm.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mapfile.h"
#include "reader.h"

// Paths are bounded buffers; a truncated path simply fails to open, which is reported.
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define MAX_PAGES 64
#define MAX_MARKERS 1024
#define MAX_SOURCES 256

// ---- small helpers --------------------------------------------------------------------------

typedef struct {
    char *s;
    size_t n, cap;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s) abort();
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}
static void buf_puts(Buf *b, const char *s) { buf_add(b, s, strlen(s)); }
static void buf_printf(Buf *b, const char *fmt, ...) {
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    buf_add(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
// HTML-escaped text (also safe inside a double-quoted attribute)
static void buf_esc(Buf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': buf_puts(b, "&amp;"); break;
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        default: buf_add(b, s + i, 1);
        }
    }
}

static const char *root = ".";
static int errors;

static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    errors++;
}

static char *slurp(const char *path) {
    Error err = {{0}};
    return read_text_file(path, NULL, &err);
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    int ok = in && out;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
    if (in) fclose(in);
    if (out && fclose(out) != 0) ok = 0;
    return ok;
}

// mkdir -p for the directories of path (not its last component)
static void make_parents(const char *path) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
}

// ---- pages ----------------------------------------------------------------------------------

typedef struct {
    char dir[128];   // "04-llama", "A1-plotting"; "" for the index and the bibliography
    char out[160];   // "04-llama.html"
    char label[16];  // "4", "A1": the N of Figure N.M
    char title[256]; // the first heading
    char *body;      // rendered HTML of the text
} Page;

static Page pages[MAX_PAGES];
static int n_pages;

// ---- listings: markers in the sources --------------------------------------------------------

typedef struct {
    char file[256];
    char name[64];
    int used;
} Marker;
static Marker markers[MAX_MARKERS];
static int n_markers;
static char quoted[MAX_SOURCES][256]; // source files the book quotes: each gets a page in src/
static int n_quoted;

static int is_source(const char *name) {
    size_t n = strlen(name);
    return (n > 2 && (!strcmp(name + n - 2, ".c") || !strcmp(name + n - 2, ".h"))) ||
           (n > 3 && !strcmp(name + n - 3, ".cu"));
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
        if (!is_source(e->d_name)) continue;
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
    for (int i = 0; i < n_quoted; i++)
        if (!strcmp(quoted[i], file)) return;
    if (n_quoted < MAX_SOURCES) snprintf(quoted[n_quoted++], sizeof quoted[0], "%s", file);
}

// ---- before Markdown: values and formulas ----------------------------------------------------

// Formulas are cut out of the Markdown before it is parsed (so '_', '*' and '|' in TeX survive)
// and stand in the text as ZZMATH<n>ZZ until the HTML is written.
typedef struct {
    char *tex;
    int display;
} Math;
static Math *maths;
static int n_maths, cap_maths;

static void add_placeholder(Buf *b, const char *tex, size_t n, int display) {
    if (n_maths == cap_maths) {
        cap_maths = cap_maths ? 2 * cap_maths : 64;
        maths = realloc(maths, (size_t)cap_maths * sizeof *maths);
        if (!maths) abort();
    }
    maths[n_maths].tex = strndup(tex, n);
    maths[n_maths].display = display;
    buf_printf(b, "ZZMATH%dZZ", n_maths++);
}

// The value of the line "KEY = value" in file, into out; 0 if the file or key is missing.
static int lookup_value(const char *file, const char *key, char *out, size_t cap, const char *where) {
    char full[1024];
    snprintf(full, sizeof full, "%s/%s", root, file);
    char *text = slurp(full);
    if (!text) {
        fail("%s: {{%s:%s}}: cannot read %s (run the make target that writes it)", where, file, key, file);
        return 0;
    }
    size_t kl = strlen(key);
    int found = 0;
    for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (strncmp(p, key, kl)) continue;
        p += kl;
        while (*p == ' ' || *p == '\t') p++;
        if (*p != '=') continue;
        p++;
        while (*p == ' ' || *p == '\t') p++;
        size_t n = strcspn(p, "\r\n");
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        snprintf(out, cap, "%.*s", (int)n, p);
        found = 1;
        break;
    }
    free(text);
    if (!found) fail("%s: {{%s:%s}}: no line '%s = ...' in %s", where, file, key, key, file);
    return found;
}

// Where the paragraph starting at or before p ends: at a blank line or the end of the text.
static const char *paragraph_end(const char *p) {
    for (; *p; p++) {
        if (*p != '\n') continue;
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t') q++;
        if (*q == '\n' || !*q) return p;
    }
    return p;
}

// Values and formulas in prose (lines outside fenced code; code spans are left alone).
static void prose(Buf *b, const char *s, const char *end, const char *where) {
    const char *p = s;
    while (p < end) {
        if (*p == '\\' && p + 1 < end) {
            if (p[1] == '$') buf_puts(b, "ZZDOLLARZZ"); // a literal dollar sign
            else buf_add(b, p, 2);
            p += 2;
            continue;
        }
        if (*p == '`') { // a code span: copied as it is, up to the closing run of equal length
            size_t k = 0;
            while (p + k < end && p[k] == '`') k++;
            const char *stop = paragraph_end(p), *q = p + k, *close = NULL;
            if (stop > end) stop = end;
            while (q < stop) {
                if (*q != '`') {
                    q++;
                    continue;
                }
                size_t j = 0;
                while (q + j < stop && q[j] == '`') j++;
                if (j == k) {
                    close = q + j;
                    break;
                }
                q += j;
            }
            const char *to = close ? close : p + k;
            buf_add(b, p, (size_t)(to - p));
            p = to;
            continue;
        }
        if (p[0] == '{' && p + 1 < end && p[1] == '{') {
            const char *close = strstr(p, "}}"), *nl = memchr(p, '\n', (size_t)(end - p));
            const char *colon = close ? memchr(p, ':', (size_t)(close - p)) : NULL;
            if (close && close < end && (!nl || close < nl) && colon) {
                char file[512], key[128], value[256];
                snprintf(file, sizeof file, "%.*s", (int)(colon - p - 2), p + 2);
                snprintf(key, sizeof key, "%.*s", (int)(close - colon - 1), colon + 1);
                if (lookup_value(file, key, value, sizeof value, where)) buf_puts(b, value);
                p = close + 2;
                continue;
            }
        }
        if (p[0] == '$' && p + 1 < end && p[1] == '$') { // display formula
            const char *stop = paragraph_end(p + 2);
            const char *close = strstr(p + 2, "$$");
            if (stop > end) stop = end;
            if (close && close < stop) {
                add_placeholder(b, p + 2, (size_t)(close - p - 2), 1);
                p = close + 2;
                continue;
            }
        } else if (p[0] == '$' && p + 1 < end && !isspace((unsigned char)p[1])) {
            // inline: no space after the opening '$', none before the closing one, and no digit
            // right after it (so "$5 and $6" stays text)
            const char *stop = paragraph_end(p), *q = p + 1, *close = NULL;
            if (stop > end) stop = end;
            for (; q < stop; q++) {
                if (*q == '\\' && q + 1 < stop) {
                    q++;
                    continue;
                }
                if (*q == '$') {
                    if (!isspace((unsigned char)q[-1]) && !isdigit((unsigned char)q[1])) close = q;
                    break;
                }
            }
            if (close) {
                add_placeholder(b, p + 1, (size_t)(close - p - 1), 0);
                p = close + 1;
                continue;
            }
        }
        buf_add(b, p, 1);
        p++;
    }
}

// The Markdown with values filled in and formulas hidden; fenced code is copied unchanged.
static char *preprocess(const char *text, const char *where) {
    Buf b = {0};
    buf_puts(&b, "");
    const char *p = text, *prose_start = text;
    int in_fence = 0;
    char fence_ch = 0;
    size_t fence_len = 0;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) + 1 : strlen(p);
        const char *q = p;
        while (*q == ' ' && q - p < 3) q++;
        size_t k = 0;
        while ((*q == '`' || *q == '~') && q[k] == *q) k++;
        if (!in_fence && k >= 3) { // an opening fence: the prose before it is done
            prose(&b, prose_start, p, where);
            in_fence = 1, fence_ch = *q, fence_len = k;
            buf_add(&b, p, len);
        } else if (in_fence) {
            buf_add(&b, p, len);
            const char *r = q + k;
            while (r < p + len && isspace((unsigned char)*r)) r++;
            if (k >= fence_len && *q == fence_ch && r == p + len) { // a closing fence: only blanks after it
                in_fence = 0;
                prose_start = p + len;
            }
        }
        p += len;
    }
    if (!in_fence) prose(&b, prose_start, p, where);
    return b.s;
}

// ---- Markdown -------------------------------------------------------------------------------

static cmark_llist *extensions; // table, strikethrough, autolink

static cmark_node *parse_markdown(const char *text, const char *where) {
    char *md = preprocess(text, where);
    cmark_parser *parser = cmark_parser_new(CMARK_OPT_DEFAULT);
    for (cmark_llist *l = extensions; l; l = l->next) cmark_parser_attach_syntax_extension(parser, l->data);
    cmark_parser_feed(parser, md, strlen(md));
    cmark_node *doc = cmark_parser_finish(parser);
    cmark_parser_free(parser);
    free(md);
    return doc;
}

static int is_table(cmark_node *n) { return n && !strcmp(cmark_node_get_type_string(n), "table"); }

// The text of a node's inlines, without markup.
static void plain_text(cmark_node *n, Buf *b) {
    for (cmark_node *c = cmark_node_first_child(n); c; c = cmark_node_next(c)) {
        cmark_node_type t = cmark_node_get_type(c);
        if (t == CMARK_NODE_TEXT || t == CMARK_NODE_CODE) buf_puts(b, cmark_node_get_literal(c));
        else if (t == CMARK_NODE_SOFTBREAK || t == CMARK_NODE_LINEBREAK) buf_puts(b, " ");
        else plain_text(c, b);
    }
}

static cmark_node *custom_block(const char *enter, const char *exit) {
    cmark_node *n = cmark_node_new(CMARK_NODE_CUSTOM_BLOCK);
    cmark_node_set_on_enter(n, enter);
    cmark_node_set_on_exit(n, exit);
    return n;
}

static cmark_node *html_inline(const char *html) {
    cmark_node *n = cmark_node_new(CMARK_NODE_HTML_INLINE);
    cmark_node_set_literal(n, html);
    return n;
}

// Every include fence of the document is replaced by the Markdown file it names.
static void pull_includes(cmark_node *doc, const char *where) {
    cmark_node *found[256];
    int n = 0;
    cmark_iter *it = cmark_iter_new(doc);
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE && n < 256) {
        cmark_node *c = cmark_iter_get_node(it);
        const char *info = cmark_node_get_type(c) == CMARK_NODE_CODE_BLOCK ? cmark_node_get_fence_info(c) : NULL;
        if (ev == CMARK_EVENT_ENTER && info && !strncmp(info, "include @", 9)) found[n++] = c;
    }
    cmark_iter_free(it);
    for (int i = 0; i < n; i++) {
        const char *file = cmark_node_get_fence_info(found[i]) + 9;
        char full[1024];
        snprintf(full, sizeof full, "%s/%s", root, file);
        char *md = slurp(full);
        if (!md) {
            fail("%s: cannot include %s (run the make target that writes it)", where, file);
            continue;
        }
        cmark_node *sub = parse_markdown(md, full), *c;
        while ((c = cmark_node_first_child(sub))) cmark_node_insert_before(found[i], c);
        cmark_node_free(found[i]);
        cmark_node_free(sub);
        free(md);
    }
}

// An image alone in its paragraph (trailing blanks allowed), or NULL.
static cmark_node *lone_image(cmark_node *para) {
    cmark_node *img = NULL;
    for (cmark_node *c = cmark_node_first_child(para); c; c = cmark_node_next(c)) {
        cmark_node_type t = cmark_node_get_type(c);
        if (t == CMARK_NODE_IMAGE && !img) img = c;
        else if (t == CMARK_NODE_SOFTBREAK) continue;
        else if (t == CMARK_NODE_TEXT && strspn(cmark_node_get_literal(c), " \t") == strlen(cmark_node_get_literal(c)))
            continue;
        else return NULL;
    }
    return img;
}

// A code block as HTML: one span per line, so that a long line wraps with a hanging indent
// (style.css) instead of running out of the column. With anchors, every marker line
// gets an id (the pages of whole source files).
static void code_html(Buf *b, const char *lang, const char *text, int anchors) {
    buf_puts(b, "<pre><code");
    if (lang && lang[0]) buf_printf(b, " class=\"language-%s\"", lang);
    buf_puts(b, ">");
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n"), indent = strspn(line, " ");
        const char *a = anchors ? strstr(line, "// ANCHOR: ") : NULL;
        char id[80] = "";
        if (a && a < line + len) { // the marker's line carries its name as id
            int k = snprintf(id, sizeof id, " id=\"");
            for (const char *q = a + 11; (isalnum((unsigned char)*q) || *q == '_') && k < 76; q++) id[k++] = *q;
            snprintf(id + k, sizeof id - (size_t)k, "\"");
        }
        if (indent > len) indent = len;
        buf_printf(b, "<span class=\"line\"%s style=\"--i:%zu\">", id, indent);
        buf_esc(b, line, len);
        buf_puts(b, "</span>");
        line += len + (line[len] == '\n');
    }
    buf_puts(b, "</code></pre>\n");
}

// Every code block is written by code_html.
static void code_blocks_to_html(cmark_node *doc) {
    cmark_node *found[1024];
    int n = 0;
    cmark_iter *it = cmark_iter_new(doc);
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE && n < 1024)
        if (ev == CMARK_EVENT_ENTER && cmark_node_get_type(cmark_iter_get_node(it)) == CMARK_NODE_CODE_BLOCK)
            found[n++] = cmark_iter_get_node(it);
    cmark_iter_free(it);
    for (int i = 0; i < n; i++) {
        char lang[64];
        const char *info = cmark_node_get_fence_info(found[i]);
        snprintf(lang, sizeof lang, "%.*s", (int)strcspn(info ? info : "", " "), info ? info : "");
        Buf b = {0};
        code_html(&b, lang, cmark_node_get_literal(found[i]), 0);
        cmark_node *html = cmark_node_new(CMARK_NODE_HTML_BLOCK);
        cmark_node_set_literal(html, b.s);
        cmark_node_insert_before(found[i], html);
        cmark_node_free(found[i]);
        free(b.s);
    }
}

static void make_listing(cmark_node *n, const Page *pg, int number, const char *where) {
    const char *info = cmark_node_get_fence_info(n);
    const char *at = strstr(info, " @");
    char lang[32] = "", file[256] = "", name[64] = "";
    snprintf(lang, sizeof lang, "%.*s", (int)(at - info), info);
    const char *hash = strchr(at + 2, '#');
    if (!hash) {
        fail("%s: listing '%s' has no #marker", where, info);
        return;
    }
    snprintf(file, sizeof file, "%.*s", (int)(hash - at - 2), at + 2);
    snprintf(name, sizeof name, "%s", hash + 1);
    char *code = region(file, name);
    if (!code) {
        fail("%s: no region '%s' in %s (missing file or ANCHOR/END marker)", where, name, file);
        return;
    }
    mark_used(file, name);
    cmark_node_set_literal(n, code);
    cmark_node_set_fence_info(n, lang);
    free(code);
    Buf enter = {0};
    buf_printf(&enter,
               "<figure class=\"listing\" id=\"listing-%s-%d\"><figcaption><span class=\"num\">Listing %s.%d</span> "
               "&mdash; <a href=\"src/%s.html#%s\"><code>%s#%s</code></a></figcaption>",
               pg->label, number, pg->label, number, file, name, file, name);
    cmark_node *fig = custom_block(enter.s, "</figure>");
    free(enter.s);
    cmark_node_insert_before(n, fig);
    cmark_node_append_child(fig, n);
}

static void make_figure(cmark_node *para, cmark_node *img, const Page *pg, int number, const char *where) {
    const char *url = cmark_node_get_url(img);
    Buf alt = {0}, src = {0}, enter = {0};
    buf_puts(&alt, "");
    plain_text(img, &alt);
    if (strspn(alt.s, " \t") == strlen(alt.s)) fail("%s: figure %s has no caption (write ![Caption.](file))", where, url);
    int local = !strstr(url, "://") && url[0] != '/';
    if (local && pg->dir[0]) buf_printf(&src, "%s/", pg->dir); // the chapter's pictures go to site/<dir>/
    buf_puts(&src, url);
    if (local) {
        char full[1024];
        snprintf(full, sizeof full, "%s/chapters/%s/%s", root, pg->dir, url);
        if (!pg->dir[0]) fail("%s: image %s: only chapters have pictures", where, url);
        else if (!file_exists(full)) fail("%s: missing image %s", where, url);
    }
    buf_printf(&enter, "<figure id=\"figure-%s-%d\"><img src=\"", pg->label, number);
    buf_esc(&enter, src.s, src.n);
    buf_puts(&enter, "\" alt=\"");
    buf_esc(&enter, alt.s, alt.n);
    buf_puts(&enter, "\"><figcaption>");
    cmark_node *fig = custom_block(enter.s, "</figcaption></figure>");
    cmark_node *cap = cmark_node_new(CMARK_NODE_PARAGRAPH), *c;
    char num[64];
    snprintf(num, sizeof num, "<span class=\"num\">Figure %s.%d.</span> ", pg->label, number);
    cmark_node_append_child(cap, html_inline(num));
    while ((c = cmark_node_first_child(img))) cmark_node_append_child(cap, c);
    cmark_node_append_child(fig, cap);
    cmark_node_insert_before(para, fig);
    cmark_node_free(para);
    free(alt.s), free(src.s), free(enter.s);
}

static void make_table(cmark_node *table, cmark_node *caption, const Page *pg, int number) {
    cmark_node *first = caption ? cmark_node_first_child(caption) : NULL;
    char enter[256] = "<div class=\"table-wrap\">";
    if (caption) {
        snprintf(enter, sizeof enter, "<figure class=\"table\" id=\"table-%s-%d\"><figcaption>", pg->label, number);
        char *rest = strdup(cmark_node_get_literal(first) + 7); // drop "Table: "
        cmark_node_set_literal(first, rest);
        free(rest);
        char num[64];
        snprintf(num, sizeof num, "<span class=\"num\">Table %s.%d.</span> ", pg->label, number);
        cmark_node_insert_before(first, html_inline(num));
    }
    cmark_node *outer = custom_block(enter, caption ? "</figure>" : "</div>");
    cmark_node_insert_before(table, outer);
    if (caption) {
        cmark_node *cap = custom_block("", "</figcaption>"), *wrap = custom_block("<div class=\"table-wrap\">", "</div>");
        cmark_node_append_child(cap, caption);
        cmark_node_append_child(outer, cap);
        cmark_node_append_child(outer, wrap);
        cmark_node_append_child(wrap, table);
    } else {
        cmark_node_append_child(outer, table);
    }
}

// Listings, figures and tables get their numbers and captions.
static void number_things(cmark_node *doc, const Page *pg, const char *where) {
    int cap = 1024, n = 0;
    cmark_node **nodes = malloc((size_t)cap * sizeof *nodes);
    cmark_iter *it = cmark_iter_new(doc);
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *c = cmark_iter_get_node(it);
        cmark_node_type t = cmark_node_get_type(c);
        if (ev != CMARK_EVENT_ENTER) continue;
        if (t == CMARK_NODE_CODE_BLOCK || t == CMARK_NODE_PARAGRAPH || is_table(c)) {
            if (n == cap) nodes = realloc(nodes, (size_t)(cap *= 2) * sizeof *nodes);
            nodes[n++] = c;
        }
    }
    cmark_iter_free(it);
    int n_listings = 0, n_figures = 0, n_tables = 0;
    for (int i = 0; i < n; i++) {
        cmark_node *c = nodes[i];
        if (cmark_node_get_type(c) == CMARK_NODE_CODE_BLOCK) {
            const char *info = cmark_node_get_fence_info(c);
            if (info && strstr(info, " @")) make_listing(c, pg, ++n_listings, where);
        } else if (cmark_node_get_type(c) == CMARK_NODE_PARAGRAPH) {
            cmark_node *img = lone_image(c), *first = cmark_node_first_child(c);
            if (img) {
                make_figure(c, img, pg, ++n_figures, where);
                nodes[i] = NULL; // freed
            } else if (first && cmark_node_get_type(first) == CMARK_NODE_TEXT &&
                       !strncmp(cmark_node_get_literal(first), "Table: ", 7)) {
                cmark_node *prev = cmark_node_previous(c);
                if (!is_table(prev)) {
                    fail("%s: 'Table: %.40s' is not directly after a table", where, cmark_node_get_literal(first) + 7);
                    continue;
                }
                cmark_node_set_user_data(prev, c);
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (is_table(nodes[i])) {
            cmark_node *caption = cmark_node_get_user_data(nodes[i]);
            make_table(nodes[i], caption, pg, caption ? ++n_tables : 0);
        }
    free(nodes);
    // an image anywhere else is a figure without a caption
    it = cmark_iter_new(doc);
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE)
        if (ev == CMARK_EVENT_ENTER && cmark_node_get_type(cmark_iter_get_node(it)) == CMARK_NODE_IMAGE)
            fail("%s: image %s is not alone in its paragraph, so it is no captioned figure", where,
                 cmark_node_get_url(cmark_iter_get_node(it)));
    cmark_iter_free(it);
}

static void first_heading(cmark_node *doc, char *out, size_t cap) {
    snprintf(out, cap, "Untitled");
    for (cmark_node *n = cmark_node_first_child(doc); n; n = cmark_node_next(n)) {
        if (cmark_node_get_type(n) != CMARK_NODE_HEADING) continue;
        Buf b = {0};
        buf_puts(&b, "");
        plain_text(n, &b);
        // a formula in the title stands as its TeX (the title goes into <title> and the contents)
        size_t k = 0;
        for (const char *p = b.s; *p && k + 1 < cap;) {
            int m;
            const char *z = !strncmp(p, "ZZMATH", 6) && sscanf(p + 6, "%d", &m) == 1 && m >= 0 && m < n_maths
                                ? strstr(p + 6, "ZZ")
                                : NULL;
            if (z) {
                k += (size_t)snprintf(out + k, cap - k, "%s", maths[m].tex);
                if (k >= cap) k = cap - 1;
                p = z + 2;
            } else out[k++] = *p++;
        }
        out[k] = '\0';
        free(b.s);
        return;
    }
}

// Reads, expands, numbers and renders one Markdown file into pg.
static int render_page(Page *pg, const char *md_path) {
    char *text = slurp(md_path);
    if (!text) {
        fail("%s: cannot read", md_path);
        return 0;
    }
    cmark_node *doc = parse_markdown(text, md_path);
    first_heading(doc, pg->title, sizeof pg->title);
    pull_includes(doc, md_path);
    number_things(doc, pg, md_path);
    code_blocks_to_html(doc);
    pg->body = cmark_render_html(doc, CMARK_OPT_UNSAFE, extensions);
    cmark_node_free(doc);
    free(text);
    return 1;
}

// ---- after Markdown: formulas, heading anchors, checks ---------------------------------------

// Puts the formulas back (as <span class="math"> for KaTeX; as plain TeX inside a tag's
// attribute), gives headings ids, and reports pipe tables that did not become tables.
static char *finish_html(const char *html, const char *page) {
    Buf b = {0};
    buf_puts(&b, "");
    int in_tag = 0;
    char ids[256][96];
    int n_ids = 0;
    for (const char *p = html; *p;) {
        int n;
        if (!strncmp(p, "ZZMATH", 6) && sscanf(p + 6, "%d", &n) == 1 && n >= 0 && n < n_maths) {
            const char *q = p + 6;
            while (isdigit((unsigned char)*q)) q++;
            if (!strncmp(q, "ZZ", 2)) {
                q += 2;
                const Math *m = &maths[n];
                if (in_tag) {
                    buf_esc(&b, m->tex, strlen(m->tex));
                } else if (m->display && b.n >= 3 && !strcmp(b.s + b.n - 3, "<p>") && !strncmp(q, "</p>", 4)) {
                    b.n -= 3; // a display formula alone in its paragraph becomes a block
                    buf_puts(&b, "<div class=\"math display\">");
                    buf_esc(&b, m->tex, strlen(m->tex));
                    buf_puts(&b, "</div>");
                    q += 4;
                } else {
                    buf_puts(&b, m->display ? "<span class=\"math display\">" : "<span class=\"math\">");
                    buf_esc(&b, m->tex, strlen(m->tex));
                    buf_puts(&b, "</span>");
                }
                p = q;
                continue;
            }
        }
        if (!strncmp(p, "ZZDOLLARZZ", 10)) {
            buf_puts(&b, in_tag ? "$" : "<span class=\"dollar\">$</span>");
            p += 10;
            continue;
        }
        if (!strncmp(p, "<p>|", 4)) {
            size_t len = strcspn(p + 3, "\n");
            fail("%s: a pipe table did not become a table (check its delimiter row): %.*s", page,
                 (int)(len < 60 ? len : 60), p + 3);
        }
        if (p[0] == '<' && p[1] == 'h' && p[2] >= '1' && p[2] <= '6' && p[3] == '>') {
            // the slug of the heading's text: lower case letters and digits, '-' between words
            char close[8] = "</h?>", slug[96];
            close[3] = p[2];
            const char *end = strstr(p, close);
            size_t k = 0;
            int tag = 0, dash = 0;
            for (const char *q = p + 4; end && q < end && k < sizeof slug - 8; q++) {
                if (!strncmp(q, "ZZMATH", 6)) { // a formula in a heading: its TeX does not go in the id
                    const char *z = strstr(q + 6, "ZZ");
                    if (z && z < end) q = z + 1;
                    dash = 1;
                    continue;
                }
                if (*q == '<') tag = 1;
                else if (*q == '>') tag = 0;
                else if (!tag && isalnum((unsigned char)*q)) {
                    if (dash && k) slug[k++] = '-';
                    slug[k++] = (char)tolower((unsigned char)*q), dash = 0;
                } else if (!tag && *q != '&' && *q != ';') dash = 1;
            }
            slug[k] = '\0';
            if (!k) snprintf(slug, sizeof slug, "section");
            size_t base = strlen(slug);
            for (int copy = 2, clash = 1; clash; copy++) { // a repeated heading gets -2, -3, ...
                clash = 0;
                for (int i = 0; i < n_ids; i++) clash |= !strcmp(ids[i], slug);
                if (clash) snprintf(slug + base, 8, "-%d", copy);
            }
            if (n_ids < 256) snprintf(ids[n_ids++], sizeof ids[0], "%s", slug);
            buf_printf(&b, "<h%c id=\"%s\">", p[2], slug);
            p += 4;
            continue;
        }
        if (*p == '<') in_tag = 1;
        else if (*p == '>') in_tag = 0;
        buf_add(&b, p, 1);
        p++;
    }
    return b.s;
}

// ---- writing the site -----------------------------------------------------------------------

static const char *book_title = "Attention sinks, in C";

static void nav_link(Buf *b, const Page *pg, int here) {
    buf_printf(b, "<li%s><a href=\"%s\">", here ? " class=\"here\"" : "", pg->out);
    buf_esc(b, pg->title, strlen(pg->title));
    buf_puts(b, "</a></li>\n");
}

static void write_page(const char *out_dir, int i) {
    const Page *pg = &pages[i];
    int math = strstr(pg->body, "ZZMATH") != NULL;
    Buf b = {0};
    buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    buf_esc(&b, pg->title, strlen(pg->title));
    buf_puts(&b, "</title>\n<link rel=\"stylesheet\" href=\"style.css\">\n");
    if (math)
        buf_puts(&b, "<link rel=\"stylesheet\" href=\"katex/katex.min.css\">\n"
                     "<script defer src=\"katex/katex.min.js\"></script>\n");
    buf_puts(&b, "<script defer src=\"book.js\"></script>\n</head>\n<body>\n<nav class=\"toc\">");
    buf_printf(&b, "<a class=\"home\" href=\"index.html\">%s</a>\n<ul>\n", book_title);
    int appendix_seen = 0;
    for (int k = 1; k < n_pages; k++) {
        if (isalpha((unsigned char)pages[k].dir[0]) && !appendix_seen) {
            buf_puts(&b, "</ul><p class=\"part\">Appendices</p><ul>\n");
            appendix_seen = 1;
        }
        if (!pages[k].dir[0]) buf_puts(&b, "</ul><ul class=\"back\">\n");
        nav_link(&b, &pages[k], k == i);
    }
    buf_puts(&b, "</ul></nav>\n<main>\n");
    Buf pager = {0};
    buf_puts(&pager, "<nav class=\"pager\">");
    if (i > 0) {
        buf_printf(&pager, "<a class=\"prev\" href=\"%s\">&larr; ", pages[i - 1].out);
        buf_esc(&pager, pages[i - 1].title, strlen(pages[i - 1].title));
        buf_puts(&pager, "</a>");
    } else buf_puts(&pager, "<span></span>");
    if (i + 1 < n_pages) {
        buf_printf(&pager, "<a class=\"next\" href=\"%s\">", pages[i + 1].out);
        buf_esc(&pager, pages[i + 1].title, strlen(pages[i + 1].title));
        buf_puts(&pager, " &rarr;</a>");
    }
    buf_puts(&pager, "</nav>\n");
    buf_puts(&b, pager.s);
    buf_puts(&b, pg->body);
    if (i == 0) { // the front page ends with the table of contents
        buf_puts(&b, "<h2>Contents</h2>\n<ul class=\"contents\">\n");
        int appendix = 0;
        for (int k = 1; k < n_pages; k++) {
            if (isalpha((unsigned char)pages[k].dir[0]) && !appendix) {
                buf_puts(&b, "</ul>\n<h3>Appendices</h3>\n<ul class=\"contents\">\n");
                appendix = 1;
            }
            if (!pages[k].dir[0]) buf_puts(&b, "</ul>\n<ul class=\"contents back\">\n");
            nav_link(&b, &pages[k], 0);
        }
        buf_puts(&b, "</ul>\n");
    }
    buf_puts(&b, pager.s);
    buf_puts(&b, "</main>\n</body></html>\n");
    char *html = finish_html(b.s, pg->out);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, pg->out);
    FILE *f = fopen(path, "w");
    if (!f || fputs(html, f) < 0 || fclose(f) != 0) fail("cannot write %s", path);
    free(html), free(b.s), free(pager.s);
}

// A page for each quoted source file, src/<path>.html, with an anchor at every marker.
static void write_source_page(const char *out_dir, const char *file) {
    char full[1024], path[1024];
    snprintf(full, sizeof full, "%s/%s", root, file);
    char *text = slurp(full);
    if (!text) return;
    snprintf(path, sizeof path, "%s/src/%s.html", out_dir, file);
    make_parents(path);
    char up[256] = "../";
    for (const char *s = file; *s; s++)
        if (*s == '/') strncat(up, "../", sizeof up - strlen(up) - 1);
    Buf b = {0};
    buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title>\n"
                   "<link rel=\"stylesheet\" href=\"%sstyle.css\"></head>\n<body class=\"source\"><main>\n"
                   "<p><a href=\"%sindex.html\">%s</a></p>\n<h1><code>%s</code></h1>\n",
               file, up, up, book_title, file);
    code_html(&b, "c", text, 1);
    buf_puts(&b, "</main></body></html>\n");
    FILE *f = fopen(path, "w");
    if (!f || fputs(b.s, f) < 0 || fclose(f) != 0) fail("cannot write %s", path);
    free(b.s);
    free(text);
}

// KaTeX (Debian's libjs-katex and fonts-katex) into out/katex/, for pages with formulas.
static void copy_katex(const char *katex_dir, const char *out_dir) {
    char from[1024], to[1024];
    snprintf(to, sizeof to, "%s/katex/fonts/x", out_dir);
    make_parents(to);
    const char *files[] = {"katex.min.js", "katex.min.css"};
    for (int i = 0; i < 2; i++) {
        snprintf(from, sizeof from, "%s/%s", katex_dir, files[i]);
        snprintf(to, sizeof to, "%s/katex/%s", out_dir, files[i]);
        if (!copy_file(from, to)) {
            fail("the book has formulas but %s is missing: install Debian's libjs-katex and fonts-katex "
                 "(tools/install-deps.sh) or pass --katex DIR",
                 from);
            return;
        }
    }
    snprintf(from, sizeof from, "%s/fonts", katex_dir);
    DIR *d = opendir(from);
    struct dirent *e;
    int fonts = 0;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 6, ".woff2")) continue;
        char f1[2048], f2[2048];
        snprintf(f1, sizeof f1, "%s/%s", from, e->d_name);
        snprintf(f2, sizeof f2, "%s/katex/fonts/%s", out_dir, e->d_name);
        fonts += copy_file(f1, f2);
    }
    if (d) closedir(d);
    if (!fonts) fail("no KaTeX fonts (*.woff2) in %s: install Debian's fonts-katex", from);
}

// The pictures of a chapter go to out/<chapter dir>/.
static void copy_images(const char *out_dir, const char *dir) {
    char cdir[1024], odir[1024];
    snprintf(cdir, sizeof cdir, "%s/chapters/%s", root, dir);
    snprintf(odir, sizeof odir, "%s/%s", out_dir, dir);
    mkdir(odir, 0755);
    DIR *cd = opendir(cdir);
    struct dirent *f;
    while (cd && (f = readdir(cd))) {
        size_t l = strlen(f->d_name);
        const char *ext = l > 4 ? f->d_name + l - 4 : "";
        if (strcmp(ext, ".png") && strcmp(ext, ".svg") && strcmp(ext, ".jpg")) continue;
        char from[2048], to[2048];
        snprintf(from, sizeof from, "%s/%s", cdir, f->d_name);
        snprintf(to, sizeof to, "%s/%s", odir, f->d_name);
        if (!copy_file(from, to)) fail("cannot copy %s to %s", from, to);
    }
    if (cd) closedir(cd);
}

// ---- the link checker -----------------------------------------------------------------------

// Every local href/src of a page must name a file of the site, and its #fragment an id there.
static void check_links(const char *out_dir, const char *page) {
    char path[1024], base[512];
    snprintf(path, sizeof path, "%s/%s", out_dir, page);
    snprintf(base, sizeof base, "%s", page);
    char *slash = strrchr(base, '/');
    if (slash) slash[1] = '\0';
    else base[0] = '\0';
    char *html = slurp(path);
    for (char *p = html; p && *p; p++) {
        int is_href = !strncmp(p, " href=\"", 7), is_src = !strncmp(p, " src=\"", 6);
        if (!is_href && !is_src) continue;
        char *v = p + (is_href ? 7 : 6), *end = strchr(v, '"');
        if (!end) break;
        char target[512], frag[256] = "";
        snprintf(target, sizeof target, "%.*s", (int)(end - v), v);
        p = end;
        if (strstr(target, "://") || !strncmp(target, "mailto:", 7)) continue;
        char *hash = strchr(target, '#');
        if (hash) {
            snprintf(frag, sizeof frag, "%s", hash + 1);
            *hash = '\0';
        }
        char full[1024];
        snprintf(full, sizeof full, "%s/%s%s", out_dir, target[0] ? base : "", target[0] ? target : page);
        if (!file_exists(full)) {
            fail("%s: broken %s '%s'", page, is_href ? "link" : "image or script", target);
            continue;
        }
        if (!frag[0]) continue;
        char *doc = slurp(full), id[300];
        snprintf(id, sizeof id, "id=\"%s\"", frag);
        if (!doc || !strstr(doc, id)) fail("%s: broken anchor '%s#%s' (no id=\"%s\" there)", page, target, frag, frag);
        free(doc);
    }
    free(html);
}

// ---- main -----------------------------------------------------------------------------------

static int by_dir(const void *a, const void *b) {
    const Page *x = a, *y = b;
    int ax = isalpha((unsigned char)x->dir[0]), ay = isalpha((unsigned char)y->dir[0]);
    if (ax != ay) return ax - ay; // numbered chapters first, then the appendices
    return strcmp(x->dir, y->dir);
}

static int usage(void) {
    fprintf(stderr, "usage: book [--out DIR] [--root DIR] [--katex DIR]\n"
                    "       book --check SITE_DIR               (the reader check, headless Chromium)\n"
                    "       book --screenshots SITE_DIR OUT_DIR (every page at full height, 1280 px wide)\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *out_dir = "book/site", *katex_dir = "/usr/share/javascript/katex";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out_dir = argv[++i];
        else if (!strcmp(argv[i], "--root") && i + 1 < argc) root = argv[++i];
        else if (!strcmp(argv[i], "--katex") && i + 1 < argc) katex_dir = argv[++i];
        else if (!strcmp(argv[i], "--check") && i + 1 == argc - 1) return book_check_site(argv[i + 1]) == 0 ? 0 : 1;
        else if (!strcmp(argv[i], "--screenshots") && i + 2 == argc - 1)
            return book_screenshots(argv[i + 1], argv[i + 2]) == 0 ? 0 : 1;
        else return usage();
    }
    cmark_gfm_core_extensions_ensure_registered();
    const char *ext_names[] = {"table", "strikethrough", "autolink"};
    for (int i = 0; i < 3; i++)
        extensions = cmark_llist_append(cmark_get_default_mem_allocator(), extensions, cmark_find_syntax_extension(ext_names[i]));
    scan_markers("ref_cpu");
    scan_markers("tools");
    scan_markers("gpu");
    scan_markers("chapters");

    char chapters_dir[1024];
    snprintf(chapters_dir, sizeof chapters_dir, "%s/chapters", root);
    DIR *d = opendir(chapters_dir);
    if (!d) {
        fprintf(stderr, "error: %s: %s\n", chapters_dir, strerror(errno));
        return 1;
    }
    // pages: the index, the chapters (NN-slug), the appendices (A1-slug), the bibliography
    n_pages = 1;
    snprintf(pages[0].out, sizeof pages[0].out, "index.html");
    struct dirent *e;
    while ((e = readdir(d)) && n_pages < MAX_PAGES - 1) {
        const char *s = e->d_name;
        int numbered = isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) && s[2] == '-';
        int appendix = s[0] >= 'A' && s[0] <= 'Z' && isdigit((unsigned char)s[1]) && s[2] == '-';
        if (!numbered && !appendix) continue;
        Page *pg = &pages[n_pages++];
        snprintf(pg->dir, sizeof pg->dir, "%s", s);
        snprintf(pg->out, sizeof pg->out, "%s.html", s);
        snprintf(pg->label, sizeof pg->label, "%.2s", numbered && s[0] == '0' ? s + 1 : s);
        if (numbered && s[0] == '0') pg->label[1] = '\0';
    }
    closedir(d);
    qsort(pages + 1, (size_t)(n_pages - 1), sizeof *pages, by_dir);
    char bib[1024];
    snprintf(bib, sizeof bib, "%s/book/bibliography.md", root);
    int have_bib = file_exists(bib);
    if (have_bib) snprintf(pages[n_pages++].out, sizeof pages[0].out, "bibliography.html");

    mkdir(out_dir, 0755);
    for (int i = 0; i < n_pages; i++) {
        Page *pg = &pages[i];
        char md[1024];
        if (i == 0) snprintf(md, sizeof md, "%s/book/index.md", root);
        else if (!pg->dir[0]) snprintf(md, sizeof md, "%s", bib);
        else snprintf(md, sizeof md, "%s/chapters/%s/chapter.md", root, pg->dir);
        if (i == 0 && !file_exists(md)) {
            pg->body = strdup("");
            snprintf(pg->title, sizeof pg->title, "%s", book_title);
            continue;
        }
        if (!render_page(pg, md)) { // reported; the contents still name it
            pg->body = strdup("");
            memcpy(pg->title, pg->dir, strlen(pg->dir) + 1); // dir (128) fits in title (256)
        }
        if (pg->dir[0]) copy_images(out_dir, pg->dir);
    }
    for (int i = 0; i < n_markers; i++)
        if (!markers[i].used) fail("marker '%s' in %s is used by no chapter", markers[i].name, markers[i].file);

    // the stylesheet and script, and KaTeX if any page has a formula
    const char *assets[] = {"style.css", "book.js"};
    for (int i = 0; i < 2; i++) {
        char from[1024], to[1024];
        snprintf(from, sizeof from, "%s/book/%s", root, assets[i]);
        snprintf(to, sizeof to, "%s/%s", out_dir, assets[i]);
        if (!copy_file(from, to)) fail("cannot copy %s to %s", from, to);
    }
    if (n_maths) copy_katex(katex_dir, out_dir);
    for (int i = 0; i < n_pages; i++) write_page(out_dir, i);
    for (int i = 0; i < n_quoted; i++) write_source_page(out_dir, quoted[i]);
    for (int i = 0; i < n_pages; i++) check_links(out_dir, pages[i].out);
    for (int i = 0; i < n_quoted; i++) {
        char page[300];
        snprintf(page, sizeof page, "src/%s.html", quoted[i]);
        check_links(out_dir, page);
    }
    for (int i = 0; i < n_pages; i++) free(pages[i].body);
    if (errors) {
        fprintf(stderr, "book: %d error(s)\n", errors);
        return 1;
    }
    printf("book: %d pages, %d listing markers, %d formulas, %d source pages, written to %s/index.html\n", n_pages,
           n_markers, n_maths, n_quoted, out_dir);
    return 0;
}
