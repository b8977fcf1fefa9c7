"""``anchoral prepare``: load → embed → index → project, and print a summary."""

from __future__ import annotations

from explorer.cli_args import (  # noqa: F401 (prepare_from_args: re-exported)
    add_dask_argument, add_data_arguments, dask_from_args, prepare_from_args)

HELP = "Load a dataset, embed it, build the vector index and the UMAP map (all cached)."


def add_arguments(parser):
    add_data_arguments(parser)
    add_dask_argument(parser)
    parser.add_argument("--no-projection", action="store_true", help="skip the UMAP map")
    parser.add_argument("--save-embeddings", metavar="FILE.npy", default=None,
                        help="also write the pool's vectors (unit rows, in row order) to this "
                        ".npy file: the mirror of --embeddings")
    parser.add_argument("--save-dtype", choices=("float32", "float16"), default="float32",
                        help="dtype of --save-embeddings (float16: half the size, ~1e-3 error)")
    parser.add_argument("--task", metavar="SPEC", default=None,
                        help="derive a paper-style task from DATA (its cached vectors are "
                        "sliced, not re-embedded): binary:CLASS[,CLASS...][@SHARE] (e.g. "
                        "binary:noun.food@1%%) or multi:CLASS@SHARE,CLASS@SHARE,... ; named "
                        "tasks (wordnet-binary-1, ...) are DATA names; see docs/paper.md")


def run(args) -> int:
    from pathlib import Path

    from explorer.exceptions import ParameterError

    save = Path(args.save_embeddings).expanduser() if args.save_embeddings else None
    if save is not None and save.suffix != ".npy":
        raise ParameterError(f"--save-embeddings={args.save_embeddings!r} must end in .npy "
                             "(a NumPy array file, the format --embeddings reads)")
    if args.task:
        from explorer.tasks import is_task_name, parse_task

        parse_task(args.task)  # a bad spelling fails before any work
        if is_task_name(args.data):
            raise ParameterError(f"--task={args.task!r}: {args.data!r} is already a task; give "
                                 "its base pool as DATA, or the task name alone", param="task",
                                 value=args.task)
    with dask_from_args(args) as client:
        if client is not None:
            from explorer.distributed import describe

            print(f"dask: {describe(client)}", flush=True)
        prepared = prepare_from_args(args, client=client)  # --no-projection: from_args
    print(prepared.summary())
    if getattr(prepared, "task", None) is not None:
        print(prepared.task.summary())
    if save is not None:
        from explorer.embed import save_embeddings

        X = save_embeddings(save, prepared.embeddings, dtype=args.save_dtype)
        print(f"saved {X.shape[0]:,} x {X.shape[1]} {args.save_dtype} embeddings to {save}")
    return 0
