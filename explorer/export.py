"""Export a labelling session's labels, rounds, queries or comparison plots to files (CSV, Parquet, JSONL, PNG, HTML).

The library function behind ``anchoral export`` and the app's export buttons. It reads a saved
session directory, or a :class:`~explorer.store.Session` object (saved or still in memory).
:func:`write_table` writes any table (a map selection, neighbours) in the same formats, and
:func:`to_csv` is the one CSV writer of the project: it neutralises cells a spreadsheet would
run as a formula (:func:`neutralise_formulas`).
"""

from __future__ import annotations

from pathlib import Path

from ._io import write_atomic
from ._validation import check_choice

#: a text cell starting with one of these is run as a formula by spreadsheets (OWASP, "CSV
#: Injection"): :func:`neutralise_formulas` prefixes it with a quote
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: what :func:`export` writes
WHAT = ("labels", "rounds", "queries", "plots", "compare")
TABLE_FORMATS = ("csv", "parquet", "jsonl")
PLOT_FORMATS = ("png", "html")


def export(session, what, out, fmt=None, runs=None, round=None) -> Path:
    """Write ``what`` of ``session`` to the file ``out``; returns its path.

    Parameters
    ----------
    session : path or Session
        A session directory, or a :class:`~explorer.store.Session` (in memory or saved).
    what : {"labels", "rounds", "queries", "plots"}
        ``labels``: every committed label with its provenance and (when the data is at hand and
        unchanged) its text; ``rounds`` / ``queries``: the tables of ``anchoral simulate``;
        ``plots``: the comparison panels (one line per run, forks apart); ``compare``: one row
        per id queried by either of ``runs`` up to ``round``
        (:func:`~explorer.compare.compare_runs`: id, group, run_a, run_b, label, round_a,
        round_b).
    out : path
        The file to write (atomically); parent directories are created.
    fmt : str, optional
        ``csv``, ``parquet`` or ``jsonl`` for tables, ``png`` or ``html`` for plots; default:
        ``out``'s extension.
    runs : (str, str), optional
        ``what="compare"``: the two run keys.
    round : int, optional
        ``what="compare"``: the last round compared (default: the last both runs completed).
    """
    from .exceptions import ParameterError

    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    check_choice("what", what, WHAT)
    if what == "plots" and fmt not in PLOT_FORMATS:
        raise ParameterError(f"format={fmt!r}: plots export as png or html", param="format",
                             value=fmt)
    if what != "plots" and fmt not in TABLE_FORMATS:
        raise ParameterError(f"format={fmt!r}: tables export as csv, parquet or jsonl (give a "
                             "format or an output file with one of these extensions)",
                             param="format", value=fmt)
    source = _Source(session)
    if what == "plots":
        from .plots import comparison_figure

        return comparison_figure(source.table("rounds"), out, fmt, title=source.title())
    if what == "compare":
        df = _comparison(source, runs, round)
    else:
        df = source.labels() if what == "labels" else source.table(what)
    return write_table(df, out, fmt)


def neutralise_formulas(df):
    """A copy of ``df`` whose text cells starting with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return get a leading ``'`` (what OWASP advises against CSV injection), so that a
    spreadsheet shows them as text instead of running them. Only string cells change: numbers
    (``-1.5``) stay numbers, and other columns are untouched."""
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        elif not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
            continue
        out[col] = s.map(lambda v: "'" + v if isinstance(v, str) and v.startswith(
            FORMULA_PREFIXES) else v)
    return out


def to_csv(df, target) -> None:
    """Write ``df`` (no index) as CSV to ``target`` (a path or a text buffer), formula cells
    neutralised (:func:`neutralise_formulas`): every CSV the project writes goes through here.

    Lines end in CRLF (RFC 4180), so that a cell holding a bare carriage return is quoted too
    (with ``\n`` line ends it is not, and a reader would start a new row, and maybe a formula
    cell, inside it)."""
    neutralise_formulas(df).to_csv(target, index=False, lineterminator="\r\n")


def write_table(df, out, fmt=None) -> Path:
    """Write the table ``df`` to ``out`` (atomically) as ``csv``, ``parquet`` or ``jsonl``
    (default: ``out``'s extension). CSV cells that a spreadsheet would run are neutralised
    (:func:`to_csv`); Parquet and JSONL keep every value exactly."""
    out = Path(out)
    fmt = check_choice("format", (fmt or out.suffix.lstrip(".")).lower(), TABLE_FORMATS)
    writers = {"csv": lambda p: to_csv(df, p),
               "parquet": lambda p: df.to_parquet(p, index=False),
               "jsonl": lambda p: df.to_json(p, orient="records", lines=True, force_ascii=False)}
    return write_atomic(out, writers[fmt])


def table_bytes(df, fmt) -> bytes:
    """``df`` as the bytes of a ``csv`` (neutralised), ``parquet`` or ``jsonl`` file (a
    download button's payload)."""
    import io

    fmt = check_choice("format", str(fmt).lower(), TABLE_FORMATS)
    if fmt == "csv":
        buf = io.StringIO()
        to_csv(df, buf)
        return buf.getvalue().encode("utf-8")
    if fmt == "parquet":
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return buf.getvalue()
    return df.to_json(orient="records", lines=True, force_ascii=False).encode("utf-8")


def _comparison(source, runs, round):
    from .compare import compare_runs
    from .exceptions import ParameterError

    if runs is None or len(runs) != 2:
        raise ParameterError(f"runs={runs!r}: what='compare' needs two run keys (--runs A B)",
                             param="runs", value=runs)
    df = compare_runs(source.table("rounds"), runs[0], runs[1], round).points
    labels = source.labels()  # the class name of every committed label
    name = dict(zip(labels["id"], labels["label"].replace("", "(skipped)")))
    df["label"] = [name.get(i, lab) for i, lab in zip(df["id"], df["label"])]
    df.insert(2, "run_a", runs[0])
    df.insert(3, "run_b", runs[1])
    return df


class _Source:
    """The tables of a session, from its directory or from a :class:`Session` object."""

    def __init__(self, session):
        from .store import read_manifest

        self.session = None if isinstance(session, (str, Path)) else session
        self.path = Path(session) if self.session is None else self.session.path
        self.doc = read_manifest(self.path) if self.session is None else {
            "dataset": self.session.data_spec}

    def title(self) -> str:
        if self.session is not None:
            return self.session.data_spec.get("name") or self.session.experiment.dataset.name
        return self.doc["dataset"].get("name", "")

    def table(self, what):
        from .exceptions import SessionError
        from .session_files import read_table

        if self.session is not None:
            exp = self.session.experiment
            return exp.rounds_frame() if what == "rounds" else exp.queries_frame()
        df = read_table(self.path, f"{what}.parquet")  # a damaged file is named, not a traceback
        if df is None:
            raise SessionError(f"{self.path / what}.parquet is missing; it is rebuilt when the "
                               "session next saves a round (`anchoral label` or the app)")
        return df

    def labels(self):
        from .store import read_labels

        if self.session is not None:
            df, texts = self.session.labels_frame(), self.session.experiment.dataset.texts
        else:
            df, texts = read_labels(self.path), _texts(self.doc)
        if texts is not None:
            df.insert(df.columns.get_loc("id") + 1, "text", [texts[i] for i in df["id"]])
        return df


def _texts(doc):
    """The texts of the session's dataset when it is still there and unchanged, else None."""
    from .data import load_dataset
    from .exceptions import DataError
    from .options import PrepareOptions

    spec = doc["dataset"]
    opts = PrepareOptions.from_spec(spec)  # the stored options, the defaults for the rest
    try:
        ds = load_dataset(spec["source"], text_col=opts.text_col, label_col=opts.label_col,
                          minority=list(opts.minority) if opts.minority else None,
                          drop_invalid=opts.drop_invalid)
    except DataError:
        return None  # the data moved: labels still export, without texts
    return ds.texts if ds.content_hash == spec.get("content_hash") else None
