"""Panel's write queue leaves a message unsent when it is queued while a writer finishes; the
explorer's one fix (explorer/ui/panel_patch.py) sends it.

The race, step by step on one asyncio loop (no browser, no timing): writer A awaits its socket
write; the write completes (A resumes on the loop's next turn) and in the same turn another
change is queued, with its writer B scheduled after A. A resumes, finds its own leftovers empty
and clears the document's write mark; B starts, finds the mark cleared and returns. The second
message stays queued with nothing to send it.
"""

import asyncio
import logging
import types

import pytest
from bokeh.document import Document
from panel.io import document as pdoc

from explorer.ui import panel_patch

QUEUE = next(getattr(pdoc, n) for n in panel_patch.QUEUE_NAMES if hasattr(pdoc, n))


class GatedSocket:
    """A socket whose first write completes when the test resolves :attr:`gate`; later writes
    complete at once. :attr:`sent` lists every message handed to it, in order."""

    def __init__(self):
        self.sent = []
        self.gate = None
        self.writing = asyncio.Event()


class Protocol:
    def create(self, msgtype, events):
        return tuple(events)


class Conn:
    def __init__(self):
        self._socket = GatedSocket()
        self.protocol = Protocol()


def write(conn, msg=None, events=None):
    socket = conn._socket
    socket.sent.append(msg)
    done = asyncio.get_running_loop().create_future()
    if socket.gate is None:
        socket.gate = done
        socket.writing.set()
    else:
        done.set_result(None)
    return [done]


@pytest.fixture
def panel_queue():
    """Panel's own queue functions writing to :class:`GatedSocket`; Panel's ``_dispatch_msgs``
    (wrapped or not) restored as it was."""
    dispatch = pdoc._dispatch_msgs
    pdoc.extra_socket_handlers[GatedSocket] = write
    docs = []
    yield docs
    pdoc.extra_socket_handlers.pop(GatedSocket, None)
    for doc in docs:
        QUEUE.pop(doc, None)
        pdoc._WRITE_BLOCK.pop(doc, None)
    pdoc._dispatch_msgs = dispatch


async def _settle(doc):
    """Run until no writer task of ``doc`` is left."""
    while pdoc._write_tasks.get(doc):
        await asyncio.wait(list(pdoc._write_tasks[doc]))


async def _race(doc, conn):
    pdoc.schedule_write_events(doc, [conn], ["first"])   # writer A
    await conn._socket.writing.wait()                    # A now awaits its write
    conn._socket.gate.set_result(None)                   # the write completes: A resumes next turn
    pdoc.schedule_write_events(doc, [conn], ["second"])  # queued meanwhile: writer B starts after A
    await asyncio.wait_for(_settle(doc), timeout=30)     # a guard against a hang, not a sync


def _run_race(docs):
    doc, conn = Document(), Conn()
    docs.append(doc)
    asyncio.run(_race(doc, conn))
    return doc, conn._socket


def test_without_the_fix_panel_leaves_the_second_message_queued(panel_queue):
    """Proves the test sees the race: with Panel as shipped the message is stranded."""
    panel_patch.revert()
    assert not panel_patch.applied()
    doc, socket = _run_race(panel_queue)
    assert socket.sent == [("first",)]
    assert QUEUE.get(doc)  # still queued...
    assert doc not in pdoc._WRITE_BLOCK  # ...and no writer will send it


def test_with_the_fix_the_second_message_is_sent(panel_queue):
    panel_patch.revert()
    assert panel_patch.apply()
    doc, socket = _run_race(panel_queue)
    assert socket.sent == [("first",), ("second",)]
    assert not QUEUE.get(doc)
    assert doc not in pdoc._WRITE_BLOCK


def test_with_the_fix_an_ordinary_write_is_sent_once(panel_queue):
    panel_patch.apply()
    doc, conn = Document(), Conn()
    panel_queue.append(doc)

    async def one():
        pdoc.schedule_write_events(doc, [conn], ["only"])
        await conn._socket.writing.wait()
        conn._socket.gate.set_result(None)
        await asyncio.wait_for(_settle(doc), timeout=30)

    asyncio.run(one())
    assert conn._socket.sent == [("only",)]
    assert not QUEUE.get(doc) and doc not in pdoc._WRITE_BLOCK


def test_with_the_fix_a_busy_socket_keeps_one_writer(panel_queue, monkeypatch):
    """While Bokeh holds the socket's write lock Panel's writer re-queues and retries; the fix
    starts no second writer beside it (the document's mark is still set)."""
    panel_patch.revert()
    doc, conn = Document(), Conn()
    panel_queue.append(doc)
    conn._socket.gate = "open"  # every write completes at once
    lock = types.SimpleNamespace(_block=types.SimpleNamespace(_value=0))  # held
    conn._socket.write_lock = lock
    others, start, retried = [], pdoc._dispatch_write_task, []

    def spy(d, fn, *args):  # how many other writers are pending when one is started
        current = asyncio.current_task()
        others.append(sum(1 for t in pdoc._write_tasks.get(d, ())
                          if not t.done() and t is not current))
        if len(others) == 4:
            retried[0].set()
        start(d, fn, *args)

    monkeypatch.setattr(pdoc, "_dispatch_write_task", spy)
    assert panel_patch.apply()

    async def busy():
        retried.append(asyncio.Event())
        pdoc.schedule_write_events(doc, [conn], ["only"])
        await retried[0].wait()           # the writer found the socket locked three times
        assert conn._socket.sent == []
        lock._block._value = 1            # Bokeh is done writing
        await asyncio.wait_for(_settle(doc), timeout=30)

    asyncio.run(busy())
    assert others and max(others) == 0
    assert conn._socket.sent == [("only",)]
    assert not QUEUE.get(doc) and doc not in pdoc._WRITE_BLOCK


def test_apply_wraps_once(panel_queue):
    panel_patch.revert()
    original = pdoc._dispatch_msgs
    assert panel_patch.apply() and panel_patch.apply()
    assert pdoc._dispatch_msgs.__wrapped__ is original  # one wrapper, not two
    panel_patch.revert()
    assert pdoc._dispatch_msgs is original


def test_another_shape_of_panel_is_left_alone_with_one_warning(caplog):
    async def _dispatch_msgs(doc):
        pass

    other = types.SimpleNamespace(_dispatch_msgs=_dispatch_msgs, _WRITE_BLOCK={},
                                  _dispatch_write_task=lambda *a: None)  # no queue by a known name
    with caplog.at_level(logging.WARNING, logger="explorer.ui.panel_patch"):
        assert panel_patch.apply(other) is False
    assert other._dispatch_msgs is _dispatch_msgs
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith(
        "Panel's write queue (panel.io.document._dispatch_msgs, _WRITE_BLOCK, _WRITE_EVENTS or "
        "_WRITE_MSGS) has another shape")


@pytest.mark.parametrize("name", panel_patch.QUEUE_NAMES)
def test_either_name_of_the_queue_is_fixed(name):
    async def _dispatch_msgs(doc):
        pass

    other = types.SimpleNamespace(_dispatch_msgs=_dispatch_msgs, _WRITE_BLOCK={},
                                  _dispatch_write_task=lambda *a: None, **{name: {}})
    assert panel_patch.apply(other)
    assert other._dispatch_msgs.__wrapped__ is _dispatch_msgs


def test_the_app_applies_the_fix():
    import explorer.ui.app  # noqa: F401

    assert panel_patch.applied()


def test_watch_queue_sends_a_queue_left_with_no_writer():
    """The safety net: messages queued with the document's write mark cleared (no writer will
    send them) get a writer within an ``interval``; nothing runs for an empty queue."""
    from tornado.ioloop import IOLoop

    doc = Document()
    started = []
    queue, block = {}, {}

    async def dispatch(d):
        queue.pop(d, None)
        block.pop(d, None)

    fake = types.SimpleNamespace(_dispatch_msgs=dispatch, _WRITE_MSGS=queue, _WRITE_BLOCK=block,
                                 _dispatch_write_task=lambda d, f, *a: started.append(d))

    async def scenario():
        panel_patch.watch_queue(doc, interval=0.01, patience=1.0, pdoc=fake)
        assert id(doc) not in panel_patch._WATCHING  # empty queue: nothing watched
        queue[doc] = {"conn": ["msg"]}  # stranded: queued, no mark
        panel_patch.watch_queue(doc, interval=0.01, patience=1.0, pdoc=fake)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if started:
                break
        assert started == [doc] and block[doc] is True
        queue.pop(doc)

    IOLoop.current().run_sync(scenario)


def test_no_shipped_stylesheet_sets_a_bokeh_visual_custom_property():
    """The page skips BokehJS's reads of ``--bk-line-color`` and the like
    (``panel_patch.NO_CSS_VARS_JS``) because nothing sets them: if Bokeh, Panel or the explorer
    ever ship a stylesheet that does, the skip would hide it, and this fails."""
    import re
    from pathlib import Path

    import bokeh
    import panel

    import explorer

    sets = re.compile(r"--bk-[a-z-]*(?:line|fill|text|hatch)-[a-z-]+\s*:")
    roots = [Path(bokeh.__file__).parent / "server" / "static",
             Path(panel.__file__).parent / "dist", Path(panel.__file__).parent / "theme",
             Path(explorer.__file__).parent]
    checked = 0
    for root in roots:
        for path in root.rglob("*"):
            if path.suffix in (".css", ".js", ".py") and path.is_file():
                checked += 1
                text = path.read_text(errors="replace")
                assert not sets.search(text), f"{path} sets a Bokeh visual custom property"
    assert checked > 100  # the check saw the shipped files


def test_the_page_script_makes_bokehjs_skip_the_reads():
    from urllib.parse import unquote

    from explorer.ui.panel_patch import NO_CSS_VARS_JS, page_scripts

    url = page_scripts()["anchoral_no_css_vars"]
    assert url.startswith("data:text/javascript") and "//" in url  # Panel leaves it unprefixed
    assert unquote(url.split(",", 1)[1]) == NO_CSS_VARS_JS
    assert 'require("core/visuals/visual")' in NO_CSS_VARS_JS


def _served_dataframe_pane():
    """A DataFrame pane rendered into a served page's document (local dist URLs), and the
    page's shared ``loading.css`` stylesheet."""
    import pandas as pd
    import panel as pn
    from panel.io.resources import LOCAL_DIST
    from panel.io.state import set_curdoc

    doc = Document()
    doc._template_variables["dist_url"] = LOCAL_DIST
    pane = pn.pane.DataFrame(pd.DataFrame({"a": [1, 2]}))
    with set_curdoc(doc):
        model = pane.get_root(doc)
    (loading,) = [s for s in model.stylesheets if "loading.css" in str(getattr(s, "url", ""))]
    assert loading.url.startswith(LOCAL_DIST), loading.url
    return pane, loading, doc


def _rerender_detached(pane, doc):
    """What a callback of the page does to a pane whose model left the document."""
    from panel.io.state import set_curdoc

    with set_curdoc(doc):
        pane._get_properties(None)


def test_without_the_guard_a_detached_pane_points_the_pages_css_at_the_cdn(monkeypatch):
    """Panel's own behaviour (the reason for the guard): a pane re-rendered with no document
    (a hidden dynamic tab's) rewrites the page's shared stylesheet to the CDN URL."""
    import panel.reactive as reactive

    orig = getattr(reactive.patch_stylesheet, "__wrapped__", reactive.patch_stylesheet)
    monkeypatch.setattr(reactive, "patch_stylesheet", orig)
    pane, loading, doc = _served_dataframe_pane()
    _rerender_detached(pane, doc)
    assert loading.url.startswith("https://cdn.holoviz.org/")


def test_with_the_guard_a_detached_pane_leaves_the_pages_css_local(monkeypatch):
    import panel.reactive as reactive
    from panel.io.resources import CDN_DIST, LOCAL_DIST

    orig = getattr(reactive.patch_stylesheet, "__wrapped__", reactive.patch_stylesheet)
    monkeypatch.setattr(reactive, "patch_stylesheet", orig)
    assert panel_patch.install_stylesheet_guard()
    assert panel_patch.install_stylesheet_guard()  # once
    assert reactive.patch_stylesheet.__wrapped__ is orig
    pane, loading, doc = _served_dataframe_pane()
    _rerender_detached(pane, doc)
    assert loading.url.startswith(LOCAL_DIST), loading.url
    # a CDN page's stylesheet and a move between local paths still go through
    from bokeh.models import ImportedStyleSheet

    cdn = ImportedStyleSheet(url=f"{LOCAL_DIST}css/x.css")
    reactive.patch_stylesheet(cdn, "./" + LOCAL_DIST)
    assert cdn.url.startswith("./" + LOCAL_DIST)
    other = ImportedStyleSheet(url=f"{CDN_DIST}css/y.css")
    reactive.patch_stylesheet(other, LOCAL_DIST)
    assert other.url.startswith(LOCAL_DIST)


def test_the_app_installs_the_stylesheet_guard():
    import panel.reactive as reactive

    import explorer.ui.app  # noqa: F401

    assert getattr(reactive.patch_stylesheet, panel_patch._STYLESHEET_MARK, False)
