"""Command-line vocabulary shared by the ``anchoral`` commands and the app's server options (argparse only).

Neither layer owns it: ``explorer/commands/*`` and ``explorer/ui/serving.py`` both import it, so
the UI never imports a CLI module. No heavy import at module level.
"""

from __future__ import annotations


def builtin_help() -> str:
    """``'sample' (shipped) or 'brown' (after `anchoral fetch brown`)``, from the corpora registry."""
    from .corpora import BUILTIN

    parts = [f"'{name}' (shipped)" if c.builder is None else
             f"'{name}' (after `anchoral fetch {name}`)" for name, c in BUILTIN.items()]
    return ", ".join(parts[:-1]) + f" or {parts[-1]}" if len(parts) > 1 else "".join(parts)


def option_name(param, parser=None, overrides=None) -> str | None:
    """The command-line option of a library parameter (``n_anchors`` -> ``--n-anchors``), or
    ``None`` when ``parser`` has no such option; ``overrides`` maps names that differ."""
    if overrides and param in overrides:
        return overrides[param]
    option = "--" + str(param).replace("_", "-")
    if parser is None:
        return option
    for action in parser._actions:
        if option in action.option_strings:
            return option
    return None


def add_data_arguments(parser, data_help=None, optional=False):
    """The options every command that takes DATA accepts (prepare, simulate, serve, label)."""
    parser.add_argument("data", metavar="DATA", nargs="?" if optional else None, default=None,
                        help=data_help or "a .csv/.tsv, .parquet or .jsonl file, or a built-in "
                        f"dataset: {builtin_help()}")
    parser.add_argument("--text-col", default="text", help="column holding the texts")
    parser.add_argument("--label-col", default="label", help="column holding the class labels")
    parser.add_argument("--minority", nargs="+", metavar="LABEL", default=None,
                        help="minority class name(s); default: classes below 10%% of the rows")
    parser.add_argument("--drop-invalid", action="store_true",
                        help="drop rows whose text is empty or missing instead of failing")
    parser.add_argument("--cache-dir", default=None,
                        help="cache root (default $ANCHORAL_CACHE_DIR or ~/.cache/anchoral-explorer)")
    parser.add_argument("--embeddings", metavar="FILE.npy", default=None,
                        help="precomputed vectors, one row per text, instead of the encoder")
    parser.add_argument("--index", choices=("auto", "exact", "ivf", "hnsw"), default="auto",
                        help="vector index; auto = exact up to 100k rows, IVF above")


def prepare_from_args(args, projection=True, progress=True):
    """:func:`~explorer.prepare.prepare` with the options of :func:`add_data_arguments`."""
    from .prepare import prepare

    return prepare(args.data, text_col=args.text_col, label_col=args.label_col,
                   minority=args.minority, drop_invalid=args.drop_invalid,
                   cache_dir=args.cache_dir, embeddings=args.embeddings, index=args.index,
                   projection=projection, progress=progress)
