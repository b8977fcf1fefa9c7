"""What a served page costs the browser: Bokeh models, stylesheets, figures, widgets.

Used by ``tests/ui/test_page_weight.py`` (caps) and ``benchmarks/bench_app.py`` (before/after).

* :data:`FIRST_DOCUMENT_JS` is an init script (``context.add_init_script``): it records the
  counts of the page's first Bokeh document the moment BokehJS has it (before the parts built
  on the page's load event arrive from the server) in ``window.__anchoral_first``.
* :func:`page_weight` counts the page as it is now: every Bokeh model of every document by
  kind, and every stylesheet in the page (``<style>``, ``<link rel=stylesheet>`` and adopted
  sheets, in the document and in every shadow root: BokehJS and Panel give each component its
  own shadow DOM and sheets).
* :func:`open_everything` opens what a person opens (every tab, every collapsed card), so the
  "whole page" count includes the views built only when shown.
"""

from __future__ import annotations

if __package__:  # imported by the tests (tests.ui.page_weight)
    from .conftest import figures, wait_until
else:  # by a script with tests/ui on sys.path (benchmarks/bench_light.py)
    from conftest import figures, wait_until

#: counts of the current page (a JS function: ``page.evaluate(COUNT_JS)``)
COUNT_JS = """() => {
  const count = () => {
    const out = {models: 0, figures: 0, widgets: 0, renderers: 0, sources: 0,
                 stylesheets: 0, shadow_roots: 0, elements: 0, documents: 0, by_type: {}};
    const widget = (m) => {
      for (let p = Object.getPrototypeOf(m); p && p.constructor; p = Object.getPrototypeOf(p)) {
        const name = p.constructor.__name__ || p.constructor.name;
        if (name === "Widget") return true;
        if (name === "Model" || name === "HasProps") return false;
      }
      return false;
    };
    for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
      out.documents += 1;
      const ms = doc.all_models ? Array.from(doc.all_models) : Array.from(doc._all_models.values());
      for (const m of ms) {
        out.models += 1;
        out.by_type[m.type] = (out.by_type[m.type] || 0) + 1;
        if (m.type === "Figure" || m.type === "Plot") out.figures += 1;
        if (m.type === "GlyphRenderer") out.renderers += 1;
        if (m.type === "ColumnDataSource") out.sources += 1;
        if (widget(m)) out.widgets += 1;
      }
    }
    const walk = (root) => {
      if (root.adoptedStyleSheets) out.stylesheets += root.adoptedStyleSheets.length;
      out.stylesheets += root.querySelectorAll("style, link[rel=stylesheet]").length;
      for (const el of root.querySelectorAll("*")) {
        out.elements += 1;
        if (el.shadowRoot) { out.shadow_roots += 1; walk(el.shadowRoot); }
      }
    };
    walk(document);
    return out;
  };
  window.__anchoral_count = count;
  return count();
}"""

#: an init script: ``window.__anchoral_first`` = the model counts of the first document, taken
#: when BokehJS first holds a document (polled every 2 ms: the deferred parts need a server
#: round trip after the page's load event, far longer)
FIRST_DOCUMENT_JS = """(() => {
  const poll = () => {
    if (window.Bokeh && Bokeh.documents && Bokeh.documents.length) {
      const doc = Bokeh.documents[0];
      const ms = doc.all_models ? Array.from(doc.all_models) : Array.from(doc._all_models.values());
      const by_type = {};
      for (const m of ms) by_type[m.type] = (by_type[m.type] || 0) + 1;
      window.__anchoral_first = {models: ms.length,
        figures: (by_type.Figure || 0) + (by_type.Plot || 0), by_type: by_type,
        t: performance.now()};
      return;
    }
    setTimeout(poll, 2);
  };
  poll();
})();"""


def page_weight(page) -> dict:
    """Counts of the page now: models (and ``by_type``), figures, widgets, renderers, data
    sources, stylesheets, shadow roots, DOM elements, Bokeh documents."""
    return page.evaluate(COUNT_JS)


def first_document(page) -> dict:
    """Counts of the page's first Bokeh document (needs :data:`FIRST_DOCUMENT_JS` installed
    with ``context.add_init_script`` before the page was opened)."""
    return page.evaluate("() => window.__anchoral_first || null")


def wait_whole_page(page, timeout=300):
    """Wait until the deferred parts of the page (comparison plots, table) are in it."""
    wait_until(lambda: "minority-share" in figures(page), timeout=timeout, interval=0.1,
               message="the comparison plots")


def open_everything(page, timeout=300):
    """Open what a person opens: every tab of every tab strip, every collapsed card; back to
    the first tab of each strip afterwards. Returns the names of what was opened."""
    opened = []
    for header in page.locator(".card-header, .bk-card-header").all():
        try:
            if header.get_attribute("aria-expanded") == "false" or \
                    "collapsed" in (header.evaluate("e => e.parentNode.className") or ""):
                header.click()
                opened.append(header.inner_text().strip().splitlines()[0][:40])
        except Exception:  # a header that went away while the page settled
            continue
    tabs = page.locator(".bk-tab")
    for i in range(tabs.count()):
        tab = tabs.nth(i)
        if "bk-active" not in (tab.get_attribute("class") or ""):
            tab.click()
            opened.append(tab.inner_text().strip())
            page.wait_for_timeout(300)
    if any("Two runs" in o for o in opened):  # its map is built on the server when opened
        wait_until(lambda: "anchoral-two-runs" in figures(page), timeout=timeout,
                   interval=0.1, message="the two-run map")
    page.wait_for_timeout(1000)  # the last views built on opening arrive from the server
    return opened
