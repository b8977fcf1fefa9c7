"""Static comparison plots of a rounds table (PNG with matplotlib, standalone HTML with Bokeh).

The live, streamed versions live in ``explorer.ui``; these are for exports and reports.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._io import write_atomic

PANELS = (
    ("minority_share", "minority share of the labelled set", False),
    ("subpool_minority_share", "subpool minority share", False),
    ("t_selection", "selection time per round (s)", True),
    ("minority_f1", "minority-class F1 (test)", False),
)


def _runs(rounds):
    """One line per run: the records' ``run`` key (forks apart from their parents)."""
    key = rounds["filter"].astype(str) + "/" + rounds["strategy"].astype(str)
    for col in ("run", "branch"):
        if col in rounds.columns:
            key = rounds[col].fillna(key).astype(str)
    return rounds.assign(run=key)


def comparison_figure(rounds, out, fmt="png", title=""):
    """Write the four comparison panels of ``rounds`` (one line per run) to ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df = _runs(rounds)
    if fmt == "png":
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, 2, figsize=(11, 7), constrained_layout=True)
        for ax, (col, label, log) in zip(axes.ravel(), PANELS):
            for name, g in df.groupby("run", sort=False):
                ax.plot(g["n_labelled"], g[col], marker="o", ms=3, label=name)
            ax.set_xlabel("labelled budget")
            ax.set_title(label, fontsize=10)
            if log:
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
        axes[0, 0].legend(fontsize=8)
        if title:
            fig.suptitle(title)
        try:
            write_atomic(out, lambda p: fig.savefig(p, dpi=110, format="png"))
        finally:
            plt.close(fig)
        return out
    from bokeh.embed import file_html
    from bokeh.layouts import gridplot
    from bokeh.models import HoverTool
    from bokeh.palettes import Category10_10
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    figs = []
    for col, label, log in PANELS:
        f = figure(title=label, x_axis_label="labelled budget", width=480, height=300,
                   y_axis_type="log" if log else "linear")
        for (name, g), colour in zip(df.groupby("run", sort=False), Category10_10):
            y = g[col].to_numpy(dtype=float)
            if log:
                y = np.where(y > 0, y, np.nan)
            f.line(g["n_labelled"].to_numpy(), y, legend_label=name, color=colour, line_width=2)
            f.scatter(g["n_labelled"].to_numpy(), y, color=colour, size=4)
        f.add_tools(HoverTool(tooltips=[("budget", "@x"), (label, "@y")]))
        f.legend.label_text_font_size = "8pt"
        figs.append(f)
    html = file_html(gridplot(figs, ncols=2), INLINE, title or "AnchorAL comparison")
    return write_atomic(out, lambda p: p.write_text(html, encoding="utf-8"))
