"""Progress for long steps: a tqdm bar in a terminal, plain timestamped lines in a log file.

``bar(total, desc, unit)`` returns an object with tqdm's ``update`` / ``set_postfix`` / ``close``
(and a context manager). On a terminal it is a tqdm bar; when the stream is not a terminal (a log
file, a pipe, a CI job) carriage-return redraws would pile up, so it writes one line when the step
starts, a line at most every ``interval`` seconds, and one line when it ends::

    embedding: 0/117,791 text
    embedding: 20,480/117,791 text (17 %), 62 s, 330.3 text/s, ~295 s left
    embedding: done, 117,791 text in 361.0 s (326.3 text/s)
"""

from __future__ import annotations

import sys
import time

#: seconds between two progress lines in a log
LOG_INTERVAL = 30.0


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def _rate(n, seconds, unit) -> str:
    """``'326.1 text/s'``, or ``'46.2 s/part'`` when one unit takes more than a second."""
    if n <= 0:
        return f"0 {unit}/s"
    per_s = n / max(seconds, 1e-9)
    return f"{per_s:,.1f} {unit}/s" if per_s >= 1 else f"{seconds / n:,.1f} s/{unit}"


class LineProgress:
    """tqdm's small interface, written as plain lines (for logs)."""

    def __init__(self, total, desc, unit, file, interval=LOG_INTERVAL, initial=0):
        self.total, self.desc, self.unit, self.file = total, desc, unit, file
        self.interval = interval
        self.n = self._n0 = int(initial)
        self.postfix = ""
        self._start = self._last = time.perf_counter()
        self._closed = False
        extra = f" ({self.n:,} already done)" if self.n else ""
        self._write(f"{desc}: {self.n:,}/{self._total()} {unit}{extra}")

    def _total(self):
        return "?" if self.total is None else f"{self.total:,}"

    def _write(self, line):
        print(line + (f" {self.postfix}" if self.postfix else ""), file=self.file, flush=True)

    def update(self, n=1):
        self.n += n
        now = time.perf_counter()
        if now - self._last >= self.interval and (self.total is None or self.n < self.total):
            self._last = now
            spent = now - self._start
            share = f" ({100 * self.n / self.total:.0f} %)" if self.total else ""
            left = ""
            if self.total and self.n > self._n0:
                left = f", ~{(self.total - self.n) * spent / (self.n - self._n0):.0f} s left"
            self._write(f"{self.desc}: {self.n:,}/{self._total()} {self.unit}{share}, "
                        f"{spent:.0f} s, {_rate(self.n - self._n0, spent, self.unit)}{left}")

    def set_postfix(self, **values):
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self):
        if self._closed:
            return
        self._closed = True
        spent = time.perf_counter() - self._start
        self._write(f"{self.desc}: done, {self.n:,} {self.unit} in {spent:.1f} s "
                    f"({_rate(self.n - self._n0, spent, self.unit)})")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def quiet_library_bars(file=None) -> bool:
    """Turn off Hugging Face's own bars ("Loading weights") when ``file`` (stderr) is a log.

    Call before loading a model. Returns True when they were turned off.
    """
    file = sys.stderr if file is None else file
    if _isatty(file):
        return False
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read when the hub is imported
    if "transformers" in sys.modules:  # already imported: switch it off there too
        sys.modules["transformers"].utils.logging.disable_progress_bar()
    return True


def bar(total=None, desc="", unit="it", show=True, initial=0, file=None, position=None,
        interval=LOG_INTERVAL):
    """A progress bar for one step: tqdm on a terminal, :class:`LineProgress` in a log.

    Parameters
    ----------
    total : int or None
    desc, unit : str
    show : bool
        ``False`` gives a silent bar (``tqdm(disable=True)``).
    initial : int
        Units already done (a resumed step).
    file : stream, default ``sys.stderr``
    position : int, optional
        tqdm's line for several bars at once (terminal only; lines need none).
    interval : float
        Seconds between two lines in a log.
    """
    from tqdm.auto import tqdm

    file = sys.stderr if file is None else file
    if not show:
        return tqdm(total=total, disable=True)
    if not _isatty(file):
        return LineProgress(total, desc, unit, file, interval=interval, initial=initial)
    return tqdm(total=total, desc=desc, unit=unit, initial=initial, file=file, position=position,
                leave=True, mininterval=0.5, dynamic_ncols=True)
