"""``anchoral serve``: open the explorer app in the browser (this machine only unless told)."""

from __future__ import annotations

HELP = "Open the AnchorAL Explorer app (map, live comparison plots) on a dataset."

#: addresses that only this machine can reach
LOCAL = ("localhost", "127.0.0.1", "::1")


def add_arguments(parser):
    from explorer.cli_args import add_dask_argument
    from explorer.ui.serving import add_arguments as add_app_arguments

    add_app_arguments(parser)
    add_dask_argument(parser)
    parser.add_argument("--port", type=int, default=5006, help="port to serve on (0: any free)")
    parser.add_argument("--address", default="localhost",
                        help="address to listen on (default: localhost, this machine only; "
                        "0.0.0.0 serves every network, with no login unless --basic-auth)")
    parser.add_argument("--allow-websocket-origin", action="append", metavar="HOST[:PORT]",
                        help="host name the browsers use to reach a non-local server, e.g. "
                        "teacher-pc.local:5006 (repeatable; default: localhost only)")
    parser.add_argument("--basic-auth", metavar="PASSWORD|FILE", default=None,
                        help="ask for a password (or users from a JSON file {user: password}) "
                        "before the page opens; default $PANEL_BASIC_AUTH")
    parser.add_argument("--cookie-secret", default=None,
                        help="secret that signs login cookies (default $PANEL_COOKIE_SECRET, "
                        "else a random one per start: logins end when the server restarts)")
    parser.add_argument("--ssl-certfile", default=None, help="serve HTTPS with this certificate")
    parser.add_argument("--ssl-keyfile", default=None, help="private key of --ssl-certfile")
    parser.add_argument("--num-threads", type=int, default=None,
                        help="threads that handle page events (default: none, the event loop); "
                        "for several processes use `panel serve apps/anchoral.py --num-procs N` "
                        "(docs/app.md, 'How to serve a class')")
    parser.add_argument("--workers", type=int, default=None,
                        help="rounds (and commits, session opens) computed at once for all "
                        "pages; more wait in line (default: $ANCHORAL_WORKERS or one per core, "
                        "at most 4)")
    parser.add_argument("--show", action="store_true", help="open the app in a browser tab")


def server_options(args, env=None):
    """(``pn.serve`` keyword arguments, warnings to print) for the parsed ``args``.

    Safe by default: localhost only; a non-local address keeps Bokeh's localhost-only websocket
    origin until ``--allow-websocket-origin`` names the host browsers use, and says when no login
    protects it.
    """
    import secrets

    from explorer.exceptions import ParameterError

    env = env or {}
    origins = list(args.allow_websocket_origin or [])
    auth = args.basic_auth or env.get("PANEL_BASIC_AUTH") or None
    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        raise ParameterError("--ssl-certfile and --ssl-keyfile go together: give both or neither")
    if args.num_threads is not None and args.num_threads < 0:
        raise ParameterError(f"--num-threads={args.num_threads} must be >= 0")
    if args.workers is not None and args.workers < 1:
        raise ParameterError(f"--workers={args.workers} must be >= 1")
    opts = dict(port=args.port, address=args.address, websocket_origin=origins or None)
    if auth:
        opts["basic_auth"] = auth
        opts["cookie_secret"] = (args.cookie_secret or env.get("PANEL_COOKIE_SECRET")
                                 or secrets.token_urlsafe(32))
    if args.ssl_certfile:
        opts.update(ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile)
    warnings = []
    if args.address not in LOCAL:
        if not origins:
            warnings.append(
                f"note: listening on {args.address}, but browsers on other machines are refused "
                "until you add --allow-websocket-origin HOST:PORT (the address they type)")
        if "*" in origins:
            warnings.append("warning: --allow-websocket-origin '*' lets any web page a visitor "
                            "opens drive this server; name the host instead")
        if not auth:
            warnings.append(
                f"warning: serving on {args.address} with no login: anyone who reaches port "
                f"{args.port} can use the app and its session directories; add --basic-auth "
                "(docs/app.md, 'How to serve a class')")
        elif not args.ssl_certfile:
            warnings.append("note: the password crosses the network in clear text without "
                            "--ssl-certfile/--ssl-keyfile (or an HTTPS proxy in front)")
    return opts, warnings


def run(args) -> int:
    from explorer.cli_args import dask_from_args

    with dask_from_args(args) as client:
        return _serve(args, client)


def _serve(args, client) -> int:
    import os
    import sys

    from explorer.ui.serving import options_from_args

    opts = options_from_args(args, os.environ)
    serve_opts, warnings = server_options(args, os.environ)
    # prepare (with progress bars) before serving, so a bad dataset fails here with one clear
    # line, and the first page load finds the pool in memory
    from explorer.ui.synthetic import is_synthetic

    if not is_synthetic(opts["source"]):
        from explorer.prepare import prepare

        prepared = prepare(opts["source"], opts["options"], progress=True, client=client)
        print(prepared.summary())

    import panel as pn

    from explorer.ui.app import ExplorerApp, load_prepared

    pn.extension("tabulator", notifications=False, sizing_mode="stretch_width")
    if args.num_threads is not None:
        pn.config.nthreads = args.num_threads
    if args.workers is not None:
        from explorer.ui.jobs import set_workers

        set_workers(args.workers)
    # what a page's first Step imports (the engine, scikit-learn's splits and models), imported
    # once now instead of on the event loop of the first person who presses Step
    import explorer.experiment  # noqa: F401
    import explorer.models  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.model_selection  # noqa: F401

    prepared = load_prepared(opts["source"], opts["options"])
    if client is not None:  # the fine-tuned encoder scores large pools on the cluster
        prepared.client = client
    if opts["session"]:
        from explorer.ui.serving import ensure_session

        ensure_session(opts["session"], prepared, opts)
        print(f"session {opts['session']}: resumed in every page that opens", flush=True)

    # a network server lets pages choose session directories only under --session-root
    root = opts["session_root"] or (None if args.address in LOCAL else False)

    def page():
        return ExplorerApp(prepared, datasets=opts["datasets"], dataset=opts["source"],
                           load_options=opts["options"], session_dir=opts["session"],
                           session_root=root, **opts["settings"]).template()

    for line in warnings:
        print(line, file=sys.stderr, flush=True)
    # a closed or reloaded tab gives its session directory back within seconds
    server = pn.serve(page, show=False, title="AnchorAL Explorer", start=False, warm=True,
                      unused_session_lifetime_milliseconds=5000,
                      check_unused_sessions_milliseconds=1000, **serve_opts)
    scheme = "https" if args.ssl_certfile else "http"
    url = f"{scheme}://{args.address}:{server.port}/"
    print(f"serving the AnchorAL Explorer on {url} (Ctrl+C to stop)", flush=True)
    if args.show:
        server.io_loop.add_callback(server.show, "/")
    # the modules, the pool and the warm page are long-lived: out of the collector's sight, a
    # full collection during someone's Step walks only what pages made since (measured at 10M:
    # 0.25-0.37 s per full collection before, docs/benchmarks.md)
    import gc

    gc.collect()
    gc.freeze()
    server.start()
    server.io_loop.start()
    return 0
