"""One fix to Panel's websocket write queue: a message queued while a writer finishes is sent.

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
        if queue.get(doc) and doc not in block:  # queued, and no writer will send it
            block[doc] = True
            start(doc, pdoc._dispatch_msgs, doc)

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
        if queue.get(doc) and doc not in block:  # queued, and no writer will send them
            block[doc] = True
            start(doc, pdoc._dispatch_msgs, doc)
        if doc in queue and loop.time() < deadline:
            loop.call_later(interval, check)
        else:
            _WATCHING.discard(id(doc))

    loop.call_later(interval, check)
