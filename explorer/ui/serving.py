"""Options shared by ``anchoral serve`` and ``panel serve apps/anchoral.py --args ...``.

No Panel import: the CLI parses its arguments before starting a server.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..registry import FILTERS, MODELS, STRATEGIES, names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """DATA and every ``prepare`` option, plus the app's starting settings."""
    from ..cli_args import add_data_arguments

    add_data_arguments(
        parser, optional=True,
        data_help="a .csv/.tsv, .parquet or .jsonl file, 'sample' (shipped), 'brown' (after "
        "`anchoral fetch brown`) or 'synthetic:N' (N synthetic 384-d rows, no text embedding); default: "
        "$ANCHORAL_DATA or 'sample'")
    parser.add_argument("--filters", default="anchoral,full",
                        help=f"filters compared at start, comma-separated from {','.join(FILTERS)}")
    parser.add_argument("--strategy", default="entropy", choices=names(STRATEGIES),
                        help="base query strategy at start")
    parser.add_argument("--model", default="lr", choices=names(MODELS), help="model at start")
    parser.add_argument("--session", metavar="DIR", default=None,
                        help="session directory: resumed where it stopped when it holds one, "
                        "created otherwise; every labelled or simulated round is saved there")
    parser.add_argument("--session-root", metavar="DIR", default=None,
                        help="directory under which the page's Session card may open or save "
                        "sessions (default: anywhere when serving localhost, nowhere when "
                        "serving a network)")
    parser.add_argument("--label-by-hand", action="store_true",
                        help="label the queried texts yourself even though the data has gold "
                        "labels (the app shows agreement with gold)")


def app_options(argv, env=None) -> dict:
    """Parse ``argv`` (the ``--args`` of ``panel serve``) into loader and app options."""
    from ..threads import add_argument as add_threads_argument

    parser = argparse.ArgumentParser(prog="apps/anchoral.py")
    add_arguments(parser)
    add_threads_argument(parser, batch=False)
    args = parser.parse_args(list(argv))
    return options_from_args(args, env)


def options_from_args(args, env=None) -> dict:
    """The server's options: ``source``, ``options`` (the pool's
    :class:`~explorer.options.PrepareOptions`), ``settings`` (the app's start settings),
    ``datasets``, ``threads``, ``session`` and ``session_root``."""
    from ..options import PrepareOptions

    env = env or {}
    source = args.data or env.get("ANCHORAL_DATA") or "sample"
    options = PrepareOptions.from_args(args)
    filters = [f.strip().lower() for f in args.filters.split(",") if f.strip()]
    unknown = [f for f in filters if f not in FILTERS]
    if unknown or not filters:
        from ..exceptions import ParameterError

        raise ParameterError(f"--filters={args.filters!r}: unknown filter(s) {unknown}; use a "
                             f"comma-separated list from {', '.join(FILTERS)}")
    settings = dict(filters=filters, strategy=args.strategy, model=args.model,
                    label_by_hand=bool(getattr(args, "label_by_hand", False)))
    datasets = [source] + [d for d in _builtin() if d != source and _available(d, args)]
    session = getattr(args, "session", None)
    root = getattr(args, "session_root", None)
    from ..threads import resolve as resolve_threads

    return {"source": source, "options": options, "settings": settings, "datasets": datasets,
            "threads": resolve_threads(getattr(args, "threads", None), env),
            "session": str(Path(session).expanduser().resolve()) if session else None,
            "session_root": str(Path(root).expanduser().resolve()) if root else None}


def ensure_session(path, prepared, opts) -> str:
    """Validate the session directory ``path``, or create it from the app's start settings.

    Raises :class:`~explorer.exceptions.SessionError` (a foreign or corrupted directory, or
    another dataset: :func:`explorer.store.check_dataset`) before the server starts.
    """
    from ..store import check_session, create_session, data_spec_of
    from ..settings import experiment_kwargs

    p = Path(path)
    if (p / "session.json").exists():
        check_session(p, prepared)
        return str(p)
    spec = data_spec_of(prepared, opts["source"], opts["options"])
    st = opts["settings"]
    runs = [(f, st["strategy"]) for f in st["filters"]]
    create_session(p, prepared, spec, runs, **experiment_kwargs(st, prepared.dataset)).close()
    return str(p)


def _builtin() -> list:
    from .. import corpora

    return list(corpora.BUILTIN)


def _available(name, args) -> bool:
    from .. import corpora

    try:
        return corpora.resolve_builtin(name, args.cache_dir) is not None
    except Exception:  # a missing built-in is simply not offered
        return False
