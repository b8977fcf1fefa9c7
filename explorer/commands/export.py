"""``anchoral export``: a session's labels, rounds table or comparison plots to files."""

from __future__ import annotations

HELP = "Export a saved session: labels (CSV/Parquet/JSONL), the rounds table, the plots (PNG/HTML)."

#: library parameter -> this command's option, where the names differ (see explorer.cli)
OPTIONS = {"what": "--what", "format": "--format"}


def add_arguments(parser):
    from explorer.export import WHAT

    parser.add_argument("session", metavar="SESSION", help="session directory")
    parser.add_argument("--what", default="labels", choices=WHAT)
    parser.add_argument("--format", default=None,
                        help="csv, parquet or jsonl (tables); png or html (plots); default: "
                        "from --out's extension")
    parser.add_argument("--out", required=True, help="output file")


def run(args) -> int:
    from explorer.export import export

    path = export(args.session, args.what, args.out, args.format)
    print(f"wrote {path}")
    return 0
