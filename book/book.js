// The book's one script: typesets the formulas with KaTeX (copied into the site, no network),
// and bookCheck(), the reader check that `book --check` runs in headless Chromium. Open any
// page as page.html#book-check to see its findings at the top.
'use strict';

function renderMath() {
  for (const el of document.querySelectorAll('.math')) {
    if (!window.katex) return; // the check reports every formula left unrendered
    katex.render(el.textContent, el, {displayMode: el.classList.contains('display'), throwOnError: false});
  }
}

function snip(s) { s = s.replace(/\s+/g, ' ').trim(); return s.length > 80 ? s.slice(0, 77) + '...' : s; }

function describe(el) {
  const fig = el.closest('figure');
  const cap = fig && fig.querySelector('figcaption');
  return el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ')[0] : '') +
         (cap ? ' (' + snip(cap.textContent).slice(0, 50) + ')' : ' "' + snip(el.textContent).slice(0, 40) + '"');
}

// Everything a reader would see as broken, as a list of one-line findings.
window.bookCheck = async function () {
  await document.fonts.ready;
  const found = [];
  const main = document.querySelector('main') || document.body;
  for (const p of document.querySelectorAll('p'))
    if (p.textContent.trim().startsWith('|')) found.push('pipe table: a paragraph of "|": ' + snip(p.textContent));
  for (const m of document.querySelectorAll('.math'))
    if (!m.querySelector('.katex')) found.push('formula: not typeset: ' + snip(m.textContent));
  for (const e of document.querySelectorAll('.katex-error'))
    found.push('formula: KaTeX error: ' + snip(e.getAttribute('title') || e.textContent));
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: n => n.parentElement.closest('pre, code, script, style, .katex, .dollar')
                     ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  for (let n; (n = walk.nextNode());)
    if (n.nodeValue.includes('$')) found.push('formula: "$" left in the text: ' + snip(n.nodeValue));
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) found.push('image: missing ' + img.getAttribute('src'));
    if (!img.closest('figure')) found.push('figure: image outside a figure: ' + img.getAttribute('src'));
  }
  for (const f of document.querySelectorAll('figure')) {
    const c = f.querySelector(':scope > figcaption');
    if (!c || !c.textContent.trim()) found.push('figure: no caption: ' + (f.id || f.innerHTML.slice(0, 60)));
  }
  // nothing may be wider than the text column, nor scroll or clip sideways
  const style = getComputedStyle(main), box = main.getBoundingClientRect();
  const right = box.right - parseFloat(style.paddingRight) + 1;
  for (const el of main.querySelectorAll('pre, .table-wrap, table, .katex-display, img, figure, p')) {
    if (el.scrollWidth > el.clientWidth + 1 && el.tagName !== 'IMG')
      found.push('width: ' + describe(el) + ' is ' + el.scrollWidth + ' px wide in a ' + el.clientWidth + ' px box');
    else if (el.getBoundingClientRect().right > right)
      found.push('width: ' + describe(el) + ' runs past the text column');
  }
  return {problems: found, height: Math.ceil(document.documentElement.scrollHeight)};
};

document.addEventListener('DOMContentLoaded', () => {
  renderMath();
  if (location.hash === '#book-check')
    window.bookCheck().then(r => {
      const pre = document.createElement('pre');
      pre.id = 'book-check';
      pre.textContent = r.problems.length ? r.problems.join('\n') : 'book check: no problems';
      document.body.prepend(pre);
    });
});
