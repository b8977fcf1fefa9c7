"""How an experiment divides its pool: the held-out test split and the seeded initial labelled set."""

from __future__ import annotations

import numpy as np

from .exceptions import DataError, ParameterError


def round_rng(seed, rnd):
    """The random stream of round ``rnd`` of a run seeded with ``seed`` (round 0: the initial set)."""
    return np.random.RandomState(np.random.SeedSequence([int(seed), int(rnd)]).generate_state(1)[0])


#: a fractional ``test_size`` holds out at most this many rows (the 1M pool's 20 %): every round
#: scores the test rows, so a 10M pool's 2M would cost more than the round itself
MAX_TEST_ROWS = 200_000


def holdout_split(dataset, test_size, seed):
    """``(train_ids, test_ids)``: the dataset's ``split`` column when it has one, else a seeded,
    stratified held-out split of the labelled rows (``test_size`` a fraction or a row count; a
    fraction is capped at :data:`MAX_TEST_ROWS` rows)."""
    ds = dataset
    y = np.asarray(ds.y, np.int64)
    if ds.split is not None:
        split = np.asarray(ds.split).astype(str)
        test = np.flatnonzero((split == "test") & (y >= 0)).astype(np.int64)
        train = np.flatnonzero(split != "test").astype(np.int64)
        return train, test
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float, np.number)) or \
            test_size <= 0 or (isinstance(test_size, float) and test_size >= 1):
        raise ParameterError(f"test_size={test_size!r} must be a fraction in (0, 1) or a "
                             "row count >= 1")
    from sklearn.model_selection import train_test_split

    labelled = np.flatnonzero(y >= 0)
    if isinstance(test_size, float) and test_size * len(labelled) > MAX_TEST_ROWS:
        test_size = MAX_TEST_ROWS
    counts = np.bincount(y[labelled], minlength=len(ds.classes))
    stratify = y[labelled] if counts[counts > 0].min() >= 2 else None
    try:
        _, test = train_test_split(labelled, test_size=test_size, random_state=seed,
                                   stratify=stratify)
    except ValueError as err:
        raise ParameterError(f"test_size={test_size!r} cannot split {len(labelled):,} "
                             f"labelled rows: {err}") from None
    test = np.sort(test).astype(np.int64)
    train = np.setdiff1d(np.arange(ds.n, dtype=np.int64), test, assume_unique=True)
    return train, test

def initial_set(dataset, train_ids, minority, init_size, init_per_minority, seed, initial_ids=None):
    """The initial labelled ids: ``init_per_minority`` random rows of each minority class, the rest
    random from the other classes, seeded from ``(seed, 0)``; or ``initial_ids`` checked."""
    y = np.asarray(dataset.y, np.int64)
    if initial_ids is not None:
        ids = np.unique(np.asarray(initial_ids, np.int64))
        bad = np.setdiff1d(ids, train_ids)
        if bad.size or np.any(y[ids] < 0):
            raise ParameterError(
                f"initial_ids must be labelled rows of the training pool; {bad[:5].tolist()} "
                "are not")
        return ids
    rng = round_rng(seed, 0)
    train = train_ids[y[train_ids] >= 0]
    picked = []
    if init_per_minority:
        need = init_per_minority * len(minority)
        if init_size < need:
            raise ParameterError(
                f"init_size={init_size} must be >= init_per_minority x minority classes "
                f"= {init_per_minority} x {len(minority)} = {need}")
        for c in minority:
            members = train[y[train] == c]
            if len(members) < init_per_minority:
                raise DataError(
                    f"init_per_minority={init_per_minority} but minority class "
                    f"{dataset.classes[c]!r} has only {len(members)} rows in the training "
                    "pool; lower init_per_minority")
            picked.append(rng.choice(members, init_per_minority, replace=False))
        rest = train[~np.isin(y[train], minority)]
    else:
        rest = train
    n_rest = init_size - sum(len(p) for p in picked)
    if n_rest > len(rest):
        raise ParameterError(
            f"init_size={init_size} is larger than the training pool allows "
            f"({len(rest) + sum(len(p) for p in picked):,} rows); lower init_size")
    if n_rest:
        picked.append(rng.choice(rest, n_rest, replace=False))
    return np.sort(np.concatenate(picked)).astype(np.int64)
