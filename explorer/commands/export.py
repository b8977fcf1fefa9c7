"""``anchoral export``: a session's labels, rounds table or comparison plots to files."""

from __future__ import annotations

from pathlib import Path

from explorer.exceptions import ParameterError

HELP = "Export a saved session: labels (CSV/Parquet/JSONL), the rounds table, the plots (PNG/HTML)."

WHAT = ("labels", "rounds", "queries", "plots")


def add_arguments(parser):
    parser.add_argument("session", metavar="SESSION", help="session directory")
    parser.add_argument("--what", default="labels", choices=WHAT)
    parser.add_argument("--format", default=None,
                        help="csv, parquet or jsonl (tables); png or html (plots); default: "
                        "from --out's extension")
    parser.add_argument("--out", required=True, help="output file")


def _derived(session_dir, name):
    from explorer.exceptions import SessionError
    from explorer.session_files import read_table

    df = read_table(session_dir, name)
    if df is None:
        raise SessionError(f"{Path(session_dir) / name} is missing; it is rebuilt when the session next "
                           "saves a round (`anchoral label` or the app)")
    return df


def export(session_dir, what, out, fmt=None) -> Path:
    """Write ``what`` of the session in ``session_dir`` to ``out``; returns the path."""
    from explorer.store import read_labels, read_manifest

    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if what not in WHAT:
        raise ParameterError(f"--what={what!r} is unknown; choose one of {', '.join(WHAT)}")
    doc = read_manifest(session_dir)
    if what == "plots":
        if fmt not in ("png", "html"):
            raise ParameterError(f"--format={fmt!r}: plots export as png or html")
        from explorer.plots import comparison_figure

        rounds = _derived(session_dir, "rounds.parquet")
        return comparison_figure(rounds, out, fmt, title=doc["dataset"].get("name", ""))
    if fmt not in ("csv", "parquet", "jsonl"):
        raise ParameterError(f"--format={fmt!r}: tables export as csv, parquet or jsonl "
                             "(give --format or an --out with one of these extensions)")
    if what == "labels":
        df = read_labels(session_dir)
        texts = _texts(doc)
        if texts is not None:
            df.insert(df.columns.get_loc("id") + 1, "text", [texts[i] for i in df["id"]])
    else:
        df = _derived(session_dir, f"{what}.parquet")
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
    path = export(args.session, args.what, args.out, args.format)
    print(f"wrote {path}")
    return 0
