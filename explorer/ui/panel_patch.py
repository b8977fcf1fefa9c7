"""The explorer's fixes to Panel's private internals, in one place: the page design (Native
components under the Bootstrap template, :func:`page_design`; BokehJS not reading CSS custom
properties no stylesheet sets, :func:`page_scripts`), the websocket write queue
(a message queued while a writer finishes is sent) and the notebook message handler (a raising
message from the page no longer leaves an inline view dead, :func:`keep_held`).

When a change cannot be written to the browser at once (a writer is busy), Panel queues its
message for the document (``_WRITE_MSGS`` in Panel 1.9, ``_WRITE_EVENTS`` in 1.10), marks the
document (``_WRITE_BLOCK``) and starts a writer task (``_dispatch_msgs``). A writer pops the
queue, awaits its socket writes, and then clears the mark when *its own* leftovers are empty,
without looking at the queue again. A message queued while it awaited, whose writer task had
not started yet, is then never sent: that writer finds the mark cleared and returns. The
browser shows the state before that change until some later change re-arms the queue (seen as
a resumed session stuck at "Replaying the session: 2 of 2 rounds").

:func:`apply` wraps ``_dispatch_msgs`` once per process: after a writer returns, a document
whose queue still holds messages and whose mark is cleared (no writer will send them) gets a
new writer. The upstream fix is written in ``docs/design.md`` ("Panel's write queue"); this
module is the only place the explorer touches Panel's private write queue. When Panel's
private names have another shape, :func:`apply` changes nothing and logs one warning.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import MutableMapping

log = logging.getLogger(__name__)

#: Panel's names for a document's queue of unsent messages, newest first
QUEUE_NAMES = ("_WRITE_EVENTS", "_WRITE_MSGS")

_MARK = "__anchoral_resends_stranded__"


def _shape(pdoc):
    """``(dispatch, queue, block, start)`` of Panel's write queue, or None when absent."""
    dispatch = getattr(pdoc, "_dispatch_msgs", None)
    queue = next((getattr(pdoc, n) for n in QUEUE_NAMES
                  if isinstance(getattr(pdoc, n, None), MutableMapping)), None)
    block = getattr(pdoc, "_WRITE_BLOCK", None)
    start = getattr(pdoc, "_dispatch_write_task", None)
    if not (inspect.iscoroutinefunction(dispatch) and queue is not None
            and isinstance(block, MutableMapping) and callable(start)):
        return None
    return dispatch, queue, block, start


def _resend_stranded(pdoc, doc, queue, block, start) -> None:
    """Start a writer for ``doc`` when messages are queued and none will send them."""
    if queue.get(doc) and doc not in block:
        block[doc] = True
        start(doc, pdoc._dispatch_msgs, doc)


def applied(pdoc=None) -> bool:
    """True when this process's Panel sends messages left queued with no writer."""
    if pdoc is None:
        from panel.io import document as pdoc
    return getattr(getattr(pdoc, "_dispatch_msgs", None), _MARK, False)


def apply(pdoc=None) -> bool:
    """Make Panel start a writer for messages its last writer left queued (once per process).

    Parameters
    ----------
    pdoc : module, optional
        ``panel.io.document`` (tests pass a stand-in).

    Returns
    -------
    bool
        True when the fix is in place, False when Panel's write queue has another shape (then
        nothing is changed and one warning is logged).
    """
    if pdoc is None:
        from panel.io import document as pdoc
    if applied(pdoc):
        return True
    shape = _shape(pdoc)
    if shape is None:
        log.warning("Panel's write queue (panel.io.document._dispatch_msgs, _WRITE_BLOCK, "
                    "%s) has another shape in this Panel version: messages it leaves queued "
                    "are not resent (see docs/design.md, 'Panel's write queue')",
                    " or ".join(QUEUE_NAMES))
        return False
    dispatch, queue, block, start = shape

    @functools.wraps(dispatch)
    async def _dispatch_msgs(doc):
        await dispatch(doc)
        _resend_stranded(pdoc, doc, queue, block, start)

    setattr(_dispatch_msgs, _MARK, True)  # functools.wraps keeps the original as __wrapped__
    pdoc._dispatch_msgs = _dispatch_msgs
    return True


def revert(pdoc=None) -> None:
    """Undo :func:`apply` (tests)."""
    if pdoc is None:
        from panel.io import document as pdoc
    if applied(pdoc):
        pdoc._dispatch_msgs = pdoc._dispatch_msgs.__wrapped__


#: documents whose queue :func:`watch_queue` is watching
_WATCHING: set = set()


def watch_queue(doc, interval=0.1, patience=30.0, pdoc=None) -> None:
    """After a held callback: while Panel holds messages queued for ``doc``, start a writer
    whenever none will send them (every ``interval`` s, at most ``patience`` s).

    A safety net beside :func:`apply`, for a stranded queue of a shape the wrapper does not
    see: with the wrapper alone, full browser-suite runs still showed a page whose job had
    ended keep the status line of the job's previous change, once in 35 and once in 44 tests
    (a test alone: 8 of 8 passed). This costs nothing on an idle page (no periodic callback):
    it runs only after a held callback that left messages queued.
    """
    if pdoc is None:
        from panel.io import document as pdoc
    shape = _shape(pdoc)
    if shape is None:
        return
    _, queue, block, start = shape
    if doc not in queue or id(doc) in _WATCHING:
        return
    from tornado.ioloop import IOLoop

    loop = IOLoop.current()
    deadline = loop.time() + patience
    _WATCHING.add(id(doc))

    def check():
        _resend_stranded(pdoc, doc, queue, block, start)
        if doc in queue and loop.time() < deadline:
            loop.call_later(interval, check)
        else:
            _WATCHING.discard(id(doc))

    loop.call_later(interval, check)


def keep_held(on_msg):
    """``on_msg`` (Panel's ``Viewable._on_msg``) that leaves the document held as it found it,
    also when applying the browser's message raises.

    Panel keeps a notebook view's document held (``doc.hold("combine")``): a change made in the
    kernel is collected there and sent by the next push. ``_on_msg`` applies a message from
    the browser inside ``doc.hold(); ...; doc.unhold(); doc.hold(held)``; when a callback run
    by ``unhold`` raises, the re-hold is skipped, every later change is no longer collected,
    and the inline view never updates again, with no error in the page (seen: the queries
    table's echo of a batch the kernel had already replaced raised a pandas ``ValueError``
    after the first code-driven Step). Upstream fix: docs/design.md, "The explorer inline in
    Jupyter".
    """
    if getattr(on_msg, "_anchoral_keeps_held", False):
        return on_msg

    @functools.wraps(on_msg)
    def wrapper(self, ref, manager, msg):
        from panel.io.state import state

        view = state._views.get(ref)
        doc = view[2] if view is not None else None
        held = doc.callbacks.hold_value if doc is not None else None
        try:
            return on_msg(self, ref, manager, msg)
        finally:
            if held and doc.callbacks.hold_value is None:
                doc.hold(held)

    wrapper._anchoral_keeps_held = True
    return wrapper


def install_hold_fix() -> None:
    """Apply :func:`keep_held` to Panel's notebook message handler (once; idempotent)."""
    from panel.viewable import Viewable

    Viewable._on_msg = keep_held(Viewable._on_msg)


_STYLESHEET_MARK = "__anchoral_keeps_local_stylesheets__"


def install_stylesheet_guard(reactive=None) -> bool:
    """A model with no document no longer rewrites a served page's stylesheet URLs to the CDN.

    Panel shares one ``ImportedStyleSheet`` per URL across a document's models (its
    ``loading.css`` is on every model) and points it at the page's ``dist_url`` whenever a
    model's properties are computed (``Reactive._get_properties`` → ``patch_stylesheet``). A
    pane whose model has left the document (the content of a hidden ``dynamic`` tab) still
    re-renders when its data changes, with no document, so the fallback ``dist_url`` is the
    CDN: the shared stylesheet's URL turned from ``static/extensions/panel/css/loading.css`` to
    ``https://cdn.holoviz.org/...`` and back at every Step. Each change made the browser
    re-read that stylesheet in every shadow root of the page (~4,650 stylesheet reads, ~0.1 s
    of browser CPU per Step), and offline the CDN URL does not load. The guard leaves a
    non-``http`` URL alone when asked to point it at the CDN; every other call goes through.
    Returns True when installed (or already).
    """
    if reactive is None:
        import panel.reactive as reactive
    from panel.io.resources import CDN_DIST

    orig = getattr(reactive, "patch_stylesheet", None)
    if orig is None:
        log.warning("panel.reactive.patch_stylesheet is gone: stylesheet guard not installed")
        return False
    if getattr(orig, _STYLESHEET_MARK, False):
        return True

    @functools.wraps(orig)
    def patch_stylesheet(stylesheet, dist_url):
        if dist_url == CDN_DIST:
            try:
                url = stylesheet.url
            except Exception:
                url = None
            if isinstance(url, str) and not url.startswith(("http://", "https://")):
                return None  # a served page's local URL: a model with no document asked
        return orig(stylesheet, dist_url)

    setattr(patch_stylesheet, _STYLESHEET_MARK, True)
    reactive.patch_stylesheet = patch_stylesheet
    return True


#: BokehJS 3.x reads a CSS custom property (``--bk-line-color``, ``--bk-text-color``, ...) through
#: ``getComputedStyle`` for every line, fill, text and hatch visual of every axis, title, legend
#: and annotation each time it paints or lays them out, and each read forces a style
#: recalculation of the page. No stylesheet Bokeh, Panel or the explorer ships sets one
#: (``tests/test_ui_panel_patch.py`` checks), so every read returns "" and BokehJS uses the
#: model's value; the page skips the reads. Measured in docs/benchmarks.md §5g.
#: A plot also reads its element's computed ``font-size`` (``PlotView.base_font_size``) for every
#: axis and label each time it lays out or paints (~200 reads a Step on the explorer's page);
#: the page reads it once per plot (Bokeh's stylesheet fixes it at 13px) and keeps it.
NO_CSS_VARS_JS = """// AnchorAL Explorer: no --bk-* visual custom properties on this page (explorer/ui/panel_patch.py)
(function () {
  var B = window.Bokeh;
  if (!B || !B.require) { return; }
  try {
    var V = B.require("core/visuals/visual").VisualProperties;
    if (V && V.prototype && typeof V.prototype._get_css_value === "function") {
      V.prototype._get_css_value = function () { return ""; };
    }
  } catch (e) { /* another BokehJS: unchanged */ }
  try {  // a plot's font size, read once (null while it is not in the page: read again)
    var P = B.require("models/plots/plot_canvas").PlotView;
    var d = P && Object.getOwnPropertyDescriptor(P.prototype, "base_font_size");
    if (d && d.get && d.configurable) {
      Object.defineProperty(P.prototype, "base_font_size", {configurable: true, get: function () {
        if (this._anchoral_font_size == null) { this._anchoral_font_size = d.get.call(this); }
        return this._anchoral_font_size;
      }});
    }
  } catch (e) { /* another BokehJS: unchanged */ }
})();
"""


def page_scripts() -> dict:
    """Scripts the served page loads after BokehJS and before its documents render (Panel's
    ``config.js_files``, set by ``ExplorerApp.template``): :data:`NO_CSS_VARS_JS` as a
    ``data:`` URL."""
    from urllib.parse import quote

    # the URL keeps "//" (the comment): Panel prefixes a js_files entry without "//" with the
    # page's relative path
    return {"anchoral_no_css_vars": "data:text/javascript;charset=utf-8," +
            quote(NO_CSS_VARS_JS, safe="/:;,()")}


def page_design():
    """Panel's Native component design under the Bootstrap page template.

    Panel's Bootstrap design links the whole Bootstrap stylesheet and its theme into every
    component's shadow root (~3,000 sheets a page); here Bootstrap is linked once, in the page
    head (the template's header and sidebar use it), and components get Native's small sheet.
    The themes are Bootstrap's (the template reads their Bootstrap name).
    """
    from panel.io.resources import CSS_URLS, JS_URLS
    from panel.theme import Native
    from panel.theme.bootstrap import BootstrapDarkTheme, BootstrapDefaultTheme

    class PageDesign(Native):
        _themes = {"default": BootstrapDefaultTheme, "dark": BootstrapDarkTheme}
        _resources = {"js": {"bootstrap": JS_URLS["bootstrap5"]}}

        def resolve_resources(self, cdn="auto", extras=None, include_theme=True):
            extras = {**(extras or {}), "css": {**(extras or {}).get("css", {}),
                                                "bootstrap": CSS_URLS["bootstrap5"]}}
            return super().resolve_resources(cdn=cdn, extras=extras,
                                             include_theme=include_theme)

    return PageDesign
