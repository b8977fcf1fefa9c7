"""A stand-in for the engine: an :class:`~explorer.ui.driver.ExperimentDriver` with a random strategy.

Cheap and deterministic, so the state and view tests do not depend on the real engine's speed. It
simulates and labels by hand; it cannot fork, preview or save (it says so, as an engine error).
"""

from __future__ import annotations

import time

import numpy as np

from explorer.exceptions import ParameterError
from explorer.runs import RoundResult, RunKey
from explorer.ui.records import RoundRecord, run_key


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

    mode = "simulate"
    session_path = None

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
        self.pool_minority_share = float(np.isin(ds.y[ds.y >= 0], ds.minority).mean())
        self.runs = [run_key(f, strategy) for f in filters]
        self.labelled = {k: self.initial_ids.copy() for k in self.runs}
        self.rounds = {k: 0 for k in self.runs}
        self.rng = {k: np.random.default_rng(seed + i) for i, k in enumerate(self.runs)}
        self.q, self.k, self.m, self.a = query_size, n_neighbors, subpool_size, n_anchors
        self.models = {}
        self.records = {k: [] for k in self.runs}
        self.proposed = {}   # run -> (record of the batch, t_selection)
        self.given = {}      # run -> pending labels
        self.n_params = dict(n_anchors=n_anchors, n_neighbors=n_neighbors,
                             subpool_size=subpool_size)

    # ------------------------------------------------------------------------- reading
    def start(self):
        pass

    def model(self, key):
        return self.models.get(key)

    def history(self, key):
        return list(self.records[key])

    def filter_params(self):
        return dict(self.n_params)

    def pending(self, key):
        return dict(self.given.get(key, {}))

    def save_pending(self, key, labels):
        self.given[key] = dict(labels)

    def decide(self, key, row_id, label, author):
        from explorer import decisions

        self.events = getattr(self, "events", [])
        self.events.append(decisions.event(key, self.rounds[key] + 1, row_id,
                                           "skip" if label is None else "label", label, author))
        self.given.setdefault(key, {})[int(row_id)] = label

    def undo(self, key, row_id, author):
        from explorer import decisions

        self.events = getattr(self, "events", [])
        self.events.append(decisions.event(key, self.rounds[key] + 1, row_id, "undo", "",
                                           author))
        self.given.get(key, {}).pop(int(row_id), None)

    def decisions(self, row_id):
        from explorer import decisions

        return decisions.frame([e for e in getattr(self, "events", []) if e["id"] == row_id])

    # ------------------------------------------------------------------------- rounds
    def propose(self, key):
        if key in self.proposed:
            return self.proposed[key][0]
        ds = self.prepared.dataset
        rng = self.rng[key]
        lab = self.labelled[key]
        t0 = time.perf_counter()
        filt = RunKey.parse(key).filter
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
        t_sel = time.perf_counter() - t0
        rec = RoundRecord(run=key, round=self.rounds[key] + 1, labelled=lab, anchors=anchors,
                          subpool=subpool, queried=np.asarray(queried, np.int64),
                          scores=rng.random(len(queried)), anchor_of=np.asarray(anchor_of),
                          similarity=np.asarray(sim, float),
                          proposed=True)
        self.proposed[key] = (rec, t_sel)
        return rec

    def step_run(self, key):
        if self.delay:
            time.sleep(self.delay)
        return self._commit(key, None, "oracle")

    def commit(self, key, labels, user):
        return self._commit(key, labels, "human")

    def _commit(self, key, labels, source):
        ds = self.prepared.dataset
        if key not in self.proposed:
            self.propose(key)
        prop, t_sel = self.proposed.pop(key)
        lab = self.labelled[key]
        queried, subpool = prop.queried, prop.subpool
        if labels is None:
            y = ds.y[queried]
        else:
            y = np.array([-1 if v is None else ds.classes.index(v) for v in labels], np.int64)
        t1 = time.perf_counter()
        self.labelled[key] = np.union1d(lab, queried[y >= 0])
        self.models[key] = _Model(self.prepared, self.labelled[key])
        t2 = time.perf_counter()
        self.rounds[key] += 1
        self.given.pop(key, None)
        new_lab = self.labelled[key]
        mino = np.isin(ds.y, ds.minority)
        filt = RunKey.parse(key).filter
        result = RoundResult(
            run=key, filter=filt, strategy=RunKey.parse(key).strategy, model="centroids", seed=0,
            round=self.rounds[key], n_labelled=len(new_lab), n_minority=int(mino[new_lab].sum()),
            minority_share=float(mino[new_lab].mean()), subpool_size=len(subpool),
            subpool_minority_share=float(mino[subpool].mean()) if len(subpool) else np.nan,
            t_retrieval=t_sel / 2 + 1e-4, t_scoring=t_sel / 2 + 1e-4,
            t_selection=t_sel + 2e-4, t_train=t2 - t1,
            minority_f1=float(min(1.0, 0.1 + 0.05 * self.rounds[key] * (filt != "full") +
                                  0.02 * self.rounds[key])),
            macro_f1=float(min(1.0, 0.5 + 0.02 * self.rounds[key])),
        )
        rec = RoundRecord(run=key, round=self.rounds[key], labelled=lab, anchors=prop.anchors,
                          subpool=subpool, queried=queried, scores=prop.scores,
                          anchor_of=prop.anchor_of, similarity=prop.similarity, result=result,
                          labels=y, label_source=source)
        self.records[key].append(rec)
        return rec

    # ------------------------------------------------- what this stand-in cannot do
    def _cannot(self, what):
        raise ParameterError(f"the stand-in engine cannot {what}; use the real engine "
                             "(explorer.ui.engine.EngineDriver)")

    def fork(self, key, at_round, strategy=None, **params):
        self._cannot("fork runs")

    def preview(self, key, strategy=None, **params):
        self._cannot("preview")

    def choose(self, key, ids):
        self._cannot("label chosen rows")

    def save_as(self, path, data_spec):
        self._cannot("save sessions")

    def export(self, what, out, fmt):
        self._cannot("export")

    def close(self):
        pass
