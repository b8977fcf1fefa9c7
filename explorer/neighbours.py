"""The k rows of a pool nearest to a typed text or to one of its rows, from the pool's own index.

``neighbours(prepared, "free prize inside", k=20)`` encodes the text with the pool's encoder
(:attr:`explorer.prepare.Prepared.encoder`, the offline all-MiniLM-L6-v2) and searches the
pool's cached :class:`~explorer.index.NeighborIndex` (exact or IVF, whichever ``prepare`` built);
``neighbours(prepared, 42, k=20)`` searches with row 42's vector and leaves row 42 out. The
library call behind ``anchoral neighbours`` and the app's search box and map clicks.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._validation import check_int, check_text
from .exceptions import ParameterError

#: the columns of :meth:`Neighbours.frame`
COLUMNS = ("rank", "id", "similarity", "label", "text")


@dataclass(frozen=True, eq=False)
class Neighbours:
    """The result of one search: rows best first.

    Attributes
    ----------
    query : str or int
        The text searched for, or the row id whose neighbours these are.
    ids : int64 ndarray of shape (k,)
        Global row ids, most similar first.
    similarity : float32 ndarray of shape (k,)
        Cosine similarity of each row to the query.
    labels : tuple of str
        Each row's class name (``""`` for a row without a label).
    texts : tuple of str
        Each row's text (untrusted: escape it wherever it is shown).
    seconds : float
        Server time of the search (encoding included for a text).
    """

    query: object
    ids: np.ndarray
    similarity: np.ndarray
    labels: tuple
    texts: tuple
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def by_row(self) -> bool:
        """True when the query is a row id (that row is left out of the result)."""
        return not isinstance(self.query, str)

    def frame(self) -> pd.DataFrame:
        """One row per neighbour: rank (1 = most similar), id, similarity, label, text."""
        return pd.DataFrame({"rank": np.arange(1, len(self.ids) + 1, dtype=np.int64),
                             "id": self.ids.astype(np.int64),
                             "similarity": self.similarity.astype(np.float32),
                             "label": list(self.labels), "text": list(self.texts)},
                            columns=list(COLUMNS))


def query_vector(prepared, query, encoder=None) -> np.ndarray:
    """The (1, d) float32 unit vector of ``query``: a text encoded with the pool's encoder, or
    the vector of row ``query``. Validates ``query`` (see :func:`neighbours`)."""
    n = prepared.embeddings.shape[0]
    if isinstance(query, numbers.Integral) and not isinstance(query, bool):
        row = check_int("query", query, 0, maximum=n - 1,
                        fix="give a row id of this pool, or a text")
        return np.asarray(prepared.embeddings[row:row + 1], dtype=np.float32)
    if not isinstance(query, str):
        raise ParameterError(f"query={query!r} must be a text or a row id (int); "
                             "type some words, or give a row id", param="query", value=query)
    text = check_text("query", query, fix="type some words, or give a row id")
    encoder = encoder if encoder is not None else getattr(prepared, "encoder", None)
    if encoder is None:
        raise ParameterError(
            f"query={query!r}: this pool has no text encoder (its vectors are synthetic or were "
            "given precomputed), so a text cannot be placed among them; search by row id "
            "instead (query=<int>, `anchoral neighbours DATA --id ROW`)",
            param="query", value=query)
    from .embed import normalize

    vec = normalize(encoder.encode([text]))
    if vec.shape[1] != prepared.embeddings.shape[1]:
        raise ParameterError(f"encoder gives {vec.shape[1]}-d vectors but the pool holds "
                             f"{prepared.embeddings.shape[1]}-d ones; use the pool's encoder")
    return vec


def neighbours(prepared, query, k=20, *, encoder=None) -> Neighbours:
    """The ``k`` rows of ``prepared`` most similar to ``query``.

    Parameters
    ----------
    prepared : Prepared
        The pool: its dataset, embeddings and index (:func:`explorer.prepare.prepare`, or a
        synthetic pool).
    query : str or int
        A text, encoded with the pool's encoder (``prepared.encoder``; a pool of synthetic or
        precomputed vectors has none: search by row id), or a global row id, whose vector is
        searched with and which is left out of the result.
    k : int, default 20
        Rows returned, ``1 <= k <=`` the pool's rows (one fewer for a row query).
    encoder : Encoder, optional
        Encode a text query with this encoder instead of ``prepared.encoder`` (it must be the
        encoder of the pool's vectors).

    Returns
    -------
    Neighbours
        ids, similarities, labels and texts, best first; :meth:`Neighbours.frame` as a table.
    """
    t0 = time.perf_counter()
    n = prepared.embeddings.shape[0]
    by_row = isinstance(query, numbers.Integral) and not isinstance(query, bool)
    limit = n - 1 if by_row else n
    k = check_int("k", k, 1, maximum=max(limit, 1),
                  fix=f"the pool has {n:,} rows" + (" besides the query row" if by_row else ""))
    vec = query_vector(prepared, query, encoder)
    exclude = np.array([int(query)], np.int64) if by_row else None
    ids, sims = prepared.index.search(vec, k, exclude=exclude)
    keep = ids[0] >= 0
    ids, sims = ids[0][keep].astype(np.int64), sims[0][keep].astype(np.float32)
    ds = prepared.dataset
    y = ds.y[ids]
    labels = tuple(ds.classes[c] if c >= 0 else "" for c in y)
    texts = tuple(str(t) for t in ds.texts[ids])
    return Neighbours(query=int(query) if by_row else str(query), ids=ids, similarity=sims,
                      labels=labels, texts=texts, seconds=time.perf_counter() - t0)


__all__ = ["Neighbours", "neighbours", "query_vector", "COLUMNS"]
