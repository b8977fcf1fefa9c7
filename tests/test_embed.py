"""Embeddings with the real offline model, the cache, and precomputed vectors."""

import numpy as np
import pytest

from explorer.embed import PrecomputedEmbeddings, SentenceEncoder, embed
from explorer.exceptions import DataError

TEXTS = [
    "The stock market fell sharply after the interest rate decision.",
    "Shares dropped as the central bank raised rates.",
    "My cat loves sleeping in the sun by the window.",
    "A kitten napped on the warm windowsill all afternoon.",
]


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder(batch_size=4)


@pytest.mark.slow
def test_real_model_offline_unit_norm_and_semantics(encoder, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    X = encoder.encode(TEXTS)
    assert X.shape == (4, 384) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    S = X @ X.T
    assert S[0, 1] > S[0, 2] and S[0, 1] > S[0, 3]
    assert S[2, 3] > S[2, 0] and S[2, 3] > S[2, 1]
    assert encoder.model_id.startswith("all-MiniLM-L6-v2-")


@pytest.mark.slow
def test_order_preserved_despite_length_sorting(encoder):
    texts = ["short", "a much longer sentence than the other ones in this list", "mid length one"]
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-4)


class CountingEncoder(SentenceEncoder):
    calls = 0

    def encode(self, texts, show_progress=False):
        CountingEncoder.calls += 1
        rng = np.random.default_rng(len(texts))
        X = rng.normal(size=(len(texts), 8)).astype(np.float32)
        return X / np.linalg.norm(X, axis=1, keepdims=True)

    @property
    def model_id(self):
        return "counting"


def test_cache_hit_on_second_run(tmp_path):
    enc = CountingEncoder()
    first = embed(TEXTS, enc, cache_dir=tmp_path, show_progress=False)
    second = embed(TEXTS, enc, cache_dir=tmp_path, show_progress=False)
    assert CountingEncoder.calls == 1
    assert isinstance(second, np.memmap)
    np.testing.assert_array_equal(first, second)
    embed(TEXTS[:2], enc, cache_dir=tmp_path, show_progress=False)  # other texts: new key
    assert CountingEncoder.calls == 2
    assert len(list((tmp_path / "embeddings").glob("*.npy"))) == 2


def test_precomputed_vectors_are_normalised(tmp_path):
    p = tmp_path / "v.npy"
    np.save(p, np.arange(8, dtype=np.float64).reshape(4, 2) + 1)
    X = embed(TEXTS, PrecomputedEmbeddings(p))
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-6)


def test_precomputed_errors(tmp_path):
    with pytest.raises(DataError, match="embeddings file .* not found"):
        PrecomputedEmbeddings(tmp_path / "none.npy").load()
    p = tmp_path / "v.npy"
    np.save(p, np.ones((3, 2)))
    with pytest.raises(DataError, match="have 3 rows but the dataset has 4"):
        embed(TEXTS, PrecomputedEmbeddings(p))
    np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="object arrays are refused"):
        PrecomputedEmbeddings(p).load()
    np.save(p, np.array([[1.0, np.nan]]))
    with pytest.raises(DataError, match="NaN or infinite"):
        PrecomputedEmbeddings(p).load()
