"""``anchoral label``: label AnchorAL's queries by hand in a terminal; saved after every batch."""

from __future__ import annotations

import re
import sys

from explorer._validation import check_int

HELP = ("Label the queried texts yourself, in the terminal, round by round (AnchorAL or any "
        "filter); the session is saved after every batch and resumes where it stopped.")

_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str, max_chars: int) -> str:
    """Dataset text made safe for a terminal: no escape sequences or control characters."""
    text = _CONTROL.sub("", str(text))
    if max_chars and len(text) > max_chars:
        text = text[:max_chars].rstrip() + " [...]"
    return text


def add_arguments(parser):
    from explorer import registry
    from explorer.cli_args import add_data_arguments

    add_data_arguments(parser)
    parser.add_argument("--session", required=True, metavar="DIR",
                        help="session directory: created when new, resumed when it holds one")
    parser.add_argument("--filter", default="anchoral", help=registry.help_text(registry.FILTERS))
    parser.add_argument("--strategy", default="entropy",
                        help=registry.help_text(registry.STRATEGIES))
    parser.add_argument("--rounds", type=int, default=1, help="batches to label in this sitting")
    parser.add_argument("--query-size", type=int, default=25, help="texts per batch")
    parser.add_argument("--init-size", type=int, default=100,
                        help="initial labelled set when the data has gold labels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="lr", choices=tuple(registry.MODELS))
    parser.add_argument("--subpool-size", type=int, default=None)
    parser.add_argument("--n-anchors", type=int, default=10)
    parser.add_argument("--n-neighbors", type=int, default=50)
    parser.add_argument("--author", "--user", dest="user", default=None, metavar="NAME",
                        help="who labels: stored with every decision and label "
                        "(default: $USER)")
    parser.add_argument("--max-chars", type=int, default=1200,
                        help="characters of each text to show (0 = all)")


def _settings(args, annotate):
    s = {"model": args.model, "query_size": args.query_size, "seed": args.seed,
         "n_anchors": args.n_anchors, "n_neighbors": args.n_neighbors,
         "subpool_size": args.subpool_size}
    if annotate:
        s["mode"] = "annotate"
    else:
        s["init_size"] = args.init_size
    return s


def open_or_create(args, out=None):
    """The session of ``--session``: resumed when it exists, else created from the options."""
    import os

    from explorer import store
    from explorer.cli_args import prepare_from_args

    out = out or sys.stdout
    prepared = prepare_from_args(args, projection=False, progress=True)
    annotate = not prepared.dataset.fully_labelled
    spec = store.data_spec_of(prepared, args.data)  # prepared.options: from --text-col, ...
    sess = store.open_or_create(args.session, prepared, spec, [(args.filter, args.strategy)],
                                **_settings(args, annotate))
    if sess.resumed:
        print(f"resumed session {sess.path}", file=out)
    else:
        print(f"new session {sess.path} ({'annotate' if annotate else 'hand-labelling with gold'} "
              f"mode); user {args.user or os.environ.get('USER', 'annotator')}", file=out)
    return sess


def label_batch(sess, run, user, inp=None, out=None, max_chars=1200):
    """Ask for one label per proposed text; returns True when the batch was committed."""
    inp, out = inp or sys.stdin, out or sys.stdout
    classes = sess.experiment.dataset.classes
    sel = run.propose()
    pending = {int(k): v for k, v in sess.pending().get(run.key, {}).items()}
    keys = ", ".join(f"{i + 1}={c}" for i, c in enumerate(classes))
    print(f"\n== {run.key} round {run.round + 1}: {len(sel.ids)} texts to label "
          f"(subpool {len(sel.subpool):,}, anchors {len(sel.anchors)}) ==", file=out)
    print(f"keys: {keys}, s=skip, u=undo the previous answer, q=save and quit", file=out)
    texts = sess.experiment.dataset.texts
    answered = []  # ids answered in this sitting, for u (undo)
    pos = 0
    while pos < len(sel.ids):
        i = int(sel.ids[pos])
        if i in pending:
            pos += 1
            continue
        print(f"\n[{pos + 1}/{len(sel.ids)}] id {i}  score {sel.scores[pos]:.3f}", file=out)
        print(clean(texts[i], max_chars), file=out)
        while True:
            out.write("label> ")
            out.flush()
            answer = inp.readline()
            if answer == "":  # end of input: keep what was given, stop
                print("\nend of input: labels so far are kept; run the same command to go on",
                      file=out)
                return False
            answer = answer.strip().lower()
            if answer == "q":
                print("saved; run the same command to go on", file=out)
                return False
            if answer == "u":
                if not answered:
                    print("  nothing to undo in this sitting", file=out)
                    continue
                prev = answered.pop()
                sess.undo(run.key, prev, author=user)
                pending.pop(prev, None)
                print(f"  undone: id {prev} is asked again", file=out)
                break
            if answer == "s":
                pending[i] = None
                break
            if answer.isdigit() and 1 <= int(answer) <= len(classes):
                pending[i] = classes[int(answer) - 1]
                break
            if answer in classes:
                pending[i] = answer
                break
            print(f"  type one of 1..{len(classes)}, a class name, s, u or q", file=out)
        if answer == "u":
            pos = list(sel.ids).index(prev)
            continue
        sess.decide(run.key, i, pending[i], author=user)
        answered.append(i)
        pos += 1
    labels = [pending[int(i)] for i in sel.ids]
    rec = sess.commit(run.key, labels, user=user)
    agree = sess.agreement(run.key)
    msg = (f"round {rec.round} saved: {rec.n_labelled} labelled, minority share "
           f"{rec.minority_share:.1%}")
    if rec.minority_f1 == rec.minority_f1:
        msg += f", minority F1 {rec.minority_f1:.3f}"
    if agree == agree:
        msg += f", agreement with gold {agree:.1%}"
    print(msg, file=out)
    return True


def run(args) -> int:
    import os

    check_int("rounds", args.rounds)
    user = args.user or os.environ.get("USER", "annotator")
    with open_or_create(args) as sess:
        run_ = sess.experiment.runs[0]
        for _ in range(args.rounds):
            if not label_batch(sess, run_, user, max_chars=args.max_chars):
                break
    return 0
