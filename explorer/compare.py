"""Two runs side by side (rows queried by both, by one only, per class) and minority enrichment per round.

Both functions read a rounds table (``Experiment.rounds_frame()`` or a session's
``rounds.parquet``), so they work on a live experiment, a saved session and an export alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .exceptions import ParameterError

#: the three groups of :func:`compare_runs`, in drawing order
GROUPS = ("both", "only A", "only B")
#: the three shares of :func:`enrichment_frame`
ENRICHMENT = {"pool": "pool_minority_share", "subpool": "subpool_minority_share",
              "queried": "queried_minority_share"}


@dataclass(frozen=True)
class RunComparison:
    """What two runs queried up to a round.

    Attributes
    ----------
    run_a, run_b : str
    round : int
    points : DataFrame
        One row per id queried by either run: ``id`` (int64), ``group`` (one of :data:`GROUPS`),
        ``label`` (class name; ``"(skipped)"`` for a skipped row), ``round_a`` / ``round_b`` (the
        round each run queried it, -1 = never).
    counts : DataFrame
        Rows queried per class (index: classes with at least one row, in class order, plus a
        ``total`` row) and group (columns :data:`GROUPS`).
    """

    run_a: str
    run_b: str
    round: int
    points: pd.DataFrame
    counts: pd.DataFrame

    def summary(self) -> str:
        """``"both 12, only A 38, only B 38"``."""
        total = self.counts.loc["total"]
        return ", ".join(f"{g} {int(total[g])}" for g in GROUPS)


def _queried(df, run, upto, cumulative):
    mine = df[(df["run"] == run) & (df["round"] >= 1)]
    mine = mine[mine["round"] <= upto] if cumulative else mine[mine["round"] == upto]
    ids, labels, rounds = [], [], []
    for _, row in mine.iterrows():
        q = np.asarray(row["queried_ids"], np.int64)
        lab = np.asarray(row["queried_labels"], np.int64)
        if len(lab) != len(q):
            lab = np.full(len(q), -1, np.int64)
        ids.append(q)
        labels.append(lab)
        rounds.append(np.full(len(q), int(row["round"]), np.int64))
    if not ids:
        return pd.DataFrame({"id": np.empty(0, np.int64), "label": np.empty(0, np.int64),
                             "round": np.empty(0, np.int64)})
    return pd.DataFrame({"id": np.concatenate(ids), "label": np.concatenate(labels),
                         "round": np.concatenate(rounds)}).drop_duplicates("id")


def compare_runs(rounds, run_a, run_b, round=None, *, classes=None,
                 cumulative=True) -> RunComparison:
    """The rows ``run_a`` and ``run_b`` queried up to ``round``: by both, only A, only B.

    Parameters
    ----------
    rounds : DataFrame
        A rounds table with ``run``, ``round``, ``queried_ids`` and ``queried_labels``.
    run_a, run_b : str
        Run keys (``"anchoral/entropy"``); they must differ.
    round : int, optional
        The last round compared; default the last round both runs completed.
    classes : sequence of str, optional
        Class names for the committed labels (class indices are shown otherwise).
    cumulative : bool, default True
        Every round up to ``round``; ``False`` compares the batches of ``round`` alone.
    """
    df = pd.DataFrame(rounds)
    keys = list(dict.fromkeys(df["run"])) if len(df) else []
    for name, key in (("run_a", run_a), ("run_b", run_b)):
        if key not in keys:
            raise ParameterError(f"{name}={key!r} is not a run of this table; choose one of "
                                 f"{', '.join(keys) or '(none yet)'}")
    if run_a == run_b:
        raise ParameterError(f"run_a and run_b are both {run_a!r}; pick two different runs")
    last = int(min(df.loc[df["run"] == k, "round"].max() for k in (run_a, run_b)))
    if round is None:
        round = last
    if isinstance(round, bool) or not isinstance(round, (int, np.integer)) or \
            not 1 <= round <= max(last, 1):
        raise ParameterError(f"round={round!r} must be a round both runs completed, 1..{last}")
    a, b = (_queried(df, k, int(round), cumulative) for k in (run_a, run_b))
    a = a.set_index("id")
    b = b.set_index("id")
    ids = np.union1d(a.index.to_numpy(np.int64), b.index.to_numpy(np.int64))
    in_a, in_b = np.isin(ids, a.index), np.isin(ids, b.index)
    group = np.where(in_a & in_b, GROUPS[0], np.where(in_a, GROUPS[1], GROUPS[2]))
    label = np.where(in_a, a["label"].reindex(ids).fillna(-1).to_numpy(),
                     b["label"].reindex(ids).fillna(-1).to_numpy()).astype(np.int64)
    names = [_class_name(v, classes) for v in label]
    points = pd.DataFrame({
        "id": ids, "group": group, "label": names,
        "round_a": a["round"].reindex(ids).fillna(-1).to_numpy(np.int64),
        "round_b": b["round"].reindex(ids).fillna(-1).to_numpy(np.int64)})
    order = list(classes) if classes is not None else []
    order += sorted(set(names) - set(order), key=str)
    counts = (pd.crosstab(pd.Categorical(points["label"], categories=order),
                          pd.Categorical(points["group"], categories=list(GROUPS)), dropna=False)
              .reindex(index=order, columns=list(GROUPS), fill_value=0))
    counts = counts[counts.sum(axis=1) > 0]
    counts.index.name, counts.columns.name = "class", None
    counts.loc["total"] = counts.sum()
    return RunComparison(run_a, run_b, int(round), points, counts.astype(np.int64))


def _class_name(v, classes):
    if v < 0:
        return "(skipped)"
    return str(classes[v]) if classes is not None else str(int(v))


def enrichment_frame(rounds) -> pd.DataFrame:
    """Minority share per run and round of the unlabelled pool, the subpool and the queried
    batch, in long form: columns ``run``, ``round``, ``what`` (``pool``, ``subpool``,
    ``queried``), ``share``. Round 0 (no selection) is left out."""
    df = pd.DataFrame(rounds)
    cols = [c for c in ENRICHMENT.values() if c in df.columns]
    if df.empty or not cols:
        return pd.DataFrame({"run": [], "round": [], "what": [], "share": []})
    df = df[df["round"] >= 1]
    long = df.melt(id_vars=["run", "round"], value_vars=cols, var_name="what",
                   value_name="share")
    long["what"] = long["what"].map({v: k for k, v in ENRICHMENT.items()})
    return long.reset_index(drop=True)


__all__ = ["GROUPS", "ENRICHMENT", "RunComparison", "compare_runs", "enrichment_frame"]
