"""prepare: load → embed → index → project end to end, cache hits, CLI summary."""

import numpy as np
import pandas as pd
import pytest

from explorer.cli import main
from explorer.prepare import SAMPLE_DIR, prepare

pytestmark = pytest.mark.slow

TEXTS = {
    "finance": ["Stocks fell after the rate decision.", "Bond yields rose again.",
                "The bank reported record profits.", "Inflation slowed last month.",
                "Investors sold shares in tech firms.", "Oil prices climbed on supply fears."],
    "pets": ["My cat sleeps all day.", "The puppy chewed my shoes."],
}


@pytest.fixture
def toy_csv(tmp_path):
    rows = [(f"{t} ({i})", lab) for lab, ts in TEXTS.items() for t in ts for i in range(5)]
    p = tmp_path / "toy.csv"
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(p, index=False)
    return p


def test_prepare_end_to_end_then_cached(toy_csv, tmp_path):
    cache = tmp_path / "cache"
    first = prepare(toy_csv, cache_dir=cache, progress=False)
    assert first.embeddings.shape == (40, 384)
    assert first.coords.shape == (40, 2)
    assert first.index.kind == "exact"
    assert first.sources == {"embeddings": "computed", "index": "computed", "coords": "computed"}
    assert first.dataset.minority_names == ["pets"]
    second = prepare(toy_csv, cache_dir=cache, progress=False)
    assert second.sources == {"embeddings": "cache", "index": "computed", "coords": "cache"}
    np.testing.assert_array_equal(first.embeddings, second.embeddings)
    np.testing.assert_array_equal(first.coords, second.coords)
    # neighbours are semantic: a pets text's nearest other rows are pets texts
    ids, _ = second.index.search(second.embeddings[30:31], 5, exclude=[30])
    assert (second.dataset.y[ids[0]] == second.dataset.classes.index("pets")).mean() >= 0.8


def test_cli_prepare_summary(toy_csv, tmp_path, capsys):
    assert main(["prepare", str(toy_csv), "--cache-dir", str(tmp_path / "c"), "--no-projection"]) == 0
    out = capsys.readouterr().out
    for part in ("toy: 40 rows, 2 classes", "pets", "(minority)", "embeddings: 40 x 384",
                 "index: exact", "cache:", "time: load"):
        assert part in out


def test_sample_uses_shipped_vectors(tmp_path, missing):
    if not (SAMPLE_DIR / "manifest.json").exists():
        missing("the shipped sample vectors are missing (sample_data/manifest.json)")
    p = prepare("sample", cache_dir=tmp_path, progress=False)
    assert p.sources["embeddings"].startswith("shipped")
    assert p.embeddings.shape[0] == p.dataset.n == p.coords.shape[0]
    assert p.dataset.minority_names == ["spam"]
    assert not any(tmp_path.iterdir())  # nothing computed, nothing written


def test_second_prepare_reads_the_ivf_index_from_the_cache(tmp_path):
    rng = np.random.default_rng(0)
    n = 1200
    texts = [f"row {i}" for i in range(n)]
    labels = np.where(rng.random(n) < 0.1, "rare", "common")
    csv = tmp_path / "pool.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(csv, index=False)
    X = rng.normal(size=(n, 24)).astype(np.float32)
    np.save(tmp_path / "vectors.npy", X)
    cache = tmp_path / "cache"
    kw = dict(cache_dir=cache, embeddings=tmp_path / "vectors.npy", index="ivf",
              projection=False, progress=False)
    first = prepare(csv, **kw)
    assert first.sources["index"] == "computed" and first.index.kind == "ivf"
    second = prepare(csv, **kw)
    assert second.sources["index"] == "cache"
    assert second.index.nprobe_ == first.index.nprobe_
    assert "index: ivf" in second.summary() and "(cache)" in second.summary()
