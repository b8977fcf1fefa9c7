"""Load and validate a labelled text pool.

``load_dataset`` reads CSV, Parquet or JSONL (or a built-in name: ``"sample"``, ``"brown"``) and
returns a :class:`Dataset`. Every problem with the input is reported once, as a
:class:`~explorer.exceptions.DataError` whose one-line message names the problem and the fix;
``tests/test_data_fuzz.py`` checks that with random and hostile files.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .exceptions import DataError, ParameterError

#: the default minority rule: the smallest classes that together hold at most this share of the
#: labelled rows ...
MINORITY_MASS = 0.10
#: ... and at most this many of them (the initial set takes 5 rows per minority class: 10 classes
#: already fill half of the paper's 100)
MINORITY_MAX_CLASSES = 10
#: the share of the labelled rows under which the ``below-10`` rule calls a class a minority
MINORITY_SHARE = 0.10

#: rules that infer the minority classes from the class counts (the first is the default)
MINORITY_RULES = {
    "rarest": "the smallest classes that together hold <= 10 % of the labelled rows (at most 10)",
    "half-uniform": "classes under half the uniform share (1 / (2 x classes))",
    "below-10": "every class under 10 % of the labelled rows",
}

FORMATS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A text pool with integer labels.

    Attributes
    ----------
    texts : object ndarray of shape (n,)
        The texts (str).
    y : int64 ndarray of shape (n,)
        Index into ``classes``; ``-1`` marks a row without a label (annotate mode).
    classes : tuple of str
        Class names, sorted.
    minority : tuple of int
        Indices of the minority class(es).
    minority_inferred : bool
        True when ``minority`` was inferred from the class counts (see :func:`infer_minority`).
    name : str
        ``"sample"``, ``"brown"`` or the file's stem.
    content_hash : str
        sha256 of texts and labels: the key of every cache built from this dataset.
    split : object ndarray of shape (n,) or None
        ``"train"`` / ``"test"`` per row when the file had a ``split`` column.
    ids : object ndarray of shape (n,) or None
        The file's own row identifiers when it had an ``id`` column.
    source : str
        Where it was loaded from.
    """

    texts: np.ndarray
    y: np.ndarray
    classes: tuple
    minority: tuple
    minority_inferred: bool
    name: str
    content_hash: str
    split: np.ndarray | None = None
    ids: np.ndarray | None = None
    source: str = ""
    dropped: tuple = field(default=())
    minority_rule: str = ""

    @property
    def n(self) -> int:
        return len(self.texts)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def labelled_mask(self) -> np.ndarray:
        return self.y >= 0

    @functools.cached_property
    def fully_labelled(self) -> bool:
        """True when every row has a gold label (simulation possible); False means annotate mode.

        Computed once (the labels of a dataset do not change): at 10M rows each check was a
        15 ms pass, asked ~9 times per Step."""
        return not bool((np.asarray(self.y) < 0).any())

    def class_counts(self) -> np.ndarray:
        """Rows per class (labelled rows only), shape (n_classes,)."""
        return np.bincount(self.y[self.y >= 0], minlength=self.n_classes)

    @property
    def minority_names(self) -> list:
        return [self.classes[c] for c in self.minority]

    def summary(self) -> str:
        counts = self.class_counts()
        total = max(int(counts.sum()), 1)
        lines = [f"{self.name}: {self.n:,} rows, {self.n_classes} classes"]
        for c, name in enumerate(self.classes):
            tag = "  (minority)" if c in self.minority else ""
            lines.append(f"  {name:<24} {counts[c]:>8,}  {100 * counts[c] / total:5.1f} %{tag}")
        unl = int((self.y < 0).sum())
        if unl:
            lines.append(f"  {'(unlabelled)':<24} {unl:>8,}")
        if not self.minority_inferred:
            how = "given"
        else:
            how = f"inferred, rule {describe_minority(counts, self.minority_rule or 'rarest')}"
            how += "; change with --minority"
        share = counts[list(self.minority)].sum() / total
        lines.append(f"minority: {', '.join(self.minority_names) or '-'} "
                     f"({100 * share:.1f} % of the labelled rows; {how})")
        if self.dropped:
            lines.append(f"dropped {len(self.dropped)} rows with empty or invalid text")
        return "\n".join(lines)


def infer_minority(counts, rule="rarest") -> tuple:
    """The minority classes that ``rule`` reads in the class counts.

    Parameters
    ----------
    counts : int array of shape (n_classes,)
        Labelled rows per class.
    rule : {"rarest", "half-uniform", "below-10"}
        ``rarest`` (default): the smallest classes that together hold at most 10 % of the labelled
        rows, at most 10 of them (ties in size broken by class order), so the minority is rare
        in total whatever the number of classes; ``half-uniform``: every class under half the
        uniform share ``1 / (2K)``; ``below-10``: every class under 10 %. When no class
        qualifies, the smallest class.

    Returns
    -------
    tuple of int
        Sorted class indices, never all of them.
    """
    picked = _rule_picks(counts, rule)
    if len(picked) == 0 or len(picked) == len(counts):
        picked = [int(np.argmin(counts))]
    return tuple(sorted(int(c) for c in picked))


def _rule_picks(counts, rule):
    if rule not in MINORITY_RULES:
        raise ParameterError(f"minority_rule={rule!r} is unknown; choose one of "
                             f"{', '.join(MINORITY_RULES)}")
    counts = np.asarray(counts, np.int64)
    share = counts / max(int(counts.sum()), 1)
    if rule == "rarest":
        order = np.argsort(counts, kind="stable")
        n = int((np.cumsum(share[order]) <= MINORITY_MASS + 1e-12).sum())
        return order[:min(n, MINORITY_MAX_CLASSES)]
    if rule == "half-uniform":
        return np.flatnonzero(share < 0.5 / len(counts))
    return np.flatnonzero(share < MINORITY_SHARE)


def describe_minority(counts, rule="rarest") -> str:
    """One line naming ``rule`` and what it finds in ``counts``, e.g. ``"rarest (the smallest
    classes ...): 4 of 15 classes"``, or that no class qualifies and the smallest one is used."""
    found = len(_rule_picks(counts, rule))
    text = f"{rule} ({MINORITY_RULES[rule]})"
    if found == 0 or found == len(counts):
        return f"{text}: no class qualifies, so the smallest class"
    return f"{text}: {found} of {len(counts)} classes"


_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def _decode(path: Path) -> str:
    """The file's text: UTF-8 (a BOM is dropped) or UTF-16 with a BOM; DataError otherwise."""
    raw = path.read_bytes()
    encoding = next((enc for bom, enc in _BOMS if raw.startswith(bom)), "utf-8")
    head = raw[:4096]
    if encoding == "utf-8" and len(head) >= 8 and max(head[0::2].count(0), head[1::2].count(0)) \
            > 0.4 * len(head) / 2:
        raise DataError(f"{path} looks like UTF-16 without a byte-order mark (every other byte is "
                        "0); re-save it as UTF-8 (e.g. `iconv -f utf-16le -t utf-8`)")
    try:
        text = raw.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    except UnicodeDecodeError as err:
        if encoding != "utf-8":
            raise DataError(
                f"{path} starts with a {encoding.upper()} byte-order mark but is not valid "
                f"{encoding.upper()} (at byte {err.start}); re-save it as UTF-8") from None
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            f"{path} is not valid UTF-8 (byte 0x{raw[err.start]:02x} at line {line}); "
            "re-save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
        ) from None
    return text


def _one_line(err, limit=200) -> str:
    """The first line of an exception's message, shortened (for one-line errors)."""
    lines = str(err).strip().splitlines()
    first = lines[0].strip() if lines else type(err).__name__
    return first if len(first) <= limit else first[:limit] + "..."


def _read_csv(path: Path, text: str):
    import io
    import warnings

    import pandas as pd

    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    # only an empty field is missing: "NA", "null" or "None" are texts and class names
    opts = dict(sep=sep, dtype=str, keep_default_na=False, na_values=[""], index_col=False)
    with warnings.catch_warnings():
        # a row longer than the header is an error, not data silently dropped or used as index
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            df = pd.read_csv(io.StringIO(text), **opts)
        except pd.errors.ParserWarning:
            raise DataError(
                f"cannot read {path} as CSV: a row has more fields than the header; quote "
                f"texts that contain the separator {sep!r}"
            ) from None
        header = pd.read_csv(io.StringIO(text), header=None, nrows=1, **opts)
    raw = ["" if pd.isna(c) else str(c) for c in header.iloc[0]] if len(header) else []
    if len(raw) == len(df.columns):  # pandas renames a repeated "text" to "text.1": undo it
        df.columns = [r if r else c for r, c in zip(raw, df.columns)]
    return df


def _read(path: Path, fmt: str):
    import io

    import pandas as pd

    try:
        if fmt == "csv":
            return _read_csv(path, _decode(path))
        if fmt == "parquet":
            return pd.read_parquet(path)
        text = _decode(path)
        if not text.strip():
            raise pd.errors.EmptyDataError
        return pd.read_json(io.StringIO(text), lines=True, dtype=False, convert_dates=False,
                            keep_default_dates=False)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: give a file with a header row and at least one row") from None
    except Exception as err:  # pandas, pyarrow and json raise many types for a malformed file
        raise DataError(f"cannot read {path} as {fmt.upper()}: {_one_line(err)}; check the "
                        "file's format") from None


def _shown(names, limit=20) -> str:
    """Column or class names for a one-line message (odd ones quoted, long lists cut)."""
    out = [n if n.isprintable() and "," not in n and n.strip() == n else repr(n)
           for n in map(str, names[:limit])]
    return ", ".join(out) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _rows(rows) -> str:
    return ", ".join(str(r) for r in rows[:10]) + (", ..." if len(rows) > 10 else "")


try:
    from pandas import NA as _NA
except ImportError:  # pragma: no cover - pandas is a dependency
    _NA = object()


def _label_name(v):
    """A label value's class name: ``""`` when missing, ``None`` when it cannot name a class."""
    if v is None or v is _NA or (isinstance(v, (float, np.floating)) and np.isnan(v)):
        return ""
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        # Parquet and JSON turn an integer column with gaps into floats: 1.0 names class "1"
        return str(int(v)) if np.isfinite(v) and float(v).is_integer() else str(float(v))
    return None


def _not_unicode(texts) -> np.ndarray:
    """Mask of texts holding a lone surrogate (JSON allows "\\ud800"; UTF-8 and Parquet do not)."""
    try:
        "".join(texts).encode("utf-8")
        return np.zeros(len(texts), bool)
    except UnicodeEncodeError:
        return np.array([_has_surrogate(t) for t in texts], bool)


def _has_surrogate(t) -> bool:
    try:
        t.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _resolve(source, cache_dir=None):
    """Return (path, name) for a file path or a built-in dataset name."""
    from . import corpora

    if corpora.is_builtin(source):
        return Path(corpora.resolve_builtin(str(source), cache_dir=cache_dir)), str(source)
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(
            f"dataset {str(source)!r} not found: give a path to a .csv, .parquet or .jsonl file, "
            "or one of the built-in names " + ", ".join(map(repr, corpora.BUILTIN))
        )
    if path.is_dir():
        raise DataError(f"dataset {str(path)!r} is a directory: give a .csv, .parquet or .jsonl file")
    return path, path.stem


def content_hash(texts, labels) -> str:
    h = hashlib.sha256()
    for t, lab in zip(texts, labels):
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
        h.update(str(lab).encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()


def load_dataset(source, text_col="text", label_col="label", minority=None, *,
                 drop_invalid=False, split_col="split", cache_dir=None,
                 minority_rule="rarest") -> Dataset:
    """Load and validate a labelled text dataset.

    Parameters
    ----------
    source : str or Path
        A ``.csv``/``.tsv``, ``.parquet`` or ``.jsonl`` file, or ``"sample"`` (the shipped
        SpamAssassin sample) or ``"brown"`` (built by ``anchoral fetch brown``).
    text_col, label_col : str
        Column names. Rows with an empty label are unlabelled (``y == -1``); at least two classes
        must have labels.
    minority : str or sequence of str, optional
        Minority class name(s). When omitted, inferred by ``minority_rule``.
    drop_invalid : bool
        Drop rows whose text is empty, missing or not a string, instead of raising.
    split_col : str
        Optional column with ``train`` / ``test`` per row, used as the held-out split.
    cache_dir : str or Path, optional
        Where built-in datasets built on demand (``"brown"``) live.
    minority_rule : {"rarest", "half-uniform", "below-10"}
        How to infer the minority classes when ``minority`` is omitted (:func:`infer_minority`).

    Returns
    -------
    Dataset
    """
    path, name = _resolve(source, cache_dir)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"unknown format {path.suffix or '(no extension)'!r} for {path}: use .csv, .tsv, "
            ".parquet or .jsonl"
        )
    df = _read(path, fmt)
    return from_frame(df, text_col, label_col, minority, name=name, source=str(path),
                      drop_invalid=drop_invalid, split_col=split_col, minority_rule=minority_rule)


def from_frame(df, text_col="text", label_col="label", minority=None, *, name="frame",
               source="", drop_invalid=False, split_col="split",
               minority_rule="rarest") -> Dataset:
    """Validate a pandas DataFrame into a :class:`Dataset` (same rules as :func:`load_dataset`)."""
    path = Path(source or name)
    if len(df) == 0:
        raise DataError(f"{path} has no rows: give a file with at least two classes of texts")
    columns = [str(c) for c in df.columns]
    for role, col in (("text", text_col), ("label", label_col)):
        if col not in df.columns:
            raise DataError(
                f"{role} column {col!r} not found in {path.name}; columns are: "
                f"{_shown(columns)} (choose with --{role}-col)"
            )
    repeated = [c for c in (text_col, label_col, split_col, "id") if columns.count(str(c)) > 1]
    if repeated:
        raise DataError(f"column {repeated[0]!r} appears {columns.count(str(repeated[0]))} times "
                        f"in {path.name}: rename all but one")

    raw_texts = df[text_col].to_numpy(dtype=object)
    bad = np.array([not isinstance(t, str) or not t.strip() for t in raw_texts])
    odd = ~bad & _not_unicode([t if isinstance(t, str) else "" for t in raw_texts])
    dropped = ()
    if bad.any() or odd.any():
        if not drop_invalid:
            rows = np.flatnonzero(bad if bad.any() else odd)
            what = ("an empty, missing or non-string" if bad.any() else
                    "a lone surrogate (not valid Unicode) in its")
            raise DataError(
                f"{len(rows)} of {len(df)} rows have {what} {text_col!r} (rows {_rows(rows)}); "
                "fix them or pass --drop-invalid (drop_invalid=True) to drop them"
            )
        keep = ~(bad | odd)
        dropped = tuple(int(r) for r in np.flatnonzero(~keep))
        df = df.loc[keep].reset_index(drop=True)
        raw_texts = raw_texts[keep]
        if len(df) == 0:
            raise DataError(f"every row of {path.name} has an empty text: nothing left to learn from")

    names = np.array([_label_name(v) for v in df[label_col].to_numpy(dtype=object)],
                     dtype=object)
    invalid = np.array([n is None for n in names], bool)
    if invalid.any():
        rows = np.flatnonzero(invalid)
        kind = type(df[label_col].iloc[int(rows[0])]).__name__
        raise DataError(
            f"{len(rows)} of {len(df)} rows have a {label_col!r} that is neither text nor a "
            f"number (rows {_rows(rows)}: {kind}); give one class name per row")
    missing = names == ""
    classes = tuple(sorted(set(names[~missing])))
    broken = [c for c in classes if _has_surrogate(c)]
    if broken:
        raise DataError(f"class name {broken[0]!r} in {label_col!r} holds a lone surrogate (not "
                        "valid Unicode); fix the label in the file")
    if len(classes) < 2:
        found = f"only {classes[0]!r}" if classes else "no labels at all"
        raise DataError(
            f"label column {label_col!r} has {found}: active learning needs at least 2 classes "
            "with labelled rows"
        )
    lookup = {c: i for i, c in enumerate(classes)}
    y = np.array([-1 if m else lookup[v] for v, m in zip(names, missing)], dtype=np.int64)
    counts = np.bincount(y[y >= 0], minlength=len(classes))

    rule = ""
    if minority is None or (not isinstance(minority, str) and len(minority) == 0):
        rule = minority_rule
        minority_idx = infer_minority(counts, rule)
        inferred = True
    else:
        wanted = [minority] if isinstance(minority, str) else list(minority)
        unknown = [m for m in wanted if m not in lookup]
        if unknown:
            raise DataError(
                f"minority label {', '.join(map(repr, unknown))} is not in column {label_col!r}; "
                f"its classes are: {_shown(classes)}"
            )
        minority_idx = tuple(sorted(lookup[m] for m in wanted))
        if len(minority_idx) == len(classes):
            raise DataError(
                "every class was named a minority class: leave at least one majority class"
            )
        inferred = False

    split = None
    if split_col in df.columns:
        split = df[split_col].astype(str).str.strip().str.lower().to_numpy(dtype=object)
        odd = sorted(set(split) - {"train", "test"})
        if odd:
            raise DataError(
                f"split column {split_col!r} may hold only 'train' and 'test', found "
                f"{', '.join(map(repr, odd[:5]))}; fix the values or rename the column"
            )
    ids = df["id"].astype(str).to_numpy(dtype=object) if "id" in df.columns else None
    texts = np.array([str(t) for t in raw_texts], dtype=object)
    return Dataset(
        texts=texts,
        y=y,
        classes=classes,
        minority=minority_idx,
        minority_inferred=inferred,
        name=name,
        content_hash=content_hash(texts, [classes[v] if v >= 0 else "" for v in y]),
        split=split,
        ids=ids,
        source=str(source),
        dropped=dropped,
        minority_rule=rule,
    )


def from_arrays(texts, labels, minority=None, name="arrays") -> Dataset:
    """Build a :class:`Dataset` from in-memory texts and label names (tests, notebooks)."""
    import pandas as pd

    df = pd.DataFrame({"text": list(texts), "label": list(labels)})
    return from_frame(df, minority=minority, name=name)
