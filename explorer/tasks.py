"""Tasks as the AnchorAL paper builds them: a binary or multi-minority task derived from a labelled pool.

The paper (Lesci & Vlachos, NAACL 2024) does not run on a dataset's own classes. Its reference
code (github.com/pietrolesci/anchoral, ``scripts/prepare_data.py`` and ``bin/prepare_data.sh``)
builds each task from a labelled corpus:

* **binary** (AG News *business*, WikiToxic, Amazon *agriculture*): the chosen class (or group of
  classes) is the positive class, every other row one negative class; in the training split the
  positives are cut to a target share (``--downsample_prop 0.01``) by keeping
  ``ceil(share * n_negative / (1 - share))`` positives drawn with a fixed seed
  (``check_random_state(42)``), every negative kept;
* **multi-minority** (Amazon-Multi): a few chosen classes keep their labels and every other row
  becomes ``"others"``;
* **test split**: the corpus's own test split, with every positive (every non-``others`` row)
  kept and the negatives cut to a fixed number drawn with a fixed seed
  (``--downsample_test_size 5000``).

Our pools (WordNet, Brown, a user's file) have no test split of their own, so the test split is
drawn here: ``test_fraction`` of each positive (minority) class's rows and ``test_negatives``
negative rows, seeded by ``random_state``; every other row is training pool. The cut to the target
share applies to the training pool only, as in the reference code (the test split keeps its
positives). When the pool has a ``split`` column, its test rows are the test part instead (every
positive kept, negatives cut to ``test_negatives``), exactly as the reference code does.

A task is a **row subset and a relabelling of its base pool**: :func:`explorer.prepare.derive_prepared` slices the
base pool's cached vectors and UMAP coordinates (nothing is embedded again) and builds the task's
own vector index. Named tasks (:data:`TASKS`) work wherever a dataset name does
(``anchoral prepare wordnet-binary-1``), and any pool takes a task spelled on the command line:
``anchoral prepare wordnet --task binary:noun.food@1%`` (:func:`parse_task`).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, replace

import numpy as np

from .exceptions import DataError, ParameterError

#: the name of the merged class (negatives of a binary task, "others" of a multi-minority task)
OTHERS = "others"
#: the test split's negatives, as the reference code's ``--downsample_test_size 5000``
TEST_NEGATIVES = 5000
#: the share of each positive (minority) class's rows held out for the test split
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class TaskSpec:
    """What a task keeps of its base pool.

    Attributes
    ----------
    kind : {"binary", "multi"}
    classes : tuple of str
        ``binary``: the base classes that together are the positive class; ``multi``: the
        minority classes, each kept as its own class.
    shares : tuple of float or None
        ``binary``: one share (of the training pool) for the positive class; ``multi``: one per
        minority class. ``None`` keeps every row of that class.
    test_negatives : int
        Negative (``others``) rows in the test split.
    test_fraction : float in (0, 1)
        Share of each positive (minority) class's rows held out for the test split (pools with
        no ``split`` column).
    random_state : int
        Seed of the test split and of the cut (fixed per task, independent of the AL seed).
    """

    kind: str
    classes: tuple
    shares: tuple
    test_negatives: int = TEST_NEGATIVES
    test_fraction: float = TEST_FRACTION
    random_state: int = 0

    def describe(self) -> str:
        """The spec in the command-line spelling, e.g. ``binary:noun.food@1%``."""
        def pct(s):
            return "" if s is None else f"@{100 * s:g}%"
        if self.kind == "binary":
            return f"binary:{','.join(self.classes)}{pct(self.shares[0])}"
        return "multi:" + ",".join(f"{c}{pct(s)}" for c, s in zip(self.classes, self.shares))

    def slug(self) -> str:
        """A file-name-safe name, e.g. ``binary-noun.food-1pct``."""
        text = self.describe().replace(":", "-").replace("%", "pct").replace("@", "-")
        return re.sub(r"[^A-Za-z0-9._-]+", "_", text.replace(",", "+"))


@dataclass(frozen=True, eq=False)
class Task:
    """A derived task: its dataset, the base rows it keeps, and how it was made.

    Attributes
    ----------
    dataset : Dataset
        The task's rows and labels; ``split`` marks the test split; ``minority`` the positive /
        minority classes.
    rows : int64 ndarray of shape (dataset.n,)
        Row ``i`` of the task is row ``rows[i]`` of the base pool (sorted).
    spec : TaskSpec
    base_name : str
    counts : dict
        ``{"train": {class: rows}, "test": {class: rows}}``.
    """

    dataset: object
    rows: np.ndarray
    spec: TaskSpec
    base_name: str
    counts: dict

    def summary(self) -> str:
        train = sum(self.counts["train"].values())
        lines = [f"task {self.dataset.name}: {self.spec.describe()} of {self.base_name} "
                 f"(seed {self.spec.random_state}); {len(self.rows):,} rows kept"]
        for part in ("train", "test"):
            total = max(sum(self.counts[part].values()), 1)
            lines.append(f"  {part}: " + ", ".join(
                f"{c} {n:,} ({100 * n / total:.2f} %)" for c, n in self.counts[part].items()))
        lines.append(f"  training pool {train:,} rows")
        return "\n".join(lines)


_PCT = re.compile(r"^(?P<num>\d+(?:\.\d+)?|\.\d+)(?P<pct>%?)$")


def _parse_share(text, where):
    m = _PCT.match(text.strip())
    if not m:
        raise ParameterError(f"task {where!r}: share {text!r} is not a number; write it as a "
                             "percentage (1%, 0.1%) or a fraction (0.01)", param="task",
                             value=where)
    value = float(m["num"]) / (100 if m["pct"] else 1)
    if not 0 < value < 1:
        raise ParameterError(f"task {where!r}: share {text!r} must be in (0, 100 %), e.g. 1% or "
                             "0.01", param="task", value=where)
    return value


def parse_task(text, **options) -> TaskSpec:
    """Read a task spelled ``binary:CLASS[,CLASS...][@SHARE]`` or ``multi:CLASS[@SHARE],...``.

    ``binary:noun.food@1%`` (noun.food against everything else, cut to 1 % of the training pool),
    ``binary:humor,science_fiction@1%`` (two classes as one positive class),
    ``multi:noun.feeling@0.1%,noun.time@0.5%,noun.body@0.8%`` (three minority classes, each cut,
    the rest ``others``). A share is a percentage or a fraction; omitted, the class keeps every
    row. ``options`` (``test_negatives``, ``test_fraction``, ``random_state``) go to the spec.

    Raises
    ------
    ParameterError
        On any other spelling, naming the part at fault.
    """
    if isinstance(text, TaskSpec):
        return _checked(replace(text, **options)) if options else text
    text = str(text).strip()
    kind, sep, body = text.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in ("binary", "multi") or not body.strip():
        raise ParameterError(f"task {text!r} must read binary:CLASS[,CLASS...][@SHARE] or "
                             "multi:CLASS[@SHARE],CLASS[@SHARE],... (e.g. binary:noun.food@1%)",
                             param="task", value=text)
    if kind == "binary":
        names, at, share = body.partition("@")
        classes = tuple(c.strip() for c in names.split(","))
        shares = (_parse_share(share, text) if at else None,)
    else:
        classes, shares = [], []
        for part in body.split(","):
            name, at, share = part.partition("@")
            classes.append(name.strip())
            shares.append(_parse_share(share, text) if at else None)
        classes, shares = tuple(classes), tuple(shares)
    if any(not c for c in classes):
        raise ParameterError(f"task {text!r} has an empty class name", param="task", value=text)
    if len(set(classes)) != len(classes):
        raise ParameterError(f"task {text!r} names a class twice", param="task", value=text)
    if kind == "multi" and sum(s or 0 for s in shares) >= 1:
        raise ParameterError(f"task {text!r}: the minority shares add up to "
                             f"{100 * sum(s or 0 for s in shares):g} %; they must stay under "
                             "100 %", param="task", value=text)
    return _checked(TaskSpec(kind, classes, shares, **options))


def _checked(spec):
    t = spec.test_negatives
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1:
        raise ParameterError(f"test_negatives={t!r} must be an integer >= 1", param="test_negatives",
                             value=t)
    f = spec.test_fraction
    if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1:
        raise ParameterError(f"test_fraction={f!r} must be a fraction in (0, 1)",
                             param="test_fraction", value=f)
    if isinstance(spec.random_state, bool) or not isinstance(spec.random_state, (int, np.integer)):
        raise ParameterError(f"random_state={spec.random_state!r} must be an integer (a task's "
                             "split and cut are fixed)", param="random_state",
                             value=spec.random_state)
    return spec


def _as_dataset(source):
    from .data import Dataset, load_dataset

    return source if isinstance(source, Dataset) else load_dataset(source)


def derive_task(source, spec, *, name=None) -> Task:
    """Derive the task ``spec`` (a :class:`TaskSpec` or its spelling) from a labelled pool.

    Parameters
    ----------
    source : Dataset, or anything :func:`explorer.data.load_dataset` reads
        The base pool; every row must have a label.
    spec : TaskSpec or str
    name : str, optional
        The task dataset's name (default ``<base>-<spec slug>``).

    Returns
    -------
    Task

    Raises
    ------
    DataError
        An unknown class, unlabelled rows, or a class with too few rows for its share.
    """
    spec = parse_task(spec)
    base = _as_dataset(source)
    where = f"task {spec.describe()} of {base.name}"
    if not base.fully_labelled:
        raise DataError(f"{where}: the pool has unlabelled rows; a task needs every row labelled")
    unknown = [c for c in spec.classes if c not in base.classes]
    if unknown:
        raise DataError(f"{where}: class {unknown[0]!r} is not in the pool; its classes are "
                        f"{', '.join(base.classes)}")
    if OTHERS in base.classes and OTHERS not in spec.classes:
        raise DataError(f"{where}: the pool already has a class named {OTHERS!r}, the name of "
                        "the merged class; rename it in the data first")
    y = np.asarray(base.y, np.int64)
    code = {base.classes.index(c): i for i, c in enumerate(spec.classes)}
    if spec.kind == "binary":  # every positive class maps to group 0
        code = {k: 0 for k in code}
    group = np.full(base.n, -1, np.int64)  # -1: negative / others
    for k, g in code.items():
        group[y == k] = g
    rng = np.random.RandomState(spec.random_state)

    if base.split is not None:
        is_test = np.asarray(base.split).astype(str) == "test"
    else:
        is_test = np.zeros(base.n, bool)
        for g in range(len(spec.shares)):
            members = np.flatnonzero(group == g)
            n_test = int(round(spec.test_fraction * len(members)))
            is_test[rng.choice(members, n_test, replace=False)] = True
    negatives = np.flatnonzero(group < 0)
    test_neg_pool = negatives[is_test[negatives]] if base.split is not None else negatives
    if len(test_neg_pool) < spec.test_negatives:
        raise DataError(f"{where}: test_negatives={spec.test_negatives:,} but only "
                        f"{len(test_neg_pool):,} negative rows can be held out; lower "
                        "test_negatives")
    test_neg = rng.choice(test_neg_pool, spec.test_negatives, replace=False)
    if base.split is None:
        is_test[test_neg] = True
    test = np.sort(np.concatenate([np.flatnonzero(is_test & (group >= 0)), test_neg]))

    train_neg = negatives[~is_test[negatives]]
    train = [train_neg]
    total_share = sum(s or 0 for s in spec.shares)
    fixed = sum(int((~is_test & (group == g)).sum()) for g, s in enumerate(spec.shares) if s is None)
    for g, share in enumerate(spec.shares):
        members = np.flatnonzero(~is_test & (group == g))
        if share is None:
            train.append(members)
            continue
        # the reference's ceil(share * n_neg / (1 - share)), with several cut classes sharing
        # the pool: each is `share` of (negatives + every kept minority row)
        need = math.ceil(share * (len(train_neg) + fixed) / (1 - total_share))
        if need > len(members):
            label = ",".join(spec.classes) if spec.kind == "binary" else spec.classes[g]
            raise DataError(f"{where}: {100 * share:g} % of the training pool needs {need:,} "
                            f"rows of {label} but it has {len(members):,} after the test split; "
                            "lower the share or pick a larger class")
        train.append(rng.choice(members, need, replace=False))
    train = np.sort(np.concatenate(train))
    rows = np.sort(np.concatenate([train, test])).astype(np.int64)

    from .data import Dataset

    names = [",".join(spec.classes).replace(",", "+")] if spec.kind == "binary" else \
        list(spec.classes)
    classes = tuple(sorted(names + [OTHERS]))
    remap = np.array([classes.index(n) for n in names] + [classes.index(OTHERS)], np.int64)
    new_y = remap[group[rows]]  # group -1 reads the last entry: others
    split = np.where(np.isin(rows, test), "test", "train").astype(object)
    key = f"{base.content_hash}|{spec!r}".encode()
    ds = Dataset(texts=np.asarray(base.texts)[rows], y=new_y, classes=classes,
                 minority=tuple(sorted(classes.index(n) for n in names)), minority_inferred=False,
                 name=name or f"{base.name}-{spec.slug()}",
                 content_hash=hashlib.sha256(key).hexdigest(), split=split,
                 ids=None if base.ids is None else np.asarray(base.ids)[rows],
                 source=f"{spec.describe()} of {base.source or base.name}",
                 minority_rule="task")
    counts = {part: {c: int(((new_y == i) & (split == part)).sum()) for i, c in enumerate(classes)}
              for part in ("train", "test")}
    return Task(dataset=ds, rows=rows, spec=spec, base_name=base.name, counts=counts)


def binary_task(source, positive, share=0.01, *, test_negatives=TEST_NEGATIVES,
                test_fraction=TEST_FRACTION, random_state=0, name=None) -> Task:
    """One class (or a group of classes) against all the others, cut to ``share`` of the pool.

    Parameters
    ----------
    source : Dataset, or anything :func:`explorer.data.load_dataset` reads
    positive : str or sequence of str
        The base class(es) that together form the positive class.
    share : float in (0, 1) or None, default 0.01
        The positive class's share of the training pool after the cut (``None``: no cut).
    test_negatives, test_fraction, random_state
        See :class:`TaskSpec`.
    name : str, optional

    Returns
    -------
    Task

    Examples
    --------
    >>> task = binary_task("wordnet", "noun.food", share=0.01)    # doctest: +SKIP
    >>> task.dataset.classes
    ('noun.food', 'others')
    """
    positive = (positive,) if isinstance(positive, str) else tuple(positive)
    spec = _checked(TaskSpec("binary", positive, (_share(share),), test_negatives, test_fraction,
                             random_state))
    return derive_task(source, spec, name=name)


def multi_minority_task(source, minority, *, test_negatives=TEST_NEGATIVES,
                        test_fraction=TEST_FRACTION, random_state=0, name=None) -> Task:
    """A few minority classes kept (each cut to its share), every other class merged into ``others``.

    Parameters
    ----------
    source : Dataset, or anything :func:`explorer.data.load_dataset` reads
    minority : dict of str to float or None
        Minority class -> its share of the training pool (``None``: every row kept).
    test_negatives, test_fraction, random_state, name
        See :func:`binary_task`.

    Returns
    -------
    Task
    """
    if not isinstance(minority, dict) or not minority:
        raise ParameterError(f"minority={minority!r} must be a non-empty dict of class -> share "
                             "(e.g. {'noun.time': 0.005})", param="minority", value=minority)
    shares = tuple(_share(s) for s in minority.values())
    if sum(s or 0 for s in shares) >= 1:
        raise ParameterError(f"minority={minority!r}: the shares add up to >= 1; they must stay "
                             "under 1", param="minority", value=minority)
    spec = _checked(TaskSpec("multi", tuple(minority), shares, test_negatives, test_fraction,
                             random_state))
    return derive_task(source, spec, name=name)


def _share(s):
    if s is None:
        return None
    if isinstance(s, bool) or not isinstance(s, (int, float, np.floating)) or not 0 < s < 1:
        raise ParameterError(f"share={s!r} must be a fraction in (0, 1) (0.01 = 1 %) or None",
                             param="share", value=s)
    return float(s)


#: named tasks: name -> (base pool, task spelling); each works wherever a dataset name does
TASKS = {
    "wordnet-binary-1": ("wordnet", "binary:noun.food@1%"),
    "wordnet-binary-0.1": ("wordnet", "binary:noun.food@0.1%"),
    "wordnet-multi": ("wordnet", "multi:noun.feeling@0.1%,noun.time@0.5%,noun.body@0.8%"),
    "brown-binary-1": ("brown", "binary:religion@1%"),
}


def is_task_name(name) -> bool:
    """True when ``name`` names a built-in task (:data:`TASKS`)."""
    return isinstance(name, str) and name in TASKS


def task_option(value) -> str:
    """The canonical spelling of a task for :class:`~explorer.options.PrepareOptions` (its one
    check): a spelling or a :class:`TaskSpec` with the default test split and seed."""
    spec = parse_task(value)
    if spec != parse_task(spec.describe()):
        raise ParameterError(f"task={value!r}: a prepare option holds the spelling only (default "
                             f"test split and seed); use explorer.prepare.derive_prepared for "
                             "other ones", param="task", value=value)
    return spec.describe()


__all__ = ["TaskSpec", "Task", "parse_task", "derive_task", "binary_task", "multi_minority_task",
           "task_option", "TASKS", "is_task_name", "OTHERS", "TEST_NEGATIVES",
           "TEST_FRACTION"]
