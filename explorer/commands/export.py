"""``anchoral export``: a session's labels, rounds table or comparison plots to files."""

from __future__ import annotations

from pathlib import Path

from explorer.exceptions import ParameterError

HELP = ("Export a saved session: labels (CSV/Parquet/JSONL), the rounds table, the plots "
        "(PNG/HTML), two runs compared.")

WHAT = ("labels", "rounds", "queries", "plots", "compare")


def add_arguments(parser):
    parser.add_argument("session", metavar="SESSION", help="session directory")
    parser.add_argument("--what", default="labels", choices=WHAT)
    parser.add_argument("--format", default=None,
                        help="csv, parquet or jsonl (tables); png or html (plots); default: "
                        "from --out's extension")
    parser.add_argument("--out", required=True, help="output file")
    parser.add_argument("--runs", nargs=2, metavar=("A", "B"), default=None,
                        help="--what compare: the two runs (keys such as anchoral/entropy)")
    parser.add_argument("--round", type=int, default=None,
                        help="--what compare: last round compared (default: the last of both)")


def export(session_dir, what, out, fmt=None, runs=None, round=None) -> Path:
    """Write ``what`` of the session in ``session_dir`` to ``out``; returns the path.

    ``what="compare"`` writes one row per id queried by either of ``runs`` up to ``round``
    (:func:`explorer.compare.compare_runs`: id, group, label, round_a, round_b)."""
    from explorer.store import read_labels, read_manifest

    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if what not in WHAT:
        raise ParameterError(f"--what={what!r} is unknown; choose one of {', '.join(WHAT)}")
    doc = read_manifest(session_dir)
    if what == "plots":
        if fmt not in ("png", "html"):
            raise ParameterError(f"--format={fmt!r}: plots export as png or html")
        import pandas as pd

        from explorer.plots import comparison_figure

        rounds = pd.read_parquet(Path(session_dir) / "rounds.parquet")
        return comparison_figure(rounds, out, fmt, title=doc["dataset"].get("name", ""))
    if fmt not in ("csv", "parquet", "jsonl"):
        raise ParameterError(f"--format={fmt!r}: tables export as csv, parquet or jsonl "
                             "(give --format or an --out with one of these extensions)")
    if what == "labels":
        df = read_labels(session_dir)
        texts = _texts(doc)
        if texts is not None:
            df.insert(df.columns.get_loc("id") + 1, "text", [texts[i] for i in df["id"]])
    elif what == "compare":
        import pandas as pd

        from explorer.compare import compare_runs

        if not runs or len(runs) != 2:
            raise ParameterError("--what compare needs --runs A B (two run keys)")
        rounds = pd.read_parquet(Path(session_dir) / "rounds.parquet")
        df = compare_runs(rounds, runs[0], runs[1], round).points
        labels = read_labels(session_dir)  # class names of every committed label
        name = dict(zip(labels["id"], labels["label"].replace("", "(skipped)")))
        df["label"] = [name.get(i, lab) for i, lab in zip(df["id"], df["label"])]
        df.insert(2, "run_a", runs[0])
        df.insert(3, "run_b", runs[1])
    else:
        import pandas as pd

        df = pd.read_parquet(Path(session_dir) / f"{what}.parquet")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        df.to_csv(out, index=False)
    elif fmt == "parquet":
        df.to_parquet(out, index=False)
    else:
        df.to_json(out, orient="records", lines=True, force_ascii=False)
    return out


def _texts(doc):
    from explorer.data import load_dataset
    from explorer.exceptions import DataError

    spec = doc["dataset"]
    try:
        ds = load_dataset(spec["source"], text_col=spec.get("text_col", "text"),
                          label_col=spec.get("label_col", "label"),
                          minority=spec.get("minority") or None)
    except DataError:
        return None  # the data moved: labels still export, without texts
    return ds.texts if ds.content_hash == spec.get("content_hash") else None


def run(args) -> int:
    path = export(args.session, args.what, args.out, args.format, runs=args.runs,
                  round=args.round)
    print(f"wrote {path}")
    return 0
