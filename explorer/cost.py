"""What a round costs: texts scored and encoded per run, projected to larger pools from a measurement.

The AnchorAL paper's argument is a count. With a fine-tuned encoder, full-pool active learning must
re-encode every unlabelled text each round to score it; AnchorAL scores only the subpool its
anchors retrieve, at most ``classes x n_anchors x n_neighbors`` rows, capped at M. Multiplying
those counts by the per-text encoding cost measured on this machine
(``benchmarks/bench_encoder.py``) gives the projection of :func:`project_cost`;
:func:`explain_rounds` turns a rounds table into one sentence saying what the runs show.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .exceptions import ParameterError
from .settings import default_subpool_size

#: the pools a projection covers besides the one at hand
PROJECTION_SIZES = (100_000, 1_000_000, 10_000_000)
#: where ``benchmarks/bench_encoder.py`` writes its measurement in a checkout of the project
ENCODER_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "encoder.json"

_NAMES = {"anchoral": "AnchorAL", "full": "full pool", "randsub": "RandSub", "seals": "SEALS"}


@dataclass(frozen=True)
class EncoderCost:
    """The measured CPU cost of encoding one text with the fine-tuned encoder.

    Attributes
    ----------
    seconds_per_text : float
        CPU seconds per text (one thread), median over the benchmark's rounds and filters.
    source : str
        The file the figure was read from (or ``"recorded in explorer.cost"`` without a checkout).
    provenance : str
        How and where it was measured: model, settings, date, machine.
    """

    seconds_per_text: float
    source: str
    provenance: str

    def describe(self) -> str:
        """``"24.1 ms of CPU per text (...)"``."""
        return f"{1000 * self.seconds_per_text:.1f} ms of CPU per text ({self.provenance})"


#: bench_encoder.py's figure as recorded in benchmarks/results/encoder.json (2026-11-24); used when
#: the file is not there (an installed package); a test keeps the two equal
RECORDED = EncoderCost(
    seconds_per_text=0.02411043107430573, source="recorded in explorer.cost",
    provenance="fine-tuned MiniLM, max_length 128, one thread; bench_encoder.py on the shipped "
               "sample, 2026-11-24, 2-core CPU, torch 2.13.0+cpu")


def encoder_cost(path=None) -> EncoderCost:
    """The per-text encoding cost measured by ``benchmarks/bench_encoder.py``.

    Parameters
    ----------
    path : str or Path, optional
        An ``encoder.json`` written by the benchmark. Default: the checkout's
        ``benchmarks/results/encoder.json``, else :data:`RECORDED`.
    """
    if path is None:
        if not ENCODER_RESULTS.exists():
            return RECORDED
        path = ENCODER_RESULTS
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        seconds = float(doc["per_text_s_cpu"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ParameterError(f"path={str(path)!r} is not an encoder.json written by "
                             f"bench_encoder.py ({type(err).__name__}: {err}); run "
                             "`python benchmarks/bench_encoder.py` or leave path unset") from None
    m = doc.get("machine", {})
    provenance = (f"fine-tuned MiniLM, max_length 128, {doc.get('threads', 1)} thread; "
                  f"bench_encoder.py on {doc.get('pool_rows', '?'):,} sample rows, "
                  f"{str(m.get('date', '?'))[:10]}, {m.get('cpus', '?')}-core CPU, "
                  f"torch {m.get('torch', '?')}")
    return EncoderCost(seconds, path.name if path == ENCODER_RESULTS else str(path), provenance)


def anchoral_budget(n_unlabelled, n_classes, n_anchors=10, n_neighbors=50, subpool_size=None,
                    n_train=None) -> int:
    """At most how many rows AnchorAL scores in a round: ``min(classes x n_anchors x k, M,
    unlabelled)`` (duplicates among the retrieved rows make it smaller in practice).

    ``subpool_size=None`` is the engine's default M for a training pool of ``n_train`` rows
    (default ``n_unlabelled``); with ``unlabelled <= M`` AnchorAL scores the whole pool.
    """
    n_unlabelled = int(n_unlabelled)
    m = (default_subpool_size(n_train or n_unlabelled) if subpool_size is None
         else int(subpool_size))
    if n_unlabelled <= m:
        return n_unlabelled
    return int(min(int(n_classes) * int(n_anchors) * int(n_neighbors), m))


def project_cost(n_rows, n_classes, *, n_unlabelled=None, n_anchors=10, n_neighbors=50,
                 subpool_size=None, test_fraction=0.2, n_labelled=100, sizes=PROJECTION_SIZES,
                 cost=None) -> pd.DataFrame:
    """Per-round selection cost of full-pool AL and AnchorAL with the fine-tuned encoder.

    Parameters
    ----------
    n_rows : int
        Rows of the pool at hand (the first row of the table).
    n_classes, n_anchors, n_neighbors : int
        AnchorAL's retrieval: every class's anchors retrieve ``n_neighbors`` rows each.
    n_unlabelled : int, optional
        The pool at hand's unlabelled rows; default ``n_rows x (1 - test_fraction) - n_labelled``,
        the rule used for the larger pools.
    subpool_size : int, optional
        M; ``None`` = the engine's default for each pool's size (the paper's 10,000 when large).
    test_fraction : float
        Share of rows held out (never scored).
    n_labelled : int
        Rows already labelled (not scored).
    sizes : sequence of int
        The larger pools; sizes not above ``n_rows`` are left out.
    cost : EncoderCost, optional
        Default :func:`encoder_cost`.

    Returns
    -------
    DataFrame
        One row per pool: ``pool`` (rows), ``this_pool`` (bool), ``full_texts`` and
        ``anchoral_texts`` (texts encoded per round), ``full_s`` and ``anchoral_s`` (CPU seconds
        per round), ``full_time`` and ``anchoral_time`` (the same, readable), ``ratio``.
    """
    if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
        raise ParameterError(f"n_rows={n_rows!r} must be an integer >= 1")
    if not 0 <= test_fraction < 1:
        raise ParameterError(f"test_fraction={test_fraction!r} must be in [0, 1)")
    cost = cost or encoder_cost()
    pools = [int(n_rows)] + [int(s) for s in sizes if s > n_rows]
    rows = []
    for i, pool in enumerate(pools):
        n_train = int(pool * (1 - test_fraction))
        unl = (int(n_unlabelled) if i == 0 and n_unlabelled is not None
               else max(n_train - int(n_labelled), 0))
        anc = anchoral_budget(unl, n_classes, n_anchors, n_neighbors, subpool_size, n_train)
        full_s, anc_s = unl * cost.seconds_per_text, anc * cost.seconds_per_text
        rows.append({"pool": pool, "this_pool": i == 0, "full_texts": unl, "anchoral_texts": anc,
                     "full_s": full_s, "anchoral_s": anc_s,
                     "full_time": format_seconds(full_s), "anchoral_time": format_seconds(anc_s),
                     "ratio": full_s / anc_s if anc_s else np.nan})
    return pd.DataFrame(rows)


def explain_projection(table, n_classes, n_anchors=10, n_neighbors=50, cost=None) -> str:
    """One sentence saying what :func:`project_cost`'s ``table`` is and what it shows."""
    cost = cost or encoder_cost()
    last = table.iloc[-1]
    return (f"A projection, not a measurement: the fine-tuned encoder costs "
            f"{cost.describe()}; each round full-pool AL re-encodes every unlabelled text "
            f"while AnchorAL encodes at most {n_classes} classes x {n_anchors} anchors x "
            f"{n_neighbors} neighbours = {n_classes * n_anchors * n_neighbors:,} (capped at M), "
            f"so at {_rows(last['pool'])} rows a round costs {last['full_time']} against "
            f"{last['anchoral_time']}.")


def format_seconds(s) -> str:
    """``0.004 -> "4 ms"``, ``24.1 -> "24 s"``, ``1929 -> "32 min"``, ``19288 -> "5.4 h"``."""
    s = float(s)
    if not np.isfinite(s):
        return "-"
    if s < 1:
        return f"{1000 * s:.0f} ms" if s >= 0.0095 else f"{1000 * s:.1f} ms"
    if s < 100:
        return f"{s:.0f} s" if s >= 9.5 else f"{s:.1f} s"
    if s < 3600:
        return f"{s / 60:.0f} min" if s >= 570 else f"{s / 60:.1f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def _rows(n) -> str:
    n = int(n)
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return f"{n:,}"


def _label(row) -> str:
    name = _NAMES.get(str(row["filter"]), str(row["filter"]))
    return name[0].upper() + name[1:]


def _median(df, col) -> float:
    vals = pd.to_numeric(df.loc[df["round"] >= 1, col], errors="coerce").dropna()
    return float(vals.median()) if len(vals) else np.nan


def explain_rounds(rounds, run=None, cost=None) -> str:
    """One sentence on what the runs in ``rounds`` show about cost, e.g. "AnchorAL scored 6 % of
    the pool; at this size a linear head scores everything in 4 ms, so retrieval dominates".

    Parameters
    ----------
    rounds : DataFrame
        A rounds table (``Experiment.rounds_frame()`` or a session's ``rounds.parquet``): columns
        ``run``, ``filter``, ``round``, ``n_unlabelled``, ``n_scored``, ``n_encoded``,
        ``n_encoded_actual``, ``t_retrieval``, ``t_scoring``, ``t_selection``.
    run : str, optional
        The run to explain; default the first AnchorAL run, else the first run.
    cost : EncoderCost, optional
        The per-text encoding cost for the frozen-head projection; default :func:`encoder_cost`.

    Returns
    -------
    str
        ``""`` before any round has selected.
    """
    df = pd.DataFrame(rounds)
    if df.empty or "n_scored" not in df or not (df["round"] >= 1).any():
        return ""
    df = df[df["round"] >= 1]
    keys = list(dict.fromkeys(df["run"]))
    if run is None:
        run = next((k for k in keys if df.loc[df["run"] == k, "filter"].iloc[0] == "anchoral"),
                   keys[0])
    if run not in keys:
        raise ParameterError(f"run={run!r} has no selected round; choose one of {', '.join(keys)}")
    mine = df[df["run"] == run]
    last = mine.iloc[-1]
    share = last["n_scored"] / max(last["n_unlabelled"], 1)
    text = f"{_label(last)} scored {_percent(share)} of the pool ({int(last['n_scored']):,} of " \
           f"{int(last['n_unlabelled']):,} texts)"
    full_keys = [k for k in keys
                 if df.loc[df["run"] == k, "filter"].iloc[0] == "full" and k != run]
    if not full_keys or last["filter"] == "full":
        return text + f" in {format_seconds(_median(mine, 't_selection'))} per round."
    full = df[df["run"] == full_keys[0]]
    t_sel, t_full = _median(mine, "t_selection"), _median(full, "t_selection")
    if bool(last["n_encoded_actual"]):
        n_full = int(full.iloc[-1]["n_encoded"])
        return text + (f"; its fine-tuned encoder re-encoded {int(last['n_encoded']):,} texts "
                       f"against {n_full:,} for the full pool, so a selection took "
                       f"{format_seconds(t_sel)} against {format_seconds(t_full)}.")
    t_retr, t_score_full = _median(mine, "t_retrieval"), _median(full, "t_scoring")
    cost = cost or encoder_cost()
    enc = int(last["n_encoded"]) * cost.seconds_per_text
    enc_full = int(full.iloc[-1]["n_encoded"]) * cost.seconds_per_text
    tail = (f"; a fine-tuned encoder would need {format_seconds(enc)} against "
            f"{format_seconds(enc_full)} to re-encode them (projected).")
    if t_retr > t_score_full:
        return text + (f"; at this size a linear head scores the whole pool in "
                       f"{format_seconds(t_score_full)}, so retrieval "
                       f"({format_seconds(t_retr)}) dominates and AnchorAL selects in "
                       f"{format_seconds(t_sel)} against {format_seconds(t_full)}" + tail)
    return text + (f"; scoring the whole pool takes {format_seconds(t_score_full)}, more than "
                   f"retrieval ({format_seconds(t_retr)}), so AnchorAL selects in "
                   f"{format_seconds(t_sel)} against {format_seconds(t_full)}" + tail)


def _percent(x) -> str:
    return f"{100 * x:.0f} %" if x >= 0.095 else f"{100 * x:.1f} %"


__all__ = ["EncoderCost", "RECORDED", "PROJECTION_SIZES", "encoder_cost", "anchoral_budget",
           "project_cost", "explain_projection", "explain_rounds", "format_seconds"]


# -- a full-pool round in the live app: projected before it runs -----------------------------------

#: seconds per unlabelled row of a full-pool round with the LR head, one thread, measured on this
#: machine at 1M rows (docs/benchmarks.md section 1: entropy 1.07 s and BADGE 16.6 s over 799,862
#: rows); margin and least confidence cost what entropy costs (one ``predict_proba`` pass);
#: k-means is taken at BADGE's cost (both read every row's embedding), random at none
FULL_POOL_SECONDS_PER_ROW = {"entropy": 1.07 / 799_862, "margin": 1.07 / 799_862,
                             "leastconf": 1.07 / 799_862, "badge": 16.6 / 799_862,
                             "kmeans": 16.6 / 799_862, "random": 0.0}
#: a live Step waits for every run's round: a full-pool round projected past this is refused
LIVE_ROUND_LIMIT_S = 30.0
#: ... and so is one that would make more than this resident in the server: the vectors it
#: reads (memory-mapped pages count in the server's RSS) plus the float32 arrays it builds
LIVE_ROUND_LIMIT_BYTES = 4 * 2**30


@dataclass(frozen=True)
class FullPoolRound:
    """The projected cost of one full-pool round of ``strategy`` over ``n_rows`` unlabelled rows.

    Attributes
    ----------
    strategy : str
    n_rows : int
    seconds : float
        ``n_rows`` x :data:`FULL_POOL_SECONDS_PER_ROW` (measured at 1M on this machine).
    read_bytes : int
        The vectors the round reads (``n_rows x dim x itemsize``).
    built_bytes : int
        The arrays it builds: class probabilities, and for BADGE / k-means every row's float32
        embedding (BADGE's gradient embeddings are factored, not built).
    """

    strategy: str
    n_rows: int
    seconds: float
    read_bytes: int
    built_bytes: int

    @property
    def live(self) -> bool:
        """Whether the app runs it in a live Step (:data:`LIVE_ROUND_LIMIT_S`,
        :data:`LIVE_ROUND_LIMIT_BYTES`)."""
        return (self.seconds <= LIVE_ROUND_LIMIT_S
                and self.read_bytes + self.built_bytes <= LIVE_ROUND_LIMIT_BYTES)

    def describe(self) -> str:
        """``"a full-pool entropy round over 7,999,900 rows is projected at 11 s and 7.9 GB
        read ..."``."""
        gb = 2**30
        return (f"a full-pool {self.strategy} round over {self.n_rows:,} rows is projected at "
                f"{format_seconds(self.seconds)} and {(self.read_bytes + self.built_bytes) / gb:.1f}"
                f" GB made resident ({self.read_bytes / gb:.1f} GB of vectors read, "
                f"{self.built_bytes / gb:.1f} GB built; "
                f"{1e6 * FULL_POOL_SECONDS_PER_ROW.get(self.strategy, 0.0):.2f} µs a row, "
                "measured at 1M rows), over the live limits of "
                f"{format_seconds(LIVE_ROUND_LIMIT_S)} and {LIVE_ROUND_LIMIT_BYTES / gb:.0f} GB")


def full_pool_round(n_rows, strategy, *, dim=384, itemsize=4, n_classes=2) -> FullPoolRound:
    """Project one full-pool round of ``strategy`` (LR head) over ``n_rows`` unlabelled rows.

    Parameters
    ----------
    n_rows : int
    strategy : str
        A name of :data:`explorer.registry.STRATEGIES`.
    dim, itemsize : int
        Vector dimension and bytes per stored value (4 float32, 2 float16).
    n_classes : int
    """
    n_rows = int(n_rows)
    if strategy not in FULL_POOL_SECONDS_PER_ROW:
        raise ParameterError(f"strategy={strategy!r} has no measured full-pool cost; use one "
                             f"of {', '.join(FULL_POOL_SECONDS_PER_ROW)}")
    reads = strategy != "random"
    built = n_rows * n_classes * 8 * reads
    if strategy in ("badge", "kmeans"):
        built += n_rows * int(dim) * 4
    return FullPoolRound(strategy=strategy, n_rows=n_rows,
                         seconds=n_rows * FULL_POOL_SECONDS_PER_ROW[strategy],
                         read_bytes=n_rows * int(dim) * int(itemsize) * reads,
                         built_bytes=int(built))
