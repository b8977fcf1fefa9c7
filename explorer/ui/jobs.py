"""A background job runner: one worker thread at a time, its busy / progress / status / error.

Work runs off the event loop and hands every result back through ``schedule(callback)``, which
runs the callback where the views live (:func:`make_scheduler`: the session's event loop; tests
pass a direct call). Heavy work of every session of the process shares :data:`SLOTS`, a bounded
number of workers (:func:`set_workers`, ``anchoral serve --workers``): a class pressing Run N at
once queues its rounds instead of starving the event loop that serves every page. Each job
carries a *generation*: :meth:`Job.invalidate` (Reset, a newly opened session) bumps it, and a
callback of an older generation changes nothing. No Panel import
at module level: :func:`make_scheduler` imports it when a page calls it.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import weakref

import param

from ..exceptions import ExplorerError


class WorkerSlots:
    """At most ``n`` units of heavy work (a round, a commit, opening a session) at a time in this
    process, first come first served; :meth:`slot` says when a unit has to wait."""

    def __init__(self, n):
        self.configure(n)

    def configure(self, n) -> None:
        if int(n) < 1:
            from ..exceptions import ParameterError

            raise ParameterError(f"workers={n} must be >= 1 (rounds computed at once)")
        self.n = int(n)
        self._sem = threading.Semaphore(self.n)  # Condition-based: waiters wake in FIFO order
        self._count = threading.Lock()
        self.waiting = 0

    @contextlib.contextmanager
    def slot(self, on_wait=None):
        """Hold one worker slot; ``on_wait(ahead)`` is called first when none is free."""
        sem = self._sem
        if not sem.acquire(blocking=False):
            with self._count:
                self.waiting += 1
                ahead = self.waiting
            if on_wait is not None:
                on_wait(ahead)
            sem.acquire()
            with self._count:
                self.waiting -= 1
        try:
            yield
        finally:
            sem.release()


#: the process's worker slots (default: one per core, at most 4)
SLOTS = WorkerSlots(int(os.environ.get("ANCHORAL_WORKERS") or min(4, os.cpu_count() or 1)))


def set_workers(n) -> None:
    """Let ``n`` units of heavy work run at once in this process (call before serving)."""
    SLOTS.configure(n)


def bind(fn, *args):
    """``fn(*args)`` as a no-argument callback for ``schedule``."""
    def call():
        return fn(*args)
    return call


#: per served document, the callbacks handed to its schedulers and not run yet, in order
_PENDING: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_PENDING_LOCK = threading.Lock()


def make_scheduler():
    """``schedule(callback)`` that runs ``callback`` on this session's event loop.

    Called on the event loop (a button click); the returned function may be called from any
    thread. Outside a server (a notebook kernel without a session) callbacks run directly.

    Callbacks of one session run in the order they were scheduled. Each ``schedule`` queues
    its callback and asks the loop for a tick that runs everything queued so far; a later tick
    finds the queue empty. Bokeh registers a next-tick callback by a document event, and while
    the event loop holds the document (any :func:`hold`) that event waits in the hold: a
    round's result scheduled then could run *after* the job's end, scheduled a round later
    (seen: a Run N's "Done" overwritten by "Round 3 recorded (2/3)", and its rounds recorded
    out of order).
    """
    import panel as pn
    from panel.io.state import set_curdoc

    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return lambda cb: cb()
    with _PENDING_LOCK:
        pending = _PENDING.setdefault(doc, collections.deque())

    def drain():
        if not pending:
            return
        first_error = None
        with hold(doc):
            while True:
                try:
                    cb = pending.popleft()
                except IndexError:
                    break
                try:
                    cb()
                except Exception as err:  # the rest still run; the first error reaches the log
                    first_error = first_error or err
        if first_error is not None:
            raise first_error

    def schedule(cb):
        pending.append(cb)
        with set_curdoc(doc):
            pn.state.execute(drain, schedule=True)

    return schedule


_HELD = threading.local()


@contextlib.contextmanager
def hold(doc):
    """Collect every change to ``doc`` made inside into one message to the browser.

    The browser then lays out and repaints the page once for a recorded round instead of once
    per changed view (each repaint of a large page costs the browser far more than the server
    spends on the change). Model references are recomputed once, at the end. Changes made
    through :func:`locked` inside apply at once: the callback holds the document's lock.
    """
    from panel.io.document import hold as panel_hold

    depth = getattr(_HELD, "docs", None)
    if depth is None:
        depth = _HELD.docs = []
    depth.append(doc)
    try:
        # "collect", not "combine": events keep their order (a player's end before its value)
        with panel_hold(doc, policy="collect"):
            yield
    finally:
        depth.pop()
        from .panel_patch import watch_queue

        watch_queue(doc)  # a safety net for a queue left stranded (panel_patch.watch_queue)


def locked(change) -> None:
    """Apply ``change()`` to Bokeh models where that is safe.

    Inside :func:`hold` (a scheduled callback, which holds the document lock) or without a
    server: now. Elsewhere (a widget callback may run while Panel has released the lock, and
    changing a Bokeh model there fails): on the next tick, which holds the lock.
    """
    import panel as pn

    doc = pn.state.curdoc
    if doc is None or doc.session_context is None or doc in (getattr(_HELD, "docs", None) or ()):
        change()
    else:
        doc.add_next_tick_callback(change)


class Job(param.Parameterized):
    """The explorer's background work: whether it runs, how far it is, what it says, what failed.

    ``lock`` guards the engine: a job's work holds it, and readers on the event loop (the map's
    model colouring, exports) take it without blocking or wait for it.
    """

    busy = param.Boolean(default=False, doc="Work is running.")
    progress = param.Number(default=0.0, bounds=(0, 1), doc="Share of the work done.")
    status = param.String(default="Ready: press Step to run one round.")
    error = param.String(default="", doc="The last error, shown in the page.")

    def __init__(self, **params):
        super().__init__(**params)
        self.lock = threading.Lock()
        self.generation = 0
        self.schedule = None  # the last scheduler a job ran with (a changed run proposes with it)
        self._cancel = threading.Event()
        self._thread = None

    # ------------------------------------------------------------------ event-loop side
    def current(self, gen) -> bool:
        """True while ``gen`` is the generation of the running (or last) job."""
        return gen == self.generation

    @property
    def cancelled(self) -> bool:
        """Cancel was asked for (the worker checks between runs)."""
        return self._cancel.is_set()

    def invalidate(self) -> None:
        """Cancel the work and turn every result it still hands over into a no-op."""
        self._cancel.set()
        self.generation += 1

    def begin(self, status) -> int:
        """Mark work as started (synchronous work calls this too); returns its generation."""
        self._cancel.clear()
        with param.parameterized.batch_call_watchers(self):
            self.error = ""
            self.busy = True
            self.progress = 0.0
            self.status = status
        return self.generation

    def set_progress(self, gen, frac, status) -> None:
        if self.current(gen):
            with param.parameterized.batch_call_watchers(self):
                self.progress = min(max(frac, 0.0), 1.0)
                self.status = status

    def finish(self, gen, status="", progress=None) -> None:
        """The work of ``gen`` ended; ``status`` (capitalised) says how, ``progress`` (when
        given) is where the bar stays."""
        if self.current(gen):
            with param.parameterized.batch_call_watchers(self):
                self.busy = False
                if progress is not None:
                    self.progress = progress
                if status:
                    self.status = status[0].upper() + status[1:]

    def fail(self, gen, err) -> None:
        """Show ``err`` (an engine bug by its type and text, never a traceback)."""
        if self.current(gen):
            msg = str(err) if isinstance(err, ExplorerError) else f"{type(err).__name__}: {err}"
            with param.parameterized.batch_call_watchers(self):
                self.busy = False
                self.error = msg
                self.status = "Stopped on an error (see above); fix the setting and try again."

    def reset(self, status) -> None:
        """Forget the work: not busy, no error, ``status``."""
        with param.parameterized.batch_call_watchers(self):
            self.busy = False
            self.progress = 0.0
            self.error = ""
            self.status = status

    def cancel(self) -> None:
        """Ask the worker to stop; it stops before the next run's round (within one round)."""
        if self.busy:
            self._cancel.set()
            self.status = "Cancelling after the current run's round…"

    def slot(self, gen, schedule=None):
        """A worker slot of :data:`SLOTS` for one unit of this job's work (worker thread); the
        status says so while it waits for one."""
        def on_wait(ahead):
            if schedule is not None:
                schedule(bind(self.set_progress, gen, self.progress,
                              f"Waiting for a free worker ({ahead} in line; the server computes "
                              f"{SLOTS.n} at a time)…"))
        return SLOTS.slot(on_wait)

    def _guarded(self, gen, callback):
        """``callback`` that, when it raises on the event loop, ends the job with the error
        (the page must not stay busy) and lets the error reach the server's log."""
        def call():
            try:
                return callback()
            except Exception as err:
                self.fail(gen, err)
                raise
        return call

    def wait(self, timeout=None) -> None:
        """Block until the worker thread ends (tests, notebooks)."""
        if self._thread is not None:
            self._thread.join(timeout)

    # ----------------------------------------------------------------- the worker thread
    def run(self, what, work, schedule, *, locked=True) -> bool:
        """Run ``work(gen)`` in a worker thread; it returns a callback (or None) for ``schedule``.

        ``what`` is the status while it runs. With ``locked`` the work holds :attr:`lock`
        throughout; otherwise it takes the lock itself (rounds: once per round, so readers get a
        turn in between). Returns False (and sets :attr:`error`) when work is already running.
        Errors land in :attr:`error`, never as a traceback.
        """
        if self.busy:
            self.error = "Work is in progress: wait for it or press Pause/Cancel."
            return False
        self.schedule = schedule
        gen = self.begin(what)

        def target():
            try:
                if locked:
                    with self.slot(gen, schedule), self.lock:
                        result = work(gen)
                else:  # the work takes a slot and the lock per unit (a round) itself
                    result = work(gen)
            except ExplorerError as err:
                schedule(bind(self.fail, gen, err))
                return
            except Exception as err:  # an engine bug must not leave the page busy forever
                schedule(bind(self.fail, gen, err))
                raise
            if result is not None:
                schedule(self._guarded(gen, result))

        self._thread = threading.Thread(target=target, name="anchoral-work", daemon=True)
        self._thread.start()
        return True
