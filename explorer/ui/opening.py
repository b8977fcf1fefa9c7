"""A class opening one server at once: every page's map before any page's plots.

A served page's first document holds the buttons, the map and the labelling queue; the rest
(plots, table, settings and session cards) is built after the browser has drawn that first
document (the page's load event). When ten people open one server at once, their browsers share
the machine's cores: a page that builds its rest while another page still draws its map makes
that map wait. Here a page builds its rest only once no other page of this server is still
drawing its first document, or after waiting :data:`PATIENCE_S` (so a page that never draws, a
closed tab, holds nobody up for long). One person opening one page waits for nothing.

Measured in docs/benchmarks.md §5g ("A class on this box").
"""

from __future__ import annotations

import threading
import time

__all__ = ["PATIENCE_S", "POLL_S", "Openings", "OPENINGS"]

#: the longest a page waits for other pages' first documents before building its rest (s)
PATIENCE_S = 15.0
#: how often a waiting page looks again (s)
POLL_S = 0.25


class Openings:
    """The pages of one server whose first document is not drawn yet.

    Parameters
    ----------
    patience_s : float
        A page opened longer ago than this no longer holds others up.
    clock : callable
        Seconds, monotonic (a test's clock).
    """

    def __init__(self, patience_s: float = PATIENCE_S, clock=time.monotonic):
        self.patience_s = patience_s
        self._clock = clock
        self._lock = threading.Lock()
        self._drawing: dict[object, float] = {}

    def opened(self, key) -> None:
        """A page's first document was sent: it is drawing."""
        with self._lock:
            self._drawing[key] = self._clock()

    def drawn(self, key) -> None:
        """A page drew its first document (or closed)."""
        with self._lock:
            self._drawing.pop(key, None)

    def others_drawing(self, key) -> bool:
        """Whether a page other than ``key``, opened less than ``patience_s`` ago, is drawing."""
        now = self._clock()
        with self._lock:
            return any(k != key and now - t < self.patience_s for k, t in self._drawing.items())


#: this server's pages
OPENINGS = Openings()
