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
    """The options every command that takes DATA accepts (prepare, simulate, serve, label);
    their defaults are :class:`~explorer.options.PrepareOptions`'s, and
    :meth:`~explorer.options.PrepareOptions.from_args` reads them back."""
    from .options import PrepareOptions as D  # class attributes: the defaults

    parser.add_argument("data", metavar="DATA", nargs="?" if optional else None, default=None,
                        help=data_help or "a .csv/.tsv, .parquet or .jsonl file, or a built-in "
                        f"dataset: {builtin_help()}")
    parser.add_argument("--text-col", default=D.text_col, help="column holding the texts")
    parser.add_argument("--label-col", default=D.label_col, help="column holding the class labels")
    parser.add_argument("--minority", nargs="+", metavar="LABEL", default=D.minority,
                        help="minority class name(s); default: the smallest classes that together "
                        "hold <= 10%% of the labelled rows (at most 10)")
    parser.add_argument("--drop-invalid", action="store_true",
                        help="drop rows whose text is empty or missing instead of failing")
    parser.add_argument("--cache-dir", default=D.cache_dir,
                        help="cache root (default $ANCHORAL_CACHE_DIR or ~/.cache/anchoral-explorer)")
    parser.add_argument("--embeddings", metavar="FILE.npy", default=D.embeddings,
                        help="precomputed vectors, one row per text, instead of the encoder")
    parser.add_argument("--index", choices=("auto", "exact", "ivf", "hnsw"), default=D.index,
                        help="vector index; auto = exact up to 7,500 rows, then IVF unless its "
                        "calibration must scan > 15%% of the lists (then exact); IVF/HNSW are "
                        "cached")
    parser.add_argument("--embeddings-dtype", choices=("float32", "float16"),
                        default=D.embeddings_dtype,
                        help="storage of the cached vectors: float32 or float16 (half "
                        "the memory, memory-mapped; retrieval recall@50 vs float32 in "
                        "docs/benchmarks.md)")


def add_dask_argument(parser):
    """``--dask ADDRESS`` (prepare, simulate, serve): where the per-row work runs."""
    parser.add_argument("--dask", metavar="ADDRESS", default=None,
                        help="embed (in cached partitions), UMAP-transform and score with the "
                        "fine-tuned encoder on a Dask cluster: a scheduler address "
                        "(tcp://host:8786), 'local' or 'local:N' (N one-thread worker processes "
                        "here); see docs/scale.md")


def dask_from_args(args):
    """A context manager giving the ``--dask`` client (``None`` without ``--dask``)."""
    import contextlib

    if not getattr(args, "dask", None):
        return contextlib.nullcontext(None)
    from .distributed import dask_client

    return dask_client(args.dask)


def prepare_from_args(args, projection=None, progress=True, client=None):
    """:func:`~explorer.prepare.prepare` with the options of :func:`add_data_arguments`
    (:meth:`~explorer.options.PrepareOptions.from_args`); ``projection`` overrides
    ``--no-projection`` when given."""
    from .options import PrepareOptions
    from .prepare import prepare

    changes = {} if projection is None else {"projection": projection}
    return prepare(args.data, PrepareOptions.from_args(args, **changes), progress=progress,
                   client=client)
