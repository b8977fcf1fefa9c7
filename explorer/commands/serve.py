"""``anchoral serve``: open the explorer app in the browser."""

from __future__ import annotations

HELP = "Open the AnchorAL Explorer app (map, live comparison plots) on a dataset."


def add_arguments(parser):
    from explorer.cli_args import add_dask_argument
    from explorer.ui.serving import add_arguments as add_app_arguments

    add_app_arguments(parser)
    add_dask_argument(parser)
    parser.add_argument("--port", type=int, default=5006, help="port to serve on (0: any free)")
    parser.add_argument("--address", default="localhost", help="address to listen on")
    parser.add_argument("--show", action="store_true", help="open the app in a browser tab")


def run(args) -> int:
    from explorer.cli_args import dask_from_args

    with dask_from_args(args) as client:
        return _serve(args, client)


def _serve(args, client) -> int:
    import os

    from explorer.ui.serving import options_from_args

    opts = options_from_args(args, os.environ)
    # prepare (with progress bars) before serving, so a bad dataset fails here with one clear
    # line, and the first page load finds the pool in memory
    from explorer.ui.synthetic import is_synthetic

    if not is_synthetic(opts["source"]):
        from explorer.prepare import prepare

        load = dict(opts["load"])
        minority = list(load.pop("minority") or []) or None
        prepared = prepare(opts["source"], minority=minority, progress=True, client=client,
                           **load)
        print(prepared.summary())

    import panel as pn

    from explorer.ui.app import ExplorerApp, load_prepared

    pn.extension("tabulator", notifications=False, sizing_mode="stretch_width")
    prepared = load_prepared(opts["source"], **opts["load"])
    if client is not None:  # the fine-tuned encoder scores large pools on the cluster
        prepared.client = client
    if opts["session"]:
        from explorer.ui.serving import ensure_session

        ensure_session(opts["session"], prepared, opts)
        print(f"session {opts['session']}: resumed in every page that opens", flush=True)

    def page():
        return ExplorerApp(prepared, datasets=opts["datasets"], dataset=opts["source"],
                           load_options=opts["load"], session_dir=opts["session"],
                           **opts["settings"]).template()

    # a closed or reloaded tab gives its session directory back within seconds
    server = pn.serve(page, port=args.port, address=args.address, show=False,
                      title="AnchorAL Explorer", start=False, warm=True,
                      unused_session_lifetime_milliseconds=5000,
                      check_unused_sessions_milliseconds=1000,
                      websocket_origin=None if args.address in ("localhost", "127.0.0.1")
                      else "*")
    url = f"http://{args.address}:{server.port}/"
    print(f"serving the AnchorAL Explorer on {url} (Ctrl+C to stop)", flush=True)
    if args.show:
        server.io_loop.add_callback(server.show, "/")
    server.start()
    server.io_loop.start()
    return 0
