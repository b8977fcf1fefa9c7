"""The options from a user into :func:`explorer.prepare.prepare`: one frozen object, one default each.

:class:`PrepareOptions` is built once where the options come in (the command line through
:meth:`PrepareOptions.from_args`, the app, a notebook's keywords, a saved session's dataset
reference through :meth:`PrepareOptions.from_spec`), validated there, and passed down unchanged:
``prepare``, the app's pool loader, the synthetic pool and the session files all read it instead
of spelling a default of their own. No heavy import (the CLI builds its parser from these
defaults).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from ._validation import _fail, check_choice, check_int, check_text
from .exceptions import ParameterError


@dataclass(frozen=True)
class PrepareOptions:
    """How a pool is loaded, embedded, indexed and projected.

    Parameters
    ----------
    text_col, label_col : str
        The columns of a file holding the texts and the class labels.
    minority : tuple of str, optional
        Minority class names; ``None`` (or an empty list) infers them (the smallest classes
        that together hold <= 10 % of the labelled rows). A single name or any sequence is
        stored as a tuple.
    drop_invalid : bool
        Drop rows whose text is empty or missing instead of failing.
    cache_dir : str, optional
        Cache root; ``None``: ``$ANCHORAL_CACHE_DIR`` or ``~/.cache/anchoral-explorer``
        (:func:`explorer.prepare.default_cache_dir`). A path is stored as text.
    embeddings : str, optional
        A ``.npy`` file of precomputed vectors (one row per text) instead of the encoder.
    index : str
        The vector index, one of :data:`explorer.index.KINDS` (``"auto"``: exact up to 7,500
        rows, then IVF unless its calibration must scan > 15 % of the lists, IVF-PQ above 2M
        rows).
    embeddings_dtype : str
        Storage of the cached vectors, one of :data:`explorer.embed.DTYPES` (float16 halves
        their memory; a numpy dtype is stored by its name), or ``"auto"``: float16 above
        :data:`explorer.embed.AUTO_FLOAT16_ROWS` (2M) rows, else float32.
    projection : bool
        Compute (or read) the 2-D UMAP coordinates.
    random_state : int
        Seed of UMAP (and of a synthetic pool's vectors).
    partition_size : int, optional
        Texts per embedding task on a Dask cluster (``None``:
        :data:`explorer.distributed.PARTITION_SIZE`).
    task : str, optional
        A paper-style task of the pool (:mod:`explorer.tasks`), e.g. ``"binary:noun.food@1%"``:
        stored in its canonical spelling (:meth:`explorer.tasks.TaskSpec.describe`); a
        :class:`~explorer.tasks.TaskSpec` is taken when its test split and seed are the
        defaults (other ones: :func:`explorer.prepare.derive_prepared`). ``None``: the pool itself.

    Every value is checked when the object is made (a :class:`~explorer.exceptions.ParameterError`
    naming the option); :meth:`replace` makes a changed, checked copy.

    Examples
    --------
    >>> PrepareOptions(index="exact").index
    'exact'
    >>> PrepareOptions(minority="spam").minority
    ('spam',)
    """

    text_col: str = "text"
    label_col: str = "label"
    minority: tuple | None = None
    drop_invalid: bool = False
    cache_dir: str | None = None
    embeddings: str | None = None
    index: str = "auto"
    embeddings_dtype: str = "auto"
    projection: bool = True
    random_state: int = 0
    partition_size: int | None = None
    task: str | None = None

    def __post_init__(self):
        from .embed import check_dtype
        from .index import KINDS

        fix = object.__setattr__
        check_text("text_col", self.text_col)  # a column's name is kept as given
        check_text("label_col", self.label_col)
        fix(self, "minority", _minority(self.minority))
        for name in ("drop_invalid", "projection"):
            if not isinstance(getattr(self, name), bool):
                _fail(name, getattr(self, name), "must be True or False")
        for name in ("cache_dir", "embeddings"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
                    _fail(name, value, "must be a path (text) or None")
                fix(self, name, os.fspath(value))
        check_choice("index", self.index, KINDS)
        try:  # embed's one check of the storage dtypes, naming this option
            if not (isinstance(self.embeddings_dtype, str) and self.embeddings_dtype == "auto"):
                fix(self, "embeddings_dtype", check_dtype(self.embeddings_dtype).name)
        except ParameterError as err:
            raise ParameterError(str(err), param="embeddings_dtype",
                                 value=self.embeddings_dtype) from None
        fix(self, "random_state", check_int("random_state", self.random_state, minimum=0))
        if self.partition_size is not None:
            fix(self, "partition_size", check_int("partition_size", self.partition_size))
        if self.task is not None:
            from .tasks import task_option

            fix(self, "task", task_option(self.task))

    @classmethod
    def names(cls) -> tuple:
        """The option names, in order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def of(cls, options=None, **changes) -> PrepareOptions:
        """``options`` (a :class:`PrepareOptions`, a dict of options, or ``None`` for the
        defaults) with ``changes`` applied: the one way keywords become options.

        Raises :class:`~explorer.exceptions.ParameterError` for a name that is not an option.
        """
        if options is None:
            options = {}
        if isinstance(options, dict):
            changes = {**options, **changes}
            options = None
        elif not isinstance(options, cls):
            _fail("options", options, "must be a PrepareOptions, a dict of options or None")
        unknown = sorted(set(changes) - set(cls.names()))
        if unknown:
            _fail(unknown[0], changes[unknown[0]], "is not an option of prepare",
                  f"use one of {', '.join(cls.names())}")
        if options is None:
            return cls(**changes)
        return options.replace(**changes) if changes else options

    @classmethod
    def from_args(cls, args, **changes) -> PrepareOptions:
        """The options of an ``argparse`` namespace made by
        :func:`explorer.cli_args.add_data_arguments` (``anchoral prepare``, ``simulate``,
        ``label``, ``neighbours``, ``serve`` and ``panel serve apps/anchoral.py --args``).

        An option the namespace lacks keeps its default; ``--no-projection`` turns the
        projection off; ``changes`` override both (``projection=False`` for a command that
        needs no map).
        """
        values = {name: getattr(args, name) for name in cls.names()
                  if getattr(args, name, None) is not None}
        if getattr(args, "no_projection", False):
            values["projection"] = False
        return cls.of(None, **values, **changes)

    @classmethod
    def from_spec(cls, spec, **changes) -> PrepareOptions:
        """The options a saved session's dataset reference (``session.json``'s ``dataset``,
        :meth:`to_spec`) was prepared with; a key the session lacks keeps its default."""
        spec = dict(spec or {})
        keys = ("text_col", "label_col", "minority", "drop_invalid", "embeddings", "index",
                "embeddings_dtype", "task")
        values = {k: spec[k] for k in keys if spec.get(k) is not None}
        if not values.get("minority"):
            values.pop("minority", None)
        return cls.of(None, **values, **changes)

    def replace(self, **changes) -> PrepareOptions:
        """A copy with ``changes`` (checked like a new object)."""
        return dataclasses.replace(self, **changes)

    def to_spec(self) -> dict:
        """The options a session stores to prepare the same pool again (:meth:`from_spec`)."""
        from pathlib import Path

        return {"text_col": self.text_col, "label_col": self.label_col,
                "embeddings": None if self.embeddings is None else
                str(Path(self.embeddings).expanduser().resolve()),
                "index": self.index, "embeddings_dtype": self.embeddings_dtype,
                **({"task": self.task} if self.task is not None else {})}


def _minority(value):
    if value is None or (not isinstance(value, str) and hasattr(value, "__len__")
                         and len(value) == 0):
        return None  # nothing given: inferred
    names = (value,) if isinstance(value, str) else value
    try:
        names = tuple(names)
    except TypeError:
        names = None
    if not names or not all(isinstance(m, str) and m.strip() for m in names):
        _fail("minority", value, "must be a class name or a list of class names",
              "or None to infer the minority classes")
    return names
