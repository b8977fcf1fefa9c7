"""The ``anchoral`` command line.

Each sub-command lives in ``explorer/commands/<name>.py`` and defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Errors the library raises on purpose
(:class:`explorer.exceptions.ExplorerError`) are printed as one line on stderr, exit code 2.
``--threads N`` (before or after the sub-command) caps BLAS / OpenMP / FAISS / torch threads for
every sub-command (:mod:`explorer.threads`); without it (and ``$ANCHORAL_THREADS``) the commands
in :data:`BATCH` use every core and the others the conservative default.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import threads
from .exceptions import ExplorerError

COMMANDS = ("prepare", "fetch", "simulate", "serve", "label", "export", "neighbours")

#: sub-commands that run unattended and end: one thread per core unless told otherwise
#: (``threads.default_threads(batch=True)``); ``serve`` and ``label`` share the cores with a
#: person and keep the conservative default
BATCH = frozenset({"prepare", "fetch", "simulate", "export"})


def _load(name):
    try:
        return importlib.import_module(f"explorer.commands.{name}")
    except ModuleNotFoundError as err:  # a command whose module is not part of this build
        if err.name == f"explorer.commands.{name}":
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anchoral",
        description="AnchorAL Explorer: prepare text pools, simulate and run anchor-based active "
        "learning, and explore it in the browser.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    threads.add_argument(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = _load(name)
        if module is None:
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP,
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        module.add_arguments(p)
        if not any("--threads" in a.option_strings for a in p._actions):
            threads.add_argument(p, default=argparse.SUPPRESS,  # also after the sub-command
                                 batch=name in BATCH)
        p.set_defaults(_run=module.run, _parser=p, _options=getattr(module, "OPTIONS", None))
    return parser


def _as_options(err, args) -> str:
    """The message of ``err``, naming the option (``--n-anchors=0 ...``) when a parameter that
    the command exposes as an option is at fault."""
    from .cli_args import option_name

    msg = str(err)
    param = getattr(err, "param", None)
    if param and msg.startswith(f"{param}="):
        option = option_name(param, getattr(args, "_parser", None), getattr(args, "_options", None))
        if option:
            msg = option + msg[len(param):]
    return msg


def _version():
    from . import __version__

    return __version__


def main(argv=None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        threads.set_threads(args.threads, batch=args.command in BATCH)
        return int(args._run(args) or 0)
    except ExplorerError as err:
        print(f"anchoral {args.command}: error: {_as_options(err, args)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"anchoral {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
