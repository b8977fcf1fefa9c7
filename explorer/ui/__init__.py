"""The explorer's user interface.

The state modules (``records``, ``driver``, ``jobs``, ``queue_state``, ``settings_state``,
``state``, ``sessions``, ``branching``, ``engine``, ``serving``) import no Panel; the others are Panel Viewers over the
state. Import lazily so ``from explorer.ui.state import ExplorerState`` stays light::

    from explorer.ui import ExplorerApp, load_prepared
    ExplorerApp(load_prepared("sample"))          # displays inline in Jupyter
    show("sample", filters=["anchoral", "full"])   # the same in one call
"""

from __future__ import annotations

_LAZY = {
    "ExplorerState": "state", "RoundRecord": "records", "ExperimentDriver": "driver",
    "ExplorerApp": "app", "load_prepared": "app",
    "MapView": "map", "CurvesView": "curves", "ControlsView": "controls",
    "MapControls": "controls", "QueriesTable": "table",
    "synthetic_prepared": "synthetic", "show": "app",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
