// reader: looks at a built book as a reader does, in headless Chromium (Debian's chromium).
#pragma once

// Opens every top-level page of site_dir at 1280 px in one headless Chromium and runs book.js's
// bookCheck() on it: raw pipe tables, formulas left as text or with KaTeX errors, missing images,
// figures without captions, listings, tables or formulas wider than the text column. Prints one
// line per problem and returns their number, or -1 if Chromium could not run (with the reason).
int book_check_site(const char *site_dir);

// Every top-level page of site_dir at its full height, 1280 px wide, as out_dir/<page>.png
// (the heights are measured by the reader check, which must pass first). Returns 0 on success.
int book_screenshots(const char *site_dir, const char *out_dir);
