"""The labelling queue: a person labels each round's queried texts (annotate / hand mode).

The text is shown in full (escaped), with one button per class, Skip, Back and Undo; keys 1..9
label, ``s`` skips, ``u`` undoes and Backspace goes back. Every decision is recorded with the
annotator (the login when served with one, else the name field) and the time; the text's history
is listed under the buttons. Each label is kept at once as pending (the session's
``pending.json`` when the app is bound to a session directory), so a reload keeps it; the last one
commits the batch (retrain, save) and the next round's batch appears, on the map as in
simulation.
"""

from __future__ import annotations

import html

import panel as pn
import param
from panel.custom import JSComponent

from .jobs import make_scheduler
from .records import run_label
from .state import ExplorerState

#: the most classes that get a number key
MAX_KEYS = 9


class KeyCatcher(JSComponent):
    """Sends the labelling keys pressed anywhere in the page (not in a text field) to Python."""

    key = param.String(default="", doc="'<key>:<time>' of the last key pressed.")

    _esm = """
    export function render({ model }) {
      let n = 0;  // keys pressed within one millisecond stay distinct
      const onkey = (e) => {
        if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
        const t = e.composedPath ? e.composedPath()[0] : e.target;
        const tag = ((t && t.tagName) || "").toUpperCase();
        if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" ||
            (t && t.isContentEditable)) return;
        const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
        if (!/^[1-9su]$/.test(k) && k !== "Backspace") return;
        e.preventDefault();
        n += 1;
        model.key = k + ":" + Date.now() + ":" + n;
      };
      document.addEventListener("keydown", onkey);
      model.on("remove", () => document.removeEventListener("keydown", onkey));
      return document.createElement("span");
    }
    """


class LabelQueue(pn.viewable.Viewer):
    """The batch to label: text in full, class buttons, Skip, Back, progress, agreement."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        st = self.state
        q, job = st.queue, st.job
        w = pn.widgets
        self._classes = list(st.prepared.dataset.classes)
        # every part of the view follows the queue, the job and the hand-mode switch
        deps = (q.param.proposal, q.param.given, q.param.queue_pos, job.param.busy,
                st.param.version)
        self.header = pn.pane.HTML(pn.bind(self._header, *deps), margin=(0, 10),
                                   sizing_mode="stretch_width",
                                   css_classes=["anchoral-queue-header"])
        # a percentage (max fixed): a bound max and value could arrive in either order
        self.progress = w.Progress(
            max=100, value=pn.bind(self._done_percent, q.param.proposal, q.param.given),
            height=12, sizing_mode="stretch_width", bar_color="success")
        self.text = pn.pane.HTML(pn.bind(self._text, *deps), sizing_mode="stretch_width",
                                 margin=(5, 10), css_classes=["anchoral-queue-text"])
        self.meta = pn.pane.HTML(pn.bind(self._meta, *deps), margin=(0, 10),
                                 sizing_mode="stretch_width")
        # Bokeh button labels are text, not HTML: class names from the data stay inert
        closed = pn.bind(lambda prop, pos, busy: busy or prop is None
                         or pos >= len(q.queue_ids()),
                         q.param.proposal, q.param.queue_pos, job.param.busy)
        self.class_buttons = []
        for i, name in enumerate(self._classes):
            key = f"{i + 1} · " if i < MAX_KEYS else ""
            b = w.Button(label=f"{key}{name}", button_type="primary", width=130, disabled=closed)
            b.on_click(lambda e, name=name: self._label(name))
            self.class_buttons.append(b)
        self.skip_button = w.Button(label="s · Skip", button_type="light", width=90,
                                    disabled=closed)
        self.skip_button.on_click(lambda e: self._label(None))
        self.back_button = w.Button(
            label="← Back", button_type="light", width=90,
            disabled=pn.bind(lambda prop, pos, busy: busy or prop is None or pos == 0,
                             q.param.proposal, q.param.queue_pos, job.param.busy))
        self.back_button.on_click(lambda e: q.back())
        # undo: withdraw the decision on this text (or the one before), recorded, never erased
        self.undo_button = w.Button(
            label="↶ Undo", button_type="light", width=90,
            disabled=pn.bind(lambda prop, given, pos, busy: busy or q.undo_target() is None,
                             q.param.proposal, q.param.given, q.param.queue_pos,
                             job.param.busy))
        self.undo_button.on_click(lambda e: q.undo())
        self.history = pn.pane.HTML(pn.bind(self._history, *deps), margin=(0, 10),
                                    sizing_mode="stretch_width",
                                    css_classes=["anchoral-history"])
        n_keys = min(len(self._classes), MAX_KEYS)
        self.hint = pn.pane.HTML(
            f'<div style="font-size:11px;color:#555">Keys: 1–{n_keys} label, s skip, u undo, '
            "Backspace back. Each label is saved at once, with your name and the time; the batch commits (retrain, next round) when "
            "every text has one.</div>", margin=(0, 10), sizing_mode="stretch_width")
        self.agreement = pn.pane.HTML(pn.bind(self._agreement, *deps), margin=(0, 10),
                                      sizing_mode="stretch_width")
        if getattr(pn.state, "user", None):  # served with a login: decisions carry it
            q.user = str(pn.state.user)
        self.user = w.TextInput.from_param(q.param.user, label="Annotator", width=200)
        self.keys = KeyCatcher(width=0, height=0, margin=0)
        self.keys.param.watch(self._key, "key")
        self._box = pn.Column(
            self.header, self.progress, self.text, self.meta,
            pn.FlexBox(*self.class_buttons, self.skip_button, self.back_button,
                       self.undo_button, sizing_mode="stretch_width"),
            self.hint, self.history, self.agreement, self.user, self.keys,
            width=460, css_classes=["anchoral-queue"],
            visible=pn.bind(lambda _: st.hand, st.param.label_by_hand),
            styles={"border": "2px solid #2f3e46", "border-radius": "6px",
                    "background": "#fbfbf8"})

    def _label(self, name):
        self.state.queue.label(name, make_scheduler())

    def _key(self, event):
        k = (event.new or "").split(":")[0]
        st = self.state
        if not st.hand or st.queue.proposal is None or st.job.busy:
            return
        if k == "s":
            self._label(None)
        elif k == "Backspace":
            st.queue.back()
        elif k == "u":
            st.queue.undo()
        elif k.isdigit() and 1 <= int(k) <= min(len(self._classes), MAX_KEYS):
            self._label(self._classes[int(k) - 1])

    def _done_percent(self, prop, given) -> int:
        ids = self.state.queue.queue_ids()
        return round(100 * sum(1 for i in ids if int(i) in given) / max(len(ids), 1))

    def _position(self):
        """(record of the batch, its ids, the position shown); the record is None without one."""
        q = self.state.queue
        ids = q.queue_ids()
        return q.proposal, ids, min(q.queue_pos, max(len(ids) - 1, 0))

    def _header(self, *_):
        prop, ids, pos = self._position()
        if prop is None:
            # "selecting…" only where a batch to label is coming (hand mode): in a simulation
            # the header stays put while rounds run
            return ("<b>Labelling</b>: selecting…" if self.state.job.busy and self.state.hand
                    else "<b>Labelling</b>: press <b>Step</b> to get the first batch.")
        n, given = len(ids), self.state.queue.given
        done = sum(1 for i in ids if int(i) in given)
        return (f'<div style="font-size:15px"><b>Label round {prop.round}</b> · '
                f"{html.escape(run_label(prop.run))} — <b>{min(pos + 1, n)} of {n}</b> "
                f"<span style='color:#666'>({done} labelled)</span></div>")

    def _text(self, *_):
        prop, ids, pos = self._position()
        if prop is None:
            return ""
        text = html.escape(str(self.state.prepared.dataset.texts[int(ids[pos])]))
        return ('<div style="white-space:pre-wrap;word-break:break-word;max-height:340px;'
                'overflow:auto;font-size:14px;line-height:1.45;background:white;'
                f'border:1px solid #ccc;border-radius:4px;padding:8px">{text}</div>')

    def _meta(self, *_):
        prop, ids, pos = self._position()
        if prop is None:
            return ""
        i, given = int(ids[pos]), self.state.queue.given
        label = (given[i] or "skip") if i in given else None
        sim = prop.similarity[pos]
        anchor = (f" · anchor {int(prop.anchor_of[pos])} (similarity {sim:.3f})"
                  if prop.anchor_of[pos] >= 0 else "")
        now = "" if label is None else f" · labelled <b>{html.escape(str(label))}</b>"
        return (f'<div style="font-size:12px;color:#444">id {i} · score '
                f"{prop.scores[pos]:.3f}{anchor}{now}</div>")

    def _history(self, *_):
        """Who decided what on the text shown, and when (every event, oldest first)."""
        st = self.state
        if st.job.busy or st.queue.proposal is None:
            return ""
        h = st.queue.history()
        if h is None or not len(h):
            return ('<div style="font-size:11px;color:#666">History of this text: no decision '
                    "yet.</div>")
        what = {"label": "labelled", "skip": "skipped", "undo": "undone",
                "commit": "committed"}
        rows = "".join(
            f"<tr><td>{html.escape(str(t)[11:19] or '?')}</td><td>{html.escape(str(a))}</td>"
            f"<td>{what.get(act, html.escape(str(act)))}</td><td>{html.escape(str(lab))}</td></tr>"
            for t, a, act, lab in zip(h["time"], h["author"], h["action"], h["label"]))
        return ('<div style="font-size:11px"><b>History of this text</b> (UTC; the last line is '
                'the current decision)<table style="border-collapse:separate;border-spacing:8px 0;font-size:11px;margin-left:-8px" '
                'role="table" aria-label="History of this text"><thead><tr><th align="left">time'
                '</th><th align="left">who</th><th align="left">what</th><th align="left">label'
                f"</th></tr></thead><tbody>{rows}</tbody></table></div>")

    def _agreement(self, *_):
        st = self.state
        agree, compared = st.queue.agreement(st.history)
        if st.annotate_data or not compared:
            return ""
        return (f'<div style="font-size:12px">Agreement with gold: <b>{agree / compared:.0%}'
                f"</b> ({agree} of {compared} labels)</div>")

    def __panel__(self):
        return self._box
