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
                        help="minority class name(s); default: classes below 10%% of the rows")
    parser.add_argument("--drop-invalid", action="store_true",
                        help="drop rows whose text is empty or missing instead of failing")
    parser.add_argument("--cache-dir", default=None,
                        help="cache root (default $ANCHORAL_CACHE_DIR or ~/.cache/anchoral-explorer)")
    parser.add_argument("--embeddings", metavar="FILE.npy", default=None,
                        help="precomputed vectors, one row per text, instead of the encoder")
    parser.add_argument("--index", choices=("auto", "exact", "ivf", "hnsw"), default="auto",
                        help="vector index; auto = exact up to 100k rows, IVF above")
    parser.add_argument("--dask", metavar="ADDRESS", default=None,
                        help="embed (in cached partitions) and UMAP-transform on a Dask cluster: "
                        "a scheduler address (tcp://host:8786), 'local' or 'local:N' (N one-thread "
                        "worker processes here); see docs/scale.md")


def dask_from_args(args):
    """A context manager giving the ``--dask`` client, or ``None`` without ``--dask``."""
    import contextlib

    address = getattr(args, "dask", None)
    if not address:
        return contextlib.nullcontext(None)
    from explorer.distributed import dask_client

    return dask_client(address)


def prepare_from_args(args, projection=True, progress=True, client=None):
    from explorer.prepare import prepare

    return prepare(args.data, text_col=args.text_col, label_col=args.label_col,
                   minority=args.minority, drop_invalid=args.drop_invalid,
                   cache_dir=args.cache_dir, embeddings=args.embeddings, index=args.index,
                   projection=projection, progress=progress, client=client)


def add_arguments(parser):
    add_data_arguments(parser)
    parser.add_argument("--no-projection", action="store_true", help="skip the UMAP map")
    parser.add_argument("--save-embeddings", metavar="FILE.npy", default=None,
                        help="also write the pool's vectors (unit rows, in row order) to this "
                        ".npy file: the mirror of --embeddings")
    parser.add_argument("--save-dtype", choices=("float32", "float16"), default="float32",
                        help="dtype of --save-embeddings (float16: half the size, ~1e-3 error)")


def run(args) -> int:
    from pathlib import Path

    from explorer.exceptions import ParameterError

    save = Path(args.save_embeddings).expanduser() if args.save_embeddings else None
    if save is not None and save.suffix != ".npy":
        raise ParameterError(f"--save-embeddings={args.save_embeddings!r} must end in .npy "
                             "(a NumPy array file, the format --embeddings reads)")
    with dask_from_args(args) as client:
        if client is not None:
            from explorer.distributed import describe

            print(f"dask: {describe(client)}", flush=True)
        prepared = prepare_from_args(args, projection=not args.no_projection, client=client)
    print(prepared.summary())
    if save is not None:
        from explorer.embed import save_embeddings

        X = save_embeddings(save, prepared.embeddings, dtype=args.save_dtype)
        print(f"saved {X.shape[0]:,} x {X.shape[1]} {args.save_dtype} embeddings to {save}")
    return 0
