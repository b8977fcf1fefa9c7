"""Test-set metrics for imbalanced runs, and the area under a learning curve."""

from __future__ import annotations

import numpy as np


def _binary_f1(true_pos, pred_pos):
    tp = np.sum(true_pos & pred_pos)
    denom = np.sum(true_pos) + np.sum(pred_pos)
    return float(2 * tp / denom) if denom else 0.0


def evaluate(y_true, y_pred, n_classes, minority):
    """F1 scores of one model on the test split.

    Parameters
    ----------
    y_true, y_pred : int arrays (t,)
    n_classes : int
    minority : sequence of int
        Minority class indices; with several, they are pooled into one positive class.

    Returns
    -------
    dict with ``minority_f1`` (pooled minority classes vs the rest), ``majority_f1`` (pooled
    majority classes vs the rest), ``macro_f1`` (over every class), ``per_class_f1`` (list).
    """
    y_true = np.asarray(y_true, np.int64)
    y_pred = np.asarray(y_pred, np.int64)
    minority = np.asarray(list(minority), np.int64)
    t_min, p_min = np.isin(y_true, minority), np.isin(y_pred, minority)
    per_class = [_binary_f1(y_true == c, y_pred == c) for c in range(n_classes)]
    present = [c for c in range(n_classes) if np.any(y_true == c) or np.any(y_pred == c)]
    return {
        "minority_f1": _binary_f1(t_min, p_min) if minority.size else float("nan"),
        "majority_f1": _binary_f1(~t_min, ~p_min),
        "macro_f1": float(np.mean([per_class[c] for c in present])) if present else 0.0,
        "per_class_f1": per_class,
    }


def minority_share(labels, minority):
    """Fraction of ``labels`` in the minority classes (NaN for no labels)."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return float("nan")
    return float(np.isin(labels, list(minority)).mean())


def curve_auc(values, x=None):
    """Normalised area under a learning curve: trapezoid area / x-range, in the curve's units
    (a curve constant at 0.8 has AUC 0.8). ``x`` defaults to the round index. NaN for < 2 points."""
    v = np.asarray(values, np.float64)
    if v.size < 2:
        return float(v[0]) if v.size == 1 else float("nan")
    x = np.arange(v.size, dtype=np.float64) if x is None else np.asarray(x, np.float64)
    return float(np.sum((v[1:] + v[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))
