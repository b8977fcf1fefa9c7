"""The labelling queue: a person labels each round's queried texts (annotate / hand mode).

The text is shown in full (escaped), with one button per class, Skip and Back; keys 1..9 label,
``s`` skips and Backspace goes back. Each label is kept at once as pending (the session's
``pending.json`` when the app is bound to a session directory), so a reload keeps it; the last one
commits the batch (retrain, save) and the next round's batch appears, on the map as in
simulation.
"""

from __future__ import annotations

import html

import panel as pn
import param
from panel.custom import JSComponent

from .controls import make_scheduler
from .state import ExplorerState, run_label

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
        if (!/^[1-9s]$/.test(k) && k !== "Backspace") return;
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
        w = pn.widgets
        ds = st.prepared.dataset
        self._classes = list(ds.classes)
        self.header = pn.pane.HTML("", margin=(0, 10), sizing_mode="stretch_width",
                                   css_classes=["anchoral-queue-header"])
        self.progress = w.Progress(value=0, max=1, height=12, sizing_mode="stretch_width",
                                   bar_color="success")
        self.text = pn.pane.HTML("", sizing_mode="stretch_width", margin=(5, 10),
                                 css_classes=["anchoral-queue-text"])
        self.meta = pn.pane.HTML("", margin=(0, 10), sizing_mode="stretch_width")
        # Bokeh button labels are text, not HTML: class names from the data stay inert
        self.class_buttons = []
        for i, name in enumerate(self._classes):
            key = f"{i + 1} · " if i < MAX_KEYS else ""
            b = w.Button(label=f"{key}{name}", button_type="primary", width=130)
            b.on_click(lambda e, name=name: self._label(name))
            self.class_buttons.append(b)
        self.skip_button = w.Button(label="s · Skip", button_type="light", width=90)
        self.skip_button.on_click(lambda e: self._label(None))
        self.back_button = w.Button(label="← Back", button_type="light", width=90)
        self.back_button.on_click(lambda e: self.state.back())
        n_keys = min(len(self._classes), MAX_KEYS)
        self.hint = pn.pane.HTML(
            f'<div style="font-size:11px;color:#555">Keys: 1–{n_keys} label, s skip, Backspace '
            "back. Each label is saved at once; the batch commits (retrain, next round) when "
            "every text has one.</div>", margin=(0, 10), sizing_mode="stretch_width")
        self.agreement = pn.pane.HTML("", margin=(0, 10), sizing_mode="stretch_width")
        self.user = w.TextInput.from_param(st.param.user, label="Annotator", width=200)
        self.keys = KeyCatcher(width=0, height=0, margin=0)
        self.keys.param.watch(self._key, "key")
        self._box = pn.Column(
            self.header, self.progress, self.text, self.meta,
            pn.FlexBox(*self.class_buttons, self.skip_button, self.back_button,
                       sizing_mode="stretch_width"),
            self.hint, self.agreement, self.user, self.keys,
            width=460, css_classes=["anchoral-queue"],
            styles={"border": "2px solid #2f3e46", "border-radius": "6px",
                    "background": "#fbfbf8"})
        st.param.watch(self._sync, ["version", "queue_pos", "busy", "label_by_hand"])
        self._sync()

    def _label(self, name):
        self.state.label(name, make_scheduler())

    def _key(self, event):
        k = (event.new or "").split(":")[0]
        st = self.state
        if not st.hand or st.proposal is None or st.busy:
            return
        if k == "s":
            self._label(None)
        elif k == "Backspace":
            st.back()
        elif k.isdigit() and 1 <= int(k) <= min(len(self._classes), MAX_KEYS):
            self._label(self._classes[int(k) - 1])

    def _sync(self, *events):
        st = self.state
        prop = st.proposal
        self._box.visible = bool(st.hand)
        ids = st.queue_ids()
        n = len(ids)
        pos = min(st.queue_pos, max(n - 1, 0))
        done = sum(1 for i in ids if int(i) in st.given)
        disabled = st.busy or prop is None or st.queue_pos >= n
        for b in self.class_buttons + [self.skip_button]:
            b.disabled = disabled
        self.back_button.disabled = st.busy or prop is None or st.queue_pos == 0
        self.progress.max = max(n, 1)
        self.progress.value = done
        if prop is None:
            self.header.object = ("<b>Labelling</b>: press <b>Step</b> to get the first batch."
                                  if not st.busy else "<b>Labelling</b>: selecting…")
            self.text.object = ""
            self.meta.object = ""
        else:
            i = int(ids[pos])
            self.header.object = (
                f'<div style="font-size:15px"><b>Label round {prop.round}</b> · '
                f"{html.escape(run_label(prop.run))} — <b>{min(pos + 1, n)} of {n}</b> "
                f"<span style='color:#666'>({done} labelled)</span></div>")
            text = html.escape(str(st.prepared.dataset.texts[i]))
            self.text.object = (
                '<div style="white-space:pre-wrap;word-break:break-word;max-height:340px;'
                'overflow:auto;font-size:14px;line-height:1.45;background:white;'
                f'border:1px solid #ccc;border-radius:4px;padding:8px">{text}</div>')
            given = (st.given[i] or "skip") if i in st.given else None
            sim = prop.similarity[pos]
            anchor = (f" · anchor {int(prop.anchor_of[pos])} (similarity {sim:.3f})"
                      if prop.anchor_of[pos] >= 0 else "")
            now = ("" if given is None else
                   f" · labelled <b>{html.escape(str(given))}</b>")
            self.meta.object = (f'<div style="font-size:12px;color:#444">id {i} · score '
                                f"{prop.scores[pos]:.3f}{anchor}{now}</div>")
        agree, compared = st.agreement()
        if st.annotate_data or not compared:
            self.agreement.object = ""
        else:
            self.agreement.object = (f'<div style="font-size:12px">Agreement with gold: '
                                     f"<b>{agree / compared:.0%}</b> ({agree} of {compared} "
                                     "labels)</div>")

    def __panel__(self):
        return self._box
