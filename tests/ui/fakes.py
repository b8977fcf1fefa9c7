"""A stand-in for the engine: a driver with the shape :class:`ExplorerState` expects.

Cheap and deterministic, so the state and view tests do not depend on the real engine's speed.
"""

from __future__ import annotations

import time

import numpy as np

from explorer.ui.state import RoundRecord, run_key


class _Model:
    def __init__(self, prepared, labelled):
        X = prepared.embeddings
        y = prepared.dataset.y
        lab = np.asarray(labelled)
        self.centroids = np.stack([X[lab[y[lab] == c]].mean(0) if (y[lab] == c).any()
                                   else np.zeros(X.shape[1], np.float32)
                                   for c in range(prepared.dataset.n_classes)])
        self.X = X

    def predict_proba(self, ids):
        s = self.X[ids] @ self.centroids.T * 5
        e = np.exp(s - s.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)


class FakeDriver:
    """Runs "anchors → neighbours → queries" with a random base strategy; records the same fields."""

    def __init__(self, prepared, *, filters=("anchoral", "full"), strategy="entropy",
                 query_size=25, init_size=100, n_neighbors=50, subpool_size=1000, n_anchors=10,
                 seed=0, delay=0.0, **_):
        self.prepared = prepared
        self.delay = delay
        ds = prepared.dataset
        rng = np.random.default_rng(seed)
        minority = np.flatnonzero(np.isin(ds.y, ds.minority))
        init = np.concatenate([rng.choice(minority, min(5, len(minority)), replace=False),
                               rng.choice(ds.n, init_size, replace=False)])
        self.initial_ids = np.unique(init).astype(np.int64)
        self.runs = [run_key(f, strategy) for f in filters]
        self.labelled = {k: self.initial_ids.copy() for k in self.runs}
        self.rounds = {k: 0 for k in self.runs}
        self.rng = {k: np.random.default_rng(seed + i) for i, k in enumerate(self.runs)}
        self.q, self.k, self.m, self.a = query_size, n_neighbors, subpool_size, n_anchors
        self.models = {}

    def model(self, key):
        return self.models.get(key)

    def step_run(self, key):
        if self.delay:
            time.sleep(self.delay)
        ds = self.prepared.dataset
        rng = self.rng[key]
        lab = self.labelled[key]
        t0 = time.perf_counter()
        filt = key.split("/")[0]
        if filt == "full":
            anchors = np.empty(0, np.int64)
            subpool = np.setdiff1d(np.arange(ds.n), lab)
            anchor_of = np.full(self.q, -1)
            sim = np.full(self.q, np.nan)
            queried = rng.choice(subpool, self.q, replace=False)
        else:
            anchors = rng.choice(lab, min(self.a, len(lab)), replace=False)
            ids, sims = self.prepared.index.search(self.prepared.embeddings[anchors], self.k,
                                                   exclude=lab)
            subpool, first = np.unique(ids[ids >= 0], return_index=True)
            pos = rng.choice(len(subpool), min(self.q, len(subpool)), replace=False)
            queried = subpool[pos]
            flat_a = np.repeat(anchors, ids.shape[1])[ids.ravel() >= 0]
            flat_s = sims.ravel()[ids.ravel() >= 0]
            anchor_of = flat_a[first][pos]
            sim = flat_s[first][pos]
            subpool = subpool[: self.m]
        t1 = time.perf_counter()
        self.labelled[key] = np.union1d(lab, queried)
        self.models[key] = _Model(self.prepared, self.labelled[key])
        t2 = time.perf_counter()
        self.rounds[key] += 1
        new_lab = self.labelled[key]
        mino = np.isin(ds.y, ds.minority)
        metrics = dict(
            filter=filt, strategy=key.split("/")[1], round=self.rounds[key],
            n_labelled=len(new_lab), n_minority=int(mino[new_lab].sum()),
            minority_share=float(mino[new_lab].mean()), subpool_size=len(subpool),
            subpool_minority_share=float(mino[subpool].mean()) if len(subpool) else np.nan,
            t_retrieval=(t1 - t0) / 2 + 1e-4, t_scoring=(t1 - t0) / 2 + 1e-4,
            t_selection=t1 - t0 + 2e-4, t_train=t2 - t1,
            minority_f1=float(min(1.0, 0.1 + 0.05 * self.rounds[key] * (filt != "full") +
                                  0.02 * self.rounds[key])),
            macro_f1=float(min(1.0, 0.5 + 0.02 * self.rounds[key])),
        )
        return RoundRecord(run=key, round=self.rounds[key], labelled=lab, anchors=anchors,
                           subpool=subpool, queried=np.asarray(queried, np.int64),
                           scores=rng.random(len(queried)), anchor_of=np.asarray(anchor_of),
                           similarity=np.asarray(sim, float), metrics=metrics)
