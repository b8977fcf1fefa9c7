"""Buttons made unusable together while work runs, at one attribute per button in the browser.

BokehJS re-renders a button whole when its own ``disabled`` changes (its view, stylesheets and
label: docs/benchmarks.md §5f), and a Step used to toggle seven buttons twice. A layout's
``disabled`` reaches its children as a signal that only sets the ``disabled`` attribute of
their ``<button>`` (BokehJS ``LayoutDOMView`` / ``ControlView``), so a row of buttons whose
*row* is disabled costs the browser almost nothing, and looks and behaves the same (a disabled
button takes no click). A button's own ``disabled`` still applies on top (``row or own``).

Two limits of BokehJS 3.9, so a row is used only where they cannot bite: the row's state
reaches its buttons on a *change*, not when the page first draws them (a row must start
enabled), and a button re-rendered for another reason (a new label) takes its own state again
until the row changes. Both would be fixed upstream by ``ControlView`` reading
``parent.disabled`` in ``render`` (docs/design.md, "Busy rows").
"""

from __future__ import annotations

import panel as pn
import param

__all__ = ["ButtonRow"]


class ButtonRow(pn.Row):
    """A :class:`panel.Row` whose ``disabled`` disables every button in it."""

    disabled = param.Boolean(default=False, doc="Disable every widget in the row.")
