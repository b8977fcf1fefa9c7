"""``anchoral prepare``: load → embed → index → project, and print a summary."""

from __future__ import annotations

HELP = "Load a dataset, embed it, build the vector index and the UMAP map (all cached)."


def add_data_arguments(parser, data_help=None, optional=False):
    """The options every command that takes DATA accepts (prepare, simulate, serve, label)."""
    parser.add_argument("data", metavar="DATA", nargs="?" if optional else None, default=None,
                        help=data_help or "a .csv/.tsv, .parquet or .jsonl file, or 'sample' "
                        "(shipped) or 'brown' (after `anchoral fetch brown`)")
    parser.add_argument("--text-col", default="text", help="column holding the texts")
    parser.add_argument("--label-col", default="label", help="column holding the class labels")
    parser.add_argument("--minority", nargs="+", metavar="LABEL", default=None,
                        help="minority class name(s); default: the smallest classes that together "
                        "hold <= 10%% of the labelled rows (at most 10)")
    parser.add_argument("--drop-invalid", action="store_true",
                        help="drop rows whose text is empty or missing instead of failing")
    parser.add_argument("--cache-dir", default=None,
                        help="cache root (default $ANCHORAL_CACHE_DIR or ~/.cache/anchoral-explorer)")
    parser.add_argument("--embeddings", metavar="FILE.npy", default=None,
                        help="precomputed vectors, one row per text, instead of the encoder")
    parser.add_argument("--index", choices=("auto", "exact", "ivf", "hnsw"), default="auto",
                        help="vector index; auto = exact up to 100k rows, IVF above")


def prepare_from_args(args, projection=True, progress=True):
    from explorer.prepare import prepare

    return prepare(args.data, text_col=args.text_col, label_col=args.label_col,
                   minority=args.minority, drop_invalid=args.drop_invalid,
                   cache_dir=args.cache_dir, embeddings=args.embeddings, index=args.index,
                   projection=projection, progress=progress)


def add_arguments(parser):
    add_data_arguments(parser)
    parser.add_argument("--no-projection", action="store_true", help="skip the UMAP map")


def run(args) -> int:
    prepared = prepare_from_args(args, projection=not args.no_projection)
    print(prepared.summary())
    return 0
