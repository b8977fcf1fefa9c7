"""``panel serve apps/anchoral.py [--args DATA [--minority LABEL ...] [--threads N]]``: the AnchorAL Explorer.

Only wiring: the pool is loaded once per server (shared, read only) and every session gets its
own :class:`explorer.ui.ExplorerApp`. ``anchoral serve`` serves the same app with more options.
"""

import os
import sys

import panel as pn

from explorer.threads import set_threads
from explorer.ui.app import ExplorerApp, load_prepared
from explorer.ui.serving import app_options

pn.extension("tabulator", notifications=False, sizing_mode="stretch_width")

if pn.state.served:
    opts = app_options(sys.argv[1:], os.environ)
    set_threads(opts["threads"])  # --args --threads N, else $ANCHORAL_THREADS, else the default
    prepared = load_prepared(opts["source"], opts["options"])
    if opts["session"]:
        from explorer.ui.serving import ensure_session

        ensure_session(opts["session"], prepared, opts)
    ExplorerApp(prepared, datasets=opts["datasets"], dataset=opts["source"],
                load_options=opts["options"], session_dir=opts["session"],
                session_root=opts["session_root"],
                **opts["settings"]).template().servable()
