"""The small types of an experiment's contracts: a run's key (:class:`RunKey`) and one round's result (:class:`RoundResult`).

Both are frozen dataclasses that the library, the CLI and the app share instead of strings parsed
by hand and dicts read by string. No heavy import.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field

#: the scalar columns of a rounds table (``RoundResult.to_row()``), before ``f1_<class>`` and lists
ROUND_COLUMNS = [
    "filter", "strategy", "model", "seed", "round", "n_labelled", "n_minority", "minority_share",
    "n_queried", "subpool_size", "subpool_minority_share", "n_anchors", "t_retrieval",
    "t_scoring", "t_selection", "t_train", "t_eval", "minority_f1", "majority_f1", "macro_f1",
]
#: the list columns of a rounds table: global ids of the round's anchors, subpool and queries,
#: and the committed class of each query (-1 = skipped)
ROUND_LIST_COLUMNS = ["anchor_ids", "subpool_ids", "queried_ids", "queried_labels"]
QUERY_COLUMNS = ["filter", "strategy", "seed", "round", "id", "label", "score", "anchor_id",
                 "similarity"]

_COPY = re.compile(r"#(\d+)$")


@dataclass(frozen=True)
class RunKey:
    """The name of a run: ``filter/strategy``, or for a fork
    ``filter/strategy[k=v,...]@<parent key>:<round>`` (``#i`` appended for the i-th identical fork).

    ``str(key)`` writes the mini-language and :meth:`parse` reads it back
    (``str(RunKey.parse(s)) == s``); the library keys runs, sessions and tables by that string.

    Attributes
    ----------
    filter, strategy : str
    params : tuple of (name, text) pairs
        Filter parameters the fork changed, sorted by name (values as written, e.g. ``"5"``).
    parent : RunKey or None
        The run a fork branched off.
    at_round : int or None
        The parent's last round the fork inherited.
    copy : int
        1, or i >= 2 for the i-th fork with the same settings at the same place.
    """

    filter: str
    strategy: str
    params: tuple = ()
    parent: RunKey | None = None
    at_round: int | None = None
    copy: int = 1

    @classmethod
    def of(cls, filter, strategy, params=None, parent=None, at_round=None, copy=1) -> RunKey:
        """A key from Python values (``params`` a dict; ``parent`` a key or its string)."""
        items = tuple(sorted((str(k), str(v)) for k, v in (params or {}).items()))
        if isinstance(parent, str):
            parent = cls.parse(parent)
        return cls(str(filter), str(strategy), items, parent,
                   None if at_round is None else int(at_round), int(copy))

    @classmethod
    def parse(cls, text) -> RunKey:
        """Read a key written by ``str()``; raises :class:`~explorer.exceptions.ParameterError`."""
        from .exceptions import ParameterError

        text = str(text)
        own, at, rest = text.partition("@")
        parent = at_round = None
        copy = 1
        if at:
            m = _COPY.search(rest)
            if m:
                copy, rest = int(m.group(1)), rest[:m.start()]
            parent_text, colon, rnd = rest.rpartition(":")
            if not colon or not rnd.isdigit() or not parent_text:
                raise ParameterError(f"run key {text!r} is malformed: a fork is written "
                                     "'filter/strategy[params]@parent:round'")
            parent, at_round = cls.parse(parent_text), int(rnd)
        head, bracket, params_text = own.partition("[")
        filt, slash, strategy = head.partition("/")
        if not slash or not filt or not strategy or (bracket and not params_text.endswith("]")):
            raise ParameterError(f"run key {text!r} is malformed: write 'filter/strategy', e.g. "
                                 "'anchoral/entropy'")
        params = ()
        if bracket:
            pairs = [p.partition("=") for p in params_text[:-1].split(",") if p]
            params = tuple((k, v) for k, _, v in pairs)
        return cls(filt, strategy, params, parent, at_round, copy)

    @property
    def base(self) -> str:
        """``filter/strategy`` (the root run's key, without fork parameters)."""
        return f"{self.filter}/{self.strategy}"

    @property
    def is_fork(self) -> bool:
        return self.parent is not None

    def root(self) -> RunKey:
        """The run this key's chain of forks started from."""
        key = self
        while key.parent is not None:
            key = key.parent
        return key

    def with_copy(self, copy) -> RunKey:
        return dataclasses.replace(self, copy=int(copy))

    def __str__(self) -> str:
        text = self.base
        if self.params:
            text += "[" + ",".join(f"{k}={v}" for k, v in self.params) + "]"
        if self.parent is not None:
            text += f"@{self.parent}:{self.at_round}"
            if self.copy > 1:
                text += f"#{self.copy}"
        return text


@dataclass(frozen=True, eq=False)
class RoundResult:
    """What one run did in one round: sizes, minority share, timings, test metrics, and the ids.

    Round 0 is the model trained on the initial set (no selection: empty ids, NaN timings).
    ``to_row()`` is the round's row of a rounds table: the run key, :data:`ROUND_COLUMNS`, one
    ``f1_<class>`` column per class, then :data:`ROUND_LIST_COLUMNS`.

    Attributes
    ----------
    run : str
        The run's key (``str`` of a :class:`RunKey`).
    filter, strategy, model : str
    seed, round, n_labelled, n_minority, n_queried, subpool_size, n_anchors : int
    minority_share : float
        Minority share of the labelled set after the round.
    subpool_minority_share : float
        Minority share (by gold label) of the candidates the base strategy saw; NaN at round 0.
    t_retrieval, t_scoring, t_selection, t_train, t_eval : float, seconds
    minority_f1, majority_f1, macro_f1 : float
        On the held-out test split; NaN without one (annotate mode).
    class_f1 : tuple of (column, f1)
        ``("f1_<class>", f1)`` per class, in class order.
    anchor_ids, subpool_ids, queried_ids : tuple of int
    queried_labels : tuple of int
        Committed class of each queried id (-1 = skipped).
    """

    run: str
    filter: str
    strategy: str
    model: str
    seed: int
    round: int
    n_labelled: int
    n_minority: int
    minority_share: float
    n_queried: int = 0
    subpool_size: int = 0
    subpool_minority_share: float = math.nan
    n_anchors: int = 0
    t_retrieval: float = math.nan
    t_scoring: float = math.nan
    t_selection: float = math.nan
    t_train: float = math.nan
    t_eval: float = math.nan
    minority_f1: float = math.nan
    majority_f1: float = math.nan
    macro_f1: float = math.nan
    class_f1: tuple = ()
    anchor_ids: tuple = field(default=())
    subpool_ids: tuple = field(default=())
    queried_ids: tuple = field(default=())
    queried_labels: tuple = field(default=())

    def to_row(self) -> dict:
        """The round as one row of a rounds table (lists as Python lists)."""
        row = {"run": self.run}
        row.update({c: getattr(self, c) for c in ROUND_COLUMNS})
        row.update(dict(self.class_f1))
        row.update({c: list(getattr(self, c)) for c in ROUND_LIST_COLUMNS})
        return row

    def metrics(self) -> dict:
        """:meth:`to_row` without the id lists (what a plot or a status line reads)."""
        row = self.to_row()
        for c in ROUND_LIST_COLUMNS:
            row.pop(c)
        return row

    def relabel(self, run, filter=None, strategy=None) -> RoundResult:
        """The same round under another run key (a fork inherits its parent's rounds)."""
        return dataclasses.replace(self, run=str(run), filter=filter or self.filter,
                                   strategy=strategy or self.strategy)
