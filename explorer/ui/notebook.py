"""The explorer inline in Jupyter: the Panel extensions it needs, offline, and a one-call API.

``ExplorerApp(...)`` (or :func:`show`) as a cell's last expression draws the whole app in
JupyterLab 4 and Notebook 7, live both ways, with no network: this module makes the
``pn.extension(...)`` call the app needs (a user never has to know which Panel extensions it
uses), with every script **inline** in the notebook (BokehJS, Panel and Tabulator; no CDN),
and points the stylesheets that Panel attaches to views *after* their first render at the
copies the Jupyter server serves (Panel's own server extension,
``<base_url>panel-preview/static/extensions/panel/``). Why the last part is needed, and the
upstream fix: docs/design.md, "The explorer inline in Jupyter".

    >>> from explorer.ui import show   # explorer.ui.app.show
    >>> app = show("sample")            # doctest: +SKIP
    >>> app                             # doctest: +SKIP
    >>> app.state.step()                # doctest: +SKIP  (the inline map follows)

Nothing here runs in a served page (``anchoral serve``): the server loads its resources itself.
"""

from __future__ import annotations

import os

#: Panel extensions the explorer's views use (the queries table is a Tabulator)
EXTENSIONS = ("tabulator",)
#: where Panel's Jupyter server extension serves Panel's static files (under the base URL)
PANEL_STATIC = "panel-preview/static/extensions/panel/"

_LOADED = {"execution": None}  # the cell execution that last loaded the extensions


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython with a kernel) and outside a Panel server."""
    import sys

    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    ip = get_ipython()
    if ip is None or getattr(ip, "kernel", None) is None:
        return False
    import panel as pn

    doc = pn.state.curdoc
    return doc is None or doc.session_context is None


def jupyter_base_url(env=None) -> str:
    """The Jupyter server's base URL as the kernel can know it: ``$JUPYTERHUB_SERVICE_PREFIX``
    on a JupyterHub (``/user/NAME/``), ``$ANCHORAL_JUPYTER_BASE_URL`` when set, else ``/``."""
    env = os.environ if env is None else env
    base = env.get("ANCHORAL_JUPYTER_BASE_URL") or env.get("JUPYTERHUB_SERVICE_PREFIX") or "/"
    return base if base.endswith("/") else base + "/"


def extension(force=False) -> bool:
    """Load the Panel extensions the explorer needs into this notebook, inline (offline).

    Called by :class:`~explorer.ui.app.ExplorerApp` when it is built in a kernel; calling it
    yourself is never needed. Once per cell execution: a cell that builds an app after the
    page was reloaded (same kernel, new page, no scripts yet) loads them again, and a cell
    that builds two apps loads them once. ``force=True`` loads now. Returns True when it
    loaded now.
    """
    if not in_notebook():
        return False
    from IPython import get_ipython

    execution = get_ipython().execution_count
    if _LOADED["execution"] == execution and not force:
        return False
    import panel as pn

    # inline: the scripts travel inside the notebook, so no CDN is needed (a closed network,
    # a firewall, a laptop on a train); sizing as in the served page
    pn.extension(*EXTENSIONS, inline=True, notifications=False, sizing_mode="stretch_width")
    from .panel_patch import install_hold_fix

    install_hold_fix()
    _LOADED["execution"] = execution
    return True


def serve_styles_locally(documents, base_url=None) -> int:
    """Point stylesheets that Panel adds to ``documents`` later at the Jupyter server's copies.

    Panel inlines every stylesheet of a view's first render in inline mode, but a view whose
    content changes later (a status line, the map's title, the queries table) is sent with its
    stylesheets as links to Panel's CDN, which an offline notebook cannot reach. Panel rewrites
    those links to the document's ``dist_url`` template variable when there is one: this sets
    it to where Panel's Jupyter server extension serves the same files. Returns the number of
    documents changed.
    """
    url = (base_url or jupyter_base_url()) + PANEL_STATIC
    n = 0
    for doc in documents:
        if doc is not None and doc.template_variables.get("dist_url") != url:
            doc.template_variables["dist_url"] = url
            n += 1
    return n


__all__ = ["EXTENSIONS", "extension", "in_notebook", "jupyter_base_url", "serve_styles_locally"]
