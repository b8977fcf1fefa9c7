"""``anchoral neighbours``: the k rows of a pool nearest to a text (or to a row), as a table."""

from __future__ import annotations

from explorer.cli_args import add_data_arguments, prepare_from_args

HELP = ("Print the k rows of a pool most similar to a text (encoded with the pool's encoder) or "
        "to a row (--id), from the pool's cached index.")

#: library parameter -> this command's option, where the names differ (see explorer.cli)
OPTIONS = {"k": "-k", "query": "TEXT"}

#: characters of text shown per row
TEXT_WIDTH = 70


def add_arguments(parser):
    add_data_arguments(parser)
    parser.add_argument("query", metavar="TEXT", nargs="?", default=None,
                        help="the text to search for (or give --id)")
    parser.add_argument("--id", dest="row", type=int, metavar="ROW", default=None,
                        help="search with this row's vector instead of a text (the row itself "
                        "is left out)")
    parser.add_argument("-k", type=int, default=20, help="rows to return")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="also write the table (rank, id, similarity, label, full text) to "
                        "a .csv, .parquet or .jsonl file")


def _one_line(text, width=TEXT_WIDTH) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def format_table(res) -> str:
    """The result as aligned text: rank, id, label, similarity, text (one line, truncated)."""
    df = res.frame()
    w_id = max([len("id")] + [len(str(i)) for i in df["id"]])
    w_lab = max([len("label")] + [len(str(v)) for v in df["label"]])
    lines = [f"{'rank':>4}  {'id':>{w_id}}  {'label':<{w_lab}}  similarity  text"]
    for row in df.itertuples(index=False):
        lines.append(f"{row.rank:>4}  {row.id:>{w_id}}  {row.label:<{w_lab}}  "
                     f"{row.similarity:>10.4f}  {_one_line(row.text)}")
    return "\n".join(lines)


def run(args) -> int:
    from explorer.exceptions import ParameterError
    from explorer.neighbours import neighbours

    if (args.query is None) == (args.row is None):
        raise ParameterError("give a TEXT to search for or --id ROW (one of them)",
                             param="query", value=args.query)
    prepared = prepare_from_args(args, projection=False, progress=False)
    res = neighbours(prepared, args.row if args.row is not None else args.query, k=args.k)
    what = f"row {res.query}" if res.by_row else repr(_one_line(res.query, 60))
    print(f"{len(res)} nearest rows to {what} in {prepared.dataset.name} "
          f"({prepared.dataset.n:,} rows; {prepared.index.kind} index; {res.seconds:.3f} s"
          f"{'' if res.by_row else ', loading the encoder included'})")
    print(format_table(res))
    if args.out:
        from explorer.export import write_table

        print(f"wrote {write_table(res.frame(), args.out)}")
    return 0
