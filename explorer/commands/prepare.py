"""``anchoral prepare``: load → embed → index → project, and print a summary."""

from __future__ import annotations

from explorer.cli_args import add_data_arguments, prepare_from_args

HELP = "Load a dataset, embed it, build the vector index and the UMAP map (all cached)."


def add_arguments(parser):
    add_data_arguments(parser)
    parser.add_argument("--no-projection", action="store_true", help="skip the UMAP map")


def run(args) -> int:
    prepared = prepare_from_args(args, projection=not args.no_projection)
    print(prepared.summary())
    return 0
