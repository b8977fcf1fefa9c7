"""The explore state of one page: the last neighbour search and the rows selected on the map.

No Panel: :class:`~explorer.ui.explore.ExploreView` binds to it. A text search encodes the text
with the pool's encoder (``prepared.encoder``, loaded once per process with the shared pool) on
a worker thread and hands the result back through ``schedule``; a row search (a click on the
map) and the box / lasso selections are fast and run where they are called. Both highlight rows
on the map; neither changes the pool, the runs or the labels.
"""

from __future__ import annotations

import concurrent.futures
import html
import threading

import numpy as np
import param

from ..exceptions import ExplorerError
from ..neighbours import Neighbours, neighbours
from ..selection import nearest_row, rows_in_box, rows_in_polygon, selection_frame

#: text searches of every session of the process share these threads (encoding is short)
_EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                                   thread_name_prefix="anchoral-neighbours")
#: one text encoding at a time per process: the first loads the shared model once (two pages
#: searching at once would each load it), later ones take ~15 ms of CPU
_ENCODE = threading.Lock()


class ExploreState(param.Parameterized):
    """Neighbours of a text or a row, and a box / lasso selection of rows, for one page.

    Parameters
    ----------
    prepared : Prepared
        The shared, read-only pool (dataset, embeddings, index, coords, encoder).
    """

    k = param.Integer(default=10, bounds=(1, 500), doc="Neighbours per search.")
    result = param.ClassSelector(class_=Neighbours, default=None, allow_None=True,
                                 doc="The last search's result, or None.")
    selection = param.Array(default=np.empty(0, np.int64),
                            doc="Global ids of the rows selected on the map (ascending).")
    selection_how = param.String(default="", doc="'box' or 'lasso' (empty: no selection).")
    busy = param.Boolean(default=False, doc="A text search is running.")
    status = param.String(default="", doc="What the last action did.")
    error = param.String(default="", doc="Why the last action failed (empty: it did not).")

    def __init__(self, prepared, **params):
        super().__init__(**params)
        self.prepared = prepared
        self._gen = 0

    @property
    def has_encoder(self) -> bool:
        """Whether a typed text can be searched (synthetic / precomputed pools: rows only)."""
        return getattr(self.prepared, "encoder", None) is not None

    # ------------------------------------------------------------------------ neighbours
    def _done(self, gen, res=None, err=None) -> None:
        if gen != self._gen:
            return  # a newer search (or a clear) replaced this one
        with param.parameterized.batch_call_watchers(self):
            self.busy = False
            if err is not None:
                self.error = str(err)
                return
            self.error = ""
            self.result = res
            what = f"row {res.query}" if res.by_row else f"“{res.query}”"
            self.status = f"{len(res)} nearest rows to {what} ({res.seconds * 1000:.0f} ms)."

    def search_text(self, text, schedule=None) -> bool:
        """Search the ``k`` rows nearest to ``text`` on a worker thread; the result arrives
        through ``schedule(callback)`` (default: at once, in the worker). False when refused
        (the message is in :attr:`error`)."""
        from .._validation import check_text

        try:
            text = check_text("query", text, fix="type some words")
            if not self.has_encoder:
                neighbours(self.prepared, text, k=self.k)  # raises the library's message
        except ExplorerError as err:
            self.error = str(err)
            return False
        self._gen += 1
        gen, k, schedule = self._gen, self.k, schedule or (lambda cb: cb())
        self.busy, self.error = True, ""
        self.status = f"Searching the {k} rows nearest to “{text}”…"

        def work():
            try:
                with _ENCODE:
                    res, err = neighbours(self.prepared, text, k=k), None
            except Exception as e:  # shown in the page; nothing else changes
                res, err = None, e
            schedule(lambda: self._done(gen, res, err))

        _EXECUTOR.submit(work)
        return True

    def search_row(self, row) -> bool:
        """Search the ``k`` rows nearest to row ``row`` (now: a row's search is fast)."""
        self._gen += 1
        try:
            res = neighbours(self.prepared, int(row), k=self.k)
        except ExplorerError as err:
            self.busy, self.error = False, str(err)
            return False
        self._done(self._gen, res)
        return True

    def tap(self, x, y, max_distance=None) -> bool:
        """The neighbours of the row drawn nearest to the map point ``(x, y)`` (none within
        ``max_distance`` data units: nothing happens)."""
        if self.prepared.coords is None:
            return False
        row = nearest_row(self.prepared.coords, x, y, max_distance)
        return row is not None and self.search_row(row)

    def clear_result(self) -> None:
        """Forget the last search (its highlight goes)."""
        self._gen += 1
        with param.parameterized.batch_call_watchers(self):
            self.busy, self.result, self.status, self.error = False, None, "", ""

    def result_rows(self) -> list[dict]:
        """The result as rows for a list: rank, id, label, similarity, text (raw: escape it)."""
        res = self.result
        if res is None:
            return []
        return [{"rank": i + 1, "id": int(r), "label": lab, "similarity": float(s), "text": t}
                for i, (r, s, lab, t) in enumerate(zip(res.ids, res.similarity, res.labels,
                                                        res.texts))]

    # ------------------------------------------------------------------------- selection
    def _select(self, ids, how) -> int:
        with param.parameterized.batch_call_watchers(self):
            self.selection = np.asarray(ids, np.int64)
            self.selection_how = how if len(ids) else ""
            self.error = ""
            # a selection's count and classes: selection_summary()
            self.status = "" if len(ids) else f"No rows in that {how}."
        return len(ids)

    def select_box(self, x_range, y_range) -> int:
        """Select the rows in the box (data coordinates of the map); returns how many."""
        return self._select(rows_in_box(self.prepared.coords, x_range, y_range), "box")

    def select_lasso(self, xs, ys) -> int:
        """Select the rows inside the lasso polygon; returns how many."""
        try:
            ids = rows_in_polygon(self.prepared.coords, xs, ys)
        except ExplorerError as err:
            self.error = str(err)
            return 0
        return self._select(ids, "lasso")

    def clear_selection(self) -> None:
        self._select(np.empty(0, np.int64), "")
        self.status = ""

    def selection_frame(self):
        """The selection as a table: id, text, label, x, y
        (:func:`explorer.selection.selection_frame`)."""
        return selection_frame(self.prepared, self.selection)

    def export_selection(self, fmt) -> bytes:
        """The selection as the bytes of a ``csv`` (formula cells neutralised), ``parquet`` or
        ``jsonl`` file (:func:`explorer.export.table_bytes`)."""
        from ..export import table_bytes

        return table_bytes(self.selection_frame(), fmt)

    def selection_summary(self) -> str:
        """``"120 rows selected (box): ham 100, spam 20"`` as escaped HTML, or ``""``."""
        ids = self.selection
        if not len(ids):
            return ""
        ds = self.prepared.dataset
        y = ds.y[ids]
        counts = np.bincount(y[y >= 0], minlength=len(ds.classes))
        parts = [f"{html.escape(str(ds.classes[c]))} {counts[c]:,}"
                 for c in np.argsort(-counts) if counts[c]]
        if (y < 0).any():
            parts.append(f"unlabelled {(y < 0).sum():,}")
        return (f"<b>{len(ids):,}</b> rows selected ({html.escape(self.selection_how)}): "
                + ", ".join(parts))


__all__ = ["ExploreState"]
