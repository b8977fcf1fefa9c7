"""Encoder cost (the paper's setting): per-round cost of full-pool AL vs AnchorAL with the
fine-tuned MiniLM model, where scoring a candidate needs a forward pass over its text.

    python benchmarks/bench_encoder.py            # the whole shipped sample (4,278 e-mails), 2 rounds
    python benchmarks/bench_encoder.py --quick    # a 1,200-row stratified subset, 1 round

One :class:`explorer.experiment.Experiment` with ``model="finetune"`` (1 epoch per fit; the fit is the
same for both filters) and the runs anchoral/entropy and full/entropy from the same initial set.
Round 0 (initial fit) is untimed; then each timed round records, per run, the selection's wall and
CPU time, how many texts the model encoded to score (``n_encoded_``), the training time, and the
per-text encode cost (scoring time / texts encoded). From the per-text cost the per-round
selection cost at larger pools is read off: full ~ c x N_unlabelled, AnchorAL ~ c x M + retrieval.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Timer, limit_threads, save, table  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def subset(prepared, n, seed=0):
    """A stratified ``n``-row subset of ``prepared`` as a new Prepared (exact index)."""
    from explorer.data import from_arrays
    from explorer.index import build_index
    from explorer.prepare import Prepared

    ds = prepared.dataset
    if n >= ds.n:
        return prepared
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(ds.n), train_size=n, random_state=seed, stratify=ds.y)
    idx = np.sort(idx)
    names = [ds.classes[c] for c in ds.y[idx]]
    sub = from_arrays(ds.texts[idx], names, minority=[ds.classes[c] for c in ds.minority],
                      name=f"{ds.name}-{n}")
    X = np.ascontiguousarray(np.asarray(prepared.embeddings, np.float32)[idx])
    return Prepared(dataset=sub, embeddings=X, coords=None, index=build_index(X, "exact"),
                    cache_dir=prepared.cache_dir, timings={})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rows", type=int, help="pool rows (default: all 4,278; quick 1,200)")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import torch  # noqa: F401 - so limit_threads sets torch's threads too

    from explorer.prepare import prepare
    from explorer.experiment import Experiment

    threads = limit_threads(args.threads)
    rounds = args.rounds or (1 if args.quick else 2)
    p = prepare("sample", projection=False, progress=False)
    p = subset(p, args.rows or (1200 if args.quick else p.dataset.n))
    exp = Experiment(p, [("anchoral", "entropy"), ("full", "entropy")], model="finetune",
                     model_params={"epochs": args.epochs}, seed=0)
    print(f"pool: {p.dataset.name}, {p.dataset.n:,} rows, training pool {len(exp.train_ids):,}, "
          f"M = {exp.subpool_size}, torch threads {threads}", flush=True)
    with Timer() as t0:
        exp.start()
    print(f"round 0 (two initial fits + test evaluation): {t0.wall:.1f} s", flush=True)
    rows = []
    for rnd in range(1, rounds + 1):
        for run in exp.runs:
            before = run.model.n_encoded_
            with Timer() as tm:
                sel = run.propose()
            encoded = run.model.n_encoded_ - before
            rec = run.commit()
            rows.append({
                "round": rnd, "filter": run.filter_name, "n_unlabelled": len(run.unlabelled()) + len(sel.ids),
                "subpool": len(sel.subpool), "n_encoded": encoded,
                "t_retrieval": sel.t_retrieval, "t_scoring": sel.t_scoring,
                "t_selection": sel.t_selection, "cpu_selection": tm.cpu,
                "encode_ms_per_text_wall": 1000 * sel.t_scoring / max(encoded, 1),
                "encode_ms_per_text_cpu": 1000 * tm.cpu / max(encoded, 1),
                "t_train": rec.t_train, "t_eval": rec.t_eval})
            print(table(rows[-1:], COLS), flush=True)
    print()
    print(table(rows, COLS))
    by = {f: [r for r in rows if r["filter"] == f] for f in ("anchoral", "full")}
    med = {f: {k: float(np.median([r[k] for r in by[f]])) for k in rows[0] if k != "filter"}
           for f in by}
    ratio_wall = med["full"]["t_selection"] / med["anchoral"]["t_selection"]
    ratio_cpu = med["full"]["cpu_selection"] / med["anchoral"]["cpu_selection"]
    c_wall = med["full"]["encode_ms_per_text_wall"] / 1000
    c_cpu = med["full"]["encode_ms_per_text_cpu"] / 1000
    from explorer.experiment import default_subpool_size

    # AnchorAL scores at most min(M, classes x anchors x k) rows (what the anchors retrieve)
    retrieved = exp.n_classes * exp.n_anchors * exp.n_neighbors
    proj = []
    for n in (10_000, 100_000, 1_000_000):
        n_pool = int(0.8 * n)  # the 20 % test split is never scored
        m = min(default_subpool_size(n_pool), retrieved)
        proj.append({"pool": n, "scored_full": n_pool, "scored_anchoral": m,
                     "full_s_cpu": c_cpu * n_pool, "anchoral_s_cpu": c_cpu * m,
                     "ratio": n_pool / m, "full_h_cpu": c_cpu * n_pool / 3600})
    print(f"\nfull / AnchorAL selection time per round: {ratio_wall:.1f}x wall, {ratio_cpu:.1f}x CPU")
    print(f"per-text encode cost: {1000 * c_wall:.1f} ms wall, {1000 * c_cpu:.1f} ms CPU "
          f"(max_length 128, {threads['threads']} thread(s))")
    print(table(proj, ["pool", "scored_full", "scored_anchoral", "full_s_cpu", "anchoral_s_cpu",
                       "ratio", "full_h_cpu"]))
    path = save("encoder" + ("_quick" if args.quick else ""),
                {**threads, "pool_rows": p.dataset.n, "train_pool": len(exp.train_ids),
                 "subpool_size": exp.subpool_size, "epochs": args.epochs, "rows": rows,
                 "median": med, "ratio_wall": ratio_wall, "ratio_cpu": ratio_cpu,
                 "per_text_s_wall": c_wall, "per_text_s_cpu": c_cpu, "projection": proj})
    print(f"\nsaved {path}")


COLS = ["round", "filter", "n_unlabelled", "subpool", "n_encoded", "t_retrieval", "t_scoring",
        "t_selection", "cpu_selection", "encode_ms_per_text_cpu", "t_train"]

if __name__ == "__main__":
    main()
