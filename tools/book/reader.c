// reader: the book as a reader sees it, in headless Chromium. One browser opens a small page,
// book-check.html, that loads every page of the site in a 1280 px iframe in turn and asks its
// book.js for bookCheck(): the findings come back in the DOM that --dump-dom prints.
#define _DEFAULT_SOURCE // realpath
#define _POSIX_C_SOURCE 200809L
#include "reader.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wformat-truncation"

#define MAX_SITE_PAGES 256
#define WIDTH 1280

typedef struct {
    char name[128];
    int height;
} SitePage;

// Chromium: $BOOK_CHROMIUM, or chromium / chromium-browser on the PATH.
static int find_chromium(char *out, size_t cap) {
    const char *env = getenv("BOOK_CHROMIUM");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return access(out, X_OK) == 0;
    }
    const char *path = getenv("PATH"), *names[] = {"chromium", "chromium-browser"};
    for (int k = 0; k < 2; k++)
        for (const char *p = path ? path : "/usr/bin"; *p;) {
            size_t n = strcspn(p, ":");
            snprintf(out, cap, "%.*s/%s", (int)n, p, names[k]);
            if (access(out, X_OK) == 0) return 1;
            p += n + (p[n] == ':');
        }
    return 0;
}

// Chromium's common flags: headless, as root in a container, and a profile of its own so that
// two checks at once (two test runs) do not meet in one browser.
static void chromium_flags(char *out, size_t cap, const char *profile) {
    snprintf(out, cap,
             "--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --hide-scrollbars "
             "--user-data-dir='%s'",
             profile);
}

static int by_name(const void *a, const void *b) { return strcmp(((const SitePage *)a)->name, ((const SitePage *)b)->name); }

static int list_pages(const char *site, SitePage *pages) {
    DIR *d = opendir(site);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_SITE_PAGES) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".html") && strcmp(e->d_name, "book-check.html") &&
            l < sizeof pages[0].name)
            snprintf(pages[n++].name, sizeof pages[0].name, "%s", e->d_name);
    }
    closedir(d);
    qsort(pages, (size_t)n, sizeof *pages, by_name);
    return n;
}

static void remove_tree(const char *dir) {
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

static char *read_all(FILE *f) {
    size_t cap = 1 << 16, n = 0, r;
    char *s = malloc(cap);
    while (s && (r = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) s = realloc(s, cap *= 2);
    }
    if (s) s[n] = '\0';
    return s;
}

// &lt; &gt; &quot; &amp; back to characters, in place.
static void unescape(char *s) {
    const char *ent[] = {"&lt;", "<", "&gt;", ">", "&quot;", "\"", "&#39;", "'", "&amp;", "&"};
    char *w = s;
    for (const char *r = s; *r;) {
        int k = 0;
        for (; k < 10; k += 2)
            if (!strncmp(r, ent[k], strlen(ent[k]))) break;
        if (k < 10) *w++ = ent[k + 1][0], r += strlen(ent[k]);
        else *w++ = *r++;
    }
    *w = '\0';
}

static const char *check_script =
    "const out = document.getElementById('results');\n"
    "(async () => {\n"
    "  const lines = [];\n"
    "  for (const p of pages) {\n"
    "    const f = document.createElement('iframe');\n"
    "    f.style.cssText = 'width:1280px;height:1000px;border:0';\n"
    "    document.body.appendChild(f);\n"
    "    await new Promise(r => { f.onload = r; f.src = p; });\n"
    "    let res;\n"
    "    try {\n"
    "      const w = f.contentWindow;\n"
    "      res = w.bookCheck ? await w.bookCheck()\n"
    "                        : {problems: ['script: book.js did not run on this page'], height: 0};\n"
    "    } catch (e) { res = {problems: ['script: ' + e], height: 0}; }\n"
    "    lines.push('P\\t' + p + '\\t' + res.height);\n"
    "    for (const x of res.problems) lines.push('X\\t' + p + '\\t' + String(x).replace(/[\\t\\n]/g, ' '));\n"
    "    f.remove();\n"
    "  }\n"
    "  lines.push('DONE');\n"
    "  out.textContent = lines.join('\\n');\n"
    "})();\n";

// Runs the check; fills pages[] (names and heights). Returns the number of problems, or -1.
static int run_check(const char *site_dir, SitePage *pages, int *n_out) {
    char chromium[PATH_MAX], site[PATH_MAX], check[PATH_MAX + 32];
    *n_out = 0;
    if (!find_chromium(chromium, sizeof chromium)) {
        fprintf(stderr, "error: the reader check needs headless Chromium, and there is none (install Debian's "
                        "chromium package: tools/install-deps.sh, or set BOOK_CHROMIUM)\n");
        return -1;
    }
    if (!realpath(site_dir, site)) {
        fprintf(stderr, "error: %s: no such site\n", site_dir);
        return -1;
    }
    int n = list_pages(site, pages);
    if (n == 0) {
        fprintf(stderr, "error: %s: no pages\n", site_dir);
        return -1;
    }
    snprintf(check, sizeof check, "%s/book-check.html", site);
    FILE *f = fopen(check, "w");
    if (!f) {
        fprintf(stderr, "error: cannot write %s\n", check);
        return -1;
    }
    fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>book check</title></head><body>\n"
               "<pre id=\"results\"></pre>\n<script>\nconst pages = [");
    for (int i = 0; i < n; i++) fprintf(f, "%s'%s'", i ? ", " : "", pages[i].name);
    fprintf(f, "];\n%s</script></body></html>\n", check_script);
    fclose(f);
    // virtual time runs only while the page is idle, so the budget bounds a hang, not the work
    char cmd[3 * PATH_MAX + 512], flags[512], profile[] = "/tmp/book-chromium-XXXXXX";
    if (!mkdtemp(profile)) {
        fprintf(stderr, "error: cannot make a temporary directory for Chromium's profile\n");
        remove(check);
        return -1;
    }
    chromium_flags(flags, sizeof flags, profile);
    snprintf(cmd, sizeof cmd,
             "timeout 600 '%s' %s --allow-file-access-from-files --window-size=1400,1100 "
             "--virtual-time-budget=300000 --dump-dom 'file://%s' 2>/dev/null",
             chromium, flags, check);
    FILE *p = popen(cmd, "r");
    char *dom = p ? read_all(p) : NULL;
    int st = p ? pclose(p) : -1;
    remove(check);
    remove_tree(profile);
    char *res = dom ? strstr(dom, "<pre id=\"results\">") : NULL;
    char *end = res ? strstr(res, "</pre>") : NULL;
    if (!res || !end || !strstr(res, "DONE")) {
        fprintf(stderr, "error: headless Chromium did not finish the reader check (exit status %d): %s\n", st, cmd);
        free(dom);
        return -1;
    }
    *end = '\0';
    res += strlen("<pre id=\"results\">");
    unescape(res);
    int problems = 0;
    for (char *line = strtok(res, "\n"); line; line = strtok(NULL, "\n")) {
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2) continue;
        *t1 = *t2 = '\0';
        if (line[0] == 'X') {
            printf("%s: %s\n", t1 + 1, t2 + 1);
            problems++;
        } else if (line[0] == 'P') {
            for (int i = 0; i < n; i++)
                if (!strcmp(pages[i].name, t1 + 1)) pages[i].height = atoi(t2 + 1);
        }
    }
    free(dom);
    *n_out = n;
    return problems;
}

int book_check_site(const char *site_dir) {
    static SitePage pages[MAX_SITE_PAGES];
    int n, problems = run_check(site_dir, pages, &n);
    if (problems < 0) return -1;
    printf("reader check: %d pages, %d problem(s)\n", n, problems);
    return problems;
}

int book_screenshots(const char *site_dir, const char *out_dir) {
    static SitePage pages[MAX_SITE_PAGES];
    int n, problems = run_check(site_dir, pages, &n);
    if (problems != 0) {
        if (problems > 0) fprintf(stderr, "error: the reader check found %d problem(s); screenshots anyway\n", problems);
        if (problems < 0) return 1;
    }
    char chromium[PATH_MAX], site[PATH_MAX], out[PATH_MAX];
    find_chromium(chromium, sizeof chromium);
    mkdir(out_dir, 0755);
    if (!realpath(site_dir, site) || !realpath(out_dir, out)) {
        fprintf(stderr, "error: %s or %s: no such directory\n", site_dir, out_dir);
        return 1;
    }
    char flags[512], profile[] = "/tmp/book-chromium-XXXXXX";
    if (!mkdtemp(profile)) {
        fprintf(stderr, "error: cannot make a temporary directory for Chromium's profile\n");
        return 1;
    }
    chromium_flags(flags, sizeof flags, profile);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        char png[PATH_MAX + 160], cmd[4 * PATH_MAX + 512];
        snprintf(png, sizeof png, "%s/%.*s.png", out, (int)(strlen(pages[i].name) - 5), pages[i].name);
        int h = pages[i].height > 0 ? pages[i].height : 1000;
        snprintf(cmd, sizeof cmd,
                 "timeout 120 '%s' %s --window-size=%d,%d --virtual-time-budget=3000 --screenshot='%s' "
                 "'file://%s/%s' >/dev/null 2>&1",
                 chromium, flags, WIDTH, h, png, site, pages[i].name);
        remove(png);
        struct stat st;
        if (system(cmd) != 0 || stat(png, &st) != 0) {
            fprintf(stderr, "error: no screenshot of %s\n", pages[i].name);
            failed++;
            continue;
        }
        printf("%s  %dx%d\n", png, WIDTH, h);
    }
    remove_tree(profile);
    return failed || problems ? 1 : 0;
}
