"""Atomic file writes: the one way the library puts a file on disk (temporary name, fsync, rename)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_atomic(path, write_fn) -> Path:
    """Write ``path`` so that a reader (or a crash, or ``kill -9``) sees the old file or the new one.

    ``write_fn(tmp)`` writes the whole content to ``tmp``, a temporary path in the same directory
    with the same suffix (so ``np.save`` and ``to_parquet`` keep their file names); the file is then
    flushed to disk (``fsync``) and renamed over ``path``. The temporary file is removed when
    ``write_fn`` or the rename fails, and the error is raised again. Parent directories are created.

    Parameters
    ----------
    path : str or Path
        The final file.
    write_fn : callable(Path) -> Any
        Writes the content to the path it is given.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        write_fn(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def save_array(path, array) -> Path:
    """``np.save`` an array atomically (no pickle): see :func:`write_atomic`."""
    import numpy as np

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array), allow_pickle=False)

    return write_atomic(path, write)


class NpyBlockWriter:
    """Write a ``.npy`` file of a known shape block by block, in row order, with plain file writes.

    ``writer[start:stop] = block`` appends rows ``start:stop`` (cast to ``dtype``); blocks must
    come in order. Unlike a writable memory map, the written pages never count towards the
    process's resident memory, so a 10M x 384 pool is generated in the memory of one block.
    Use inside :func:`write_atomic` (``NpyBlockWriter(tmp, shape, dtype)``); :meth:`close` checks
    that every row was written.
    """

    def __init__(self, path, shape, dtype):
        import numpy as np

        self.shape, self.dtype = tuple(int(s) for s in shape), np.dtype(dtype)
        self._fh = open(path, "wb")
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": self.shape}
        np.lib.format.write_array_header_1_0(self._fh, header)
        self._next = 0

    def __setitem__(self, rows, block):
        import numpy as np

        from .exceptions import ParameterError

        start, stop, _ = rows.indices(self.shape[0])
        if start != self._next:
            raise ParameterError(f"rows {start}:{stop} written out of order; write row "
                                 f"{self._next} next")
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if block.shape != (stop - start, *self.shape[1:]):
            raise ParameterError(f"a block of shape {block.shape} for rows {start}:{stop}; "
                                 f"give {stop - start} rows of shape {self.shape[1:]}")
        self._fh.write(block.data)
        self._next = stop

    def close(self):
        from .exceptions import ParameterError

        self._fh.close()
        if self._next != self.shape[0]:
            raise ParameterError(f"{self._next} of {self.shape[0]} rows written; write every "
                                 "row before closing")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        else:
            self._fh.close()

