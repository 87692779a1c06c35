// The book builds, every local link and image resolves, and a listing whose marker is missing
// (or a marker no chapter uses) fails the build. Every chapter program runs and says what its
// chapter says it says.
#define _GNU_SOURCE
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static const char *build_dir(void) { return env_or("SINKS_BUILD", "build"); }

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

START_TEST(book_builds_with_working_links) {
    char dir[] = "/tmp/sinks-book-XXXXXX", cmd[2048];
    ck_assert(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof cmd, "%s/book --out %s 2>&1", build_dir(), dir);
    int st;
    char *out = capture(cmd, &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "book build failed:\n%s", out);
    struct stat sb;
    char page[1200];
    snprintf(page, sizeof page, "%s/index.html", dir);
    ck_assert(stat(page, &sb) == 0);
    snprintf(page, sizeof page, "%s/04-llama.html", dir);
    ck_assert(stat(page, &sb) == 0);
    // the listing really is the source: chapter 4 shows llama_block_forward's body
    Error err = {{0}};
    char *html = read_text_file(page, NULL, &err);
    ck_assert_ptr_nonnull(strstr(html, "rmsnorm_forward(s-&gt;xb, x, lw-&gt;attn_norm"));
    free(html);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert(system(cmd) == 0);
}
END_TEST

// A miniature project: one chapter, one source file with two markers.
static char *mini_book(const char *chapter_md, int *status) {
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/sinks-minibook-XXXXXX");
    ck_assert(mkdtemp(dir) != NULL);
    char p[256], cmd[1024];
    snprintf(p, sizeof p, "%s/chapters", dir), mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/chapters/01-a", dir), mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/ref_cpu", dir), mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/book", dir), mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/book/style.css", dir), write_file(p, "body{}\n");
    snprintf(p, sizeof p, "%s/ref_cpu/x.c", dir);
    write_file(p, "// ANCHOR: one\nint one;\n// END: one\n// ANCHOR: two\nint two;\n// END: two\n");
    snprintf(p, sizeof p, "%s/chapters/01-a/chapter.md", dir), write_file(p, chapter_md);
    snprintf(cmd, sizeof cmd, "%s/book --root %s --out %s/site 2>&1; rc=$?; rm -rf %s; exit $rc", build_dir(), dir,
             dir, dir);
    return capture(cmd, status);
}

START_TEST(book_fails_on_missing_or_unused_markers) {
    int st;
    char *out = mini_book("# A\n\n```c @ref_cpu/x.c#one\n```\n\n```c @ref_cpu/x.c#two\n```\n", &st);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "good mini book failed: %s", out);
    free(out);
    out = mini_book("# A\n\n```c @ref_cpu/x.c#one\n```\n\n```c @ref_cpu/x.c#three\n```\n", &st);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    ck_assert_msg(strstr(out, "no region 'three' in ref_cpu/x.c"), "%s", out);
    ck_assert_msg(strstr(out, "marker 'two' in ref_cpu/x.c is used by no chapter"), "%s", out);
    free(out);
    out = mini_book("# A\n\n```c @ref_cpu/x.c#one\n```\n```c @ref_cpu/x.c#two\n```\n[gone](nowhere.html)\n", &st);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    ck_assert_msg(strstr(out, "broken link 'nowhere.html'"), "%s", out);
    free(out);
}
END_TEST

static char *chapter(const char *nn, int *status) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/chapters/ch%s 2>&1", build_dir(), nn);
    char *out = capture(cmd, status);
    ck_assert_msg(WIFEXITED(*status) && WEXITSTATUS(*status) == 0, "ch%s failed:\n%s", nn, out);
    return out;
}

START_TEST(chapter_programs) {
    int st;
    char *o = chapter("01", &st);
    ck_assert_ptr_nonnull(strstr(o, "all 32 agree: yes"));
    free(o);
    o = chapter("02", &st);
    char *first = strstr(o, "decodes back exactly: yes");
    ck_assert(first && strstr(first + 1, "decodes back exactly: yes"));
    ck_assert_ptr_nonnull(strstr(o, "[<0xC3>] [<0xAF>]")); // byte fallback for the i with diaeresis
    free(o);
    o = chapter("03", &st); // hand-derived: e^k / (e + e^2 + e^3), (cos 1, sin 1)
    ck_assert_ptr_nonnull(strstr(o, "0.0900 0.2447 0.6652"));
    ck_assert_ptr_nonnull(strstr(o, "(+0.5403, +0.8415)"));
    ck_assert_ptr_nonnull(strstr(o, "0.8485 1.1314"));
    free(o);
    o = chapter("04", &st); // the story in stories260K's PROVENANCE.md
    ck_assert_ptr_nonnull(strstr(o, "Once upon a time, there was a little girl named Lily. She loved to play outside"));
    free(o);
    o = chapter("05", &st);
    double d = 1;
    char *p = strstr(o, "logit| = ");
    ck_assert(p && sscanf(p + 9, "%lf", &d) == 1);
    ck_assert_msg(d < 1e-4, "ch05: %g", d);
    free(o);
    o = chapter("06", &st);
    double story, sonnet;
    ck_assert(sscanf(strstr(o, "story: ") + 7, "%lf", &story) == 1);
    ck_assert(sscanf(strstr(o, "18:  ") + 5, "%lf", &sonnet) == 1);
    ck_assert_msg(story < 3 && sonnet > 10 * story, "ch06: %g vs %g", story, sonnet);
    free(o);
    o = chapter("10", &st);
    ck_assert_ptr_nonnull(strstr(o, "after token 13: slots hold stream positions  0  1 | 10 11 12 13"));
    free(o);
}
END_TEST

int main(void) {
    RUN_TESTS("book", 300,
              book_builds_with_working_links,
              book_fails_on_missing_or_unused_markers,
              chapter_programs);
}
