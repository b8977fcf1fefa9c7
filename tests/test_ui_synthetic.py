"""The app's synthetic pool: 384-d, two classes, the real UMAP path, cached and memory-mapped."""

import numpy as np
import pytest

from explorer.exceptions import ParameterError
from explorer.projection import project
from explorer.synthetic import make_pool
from explorer.ui.synthetic import parse, synthetic_prepared


@pytest.mark.slow
def test_384d_pool_through_umap_cached_and_memory_mapped(tmp_path):
    p = synthetic_prepared(600, minority_share=0.05, cache_dir=tmp_path)
    X = p.embeddings
    assert X.shape == (600, 384) and X.dtype == np.float32 and isinstance(X, np.memmap)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    ds = p.dataset
    assert ds.classes == ("common", "rare") and ds.minority == (1,)
    assert (ds.y == 1).sum() == 30 and set(np.unique(ds.y)) == {0, 1}
    assert p.index.dim_ == 384 and p.index.n_ == 600
    # the coordinates are UMAP's (same seed, same call as for a real pool), not the generator's
    assert p.sources["coords"] == "UMAP (computed)"
    np.testing.assert_array_equal(p.coords, project(X, random_state=0, show_progress=False))
    _, _, generated = make_pool(600, dim=384, n_clusters=8, n_minority_clusters=4,
                                minority_share=0.05, random_state=0)
    assert not np.allclose(p.coords, generated)
    files = sorted(f.name for f in p.cache_dir.iterdir())
    assert files == ["embeddings-float32.npy", "generated-coords.npy", "labels.npy",
                     "umap-0.npy"]
    again = synthetic_prepared(600, minority_share=0.05, cache_dir=tmp_path)
    assert again.sources == {"embeddings": "synthetic 384-d float32 (cache)",
                             "coords": "UMAP (cache)"}
    np.testing.assert_array_equal(again.coords, p.coords)
    np.testing.assert_array_equal(again.embeddings, X)
    assert again.dataset.content_hash == ds.content_hash


def test_same_vectors_written_through_the_cache_or_in_memory(tmp_path):
    cached = synthetic_prepared(700, cache_dir=tmp_path, projection="generated",
                                embeddings_dtype="float16")
    memory = synthetic_prepared(700, projection="generated")
    assert cached.embeddings.dtype == np.float16 and isinstance(cached.embeddings, np.memmap)
    assert memory.embeddings.dtype == np.float32 and not isinstance(memory.embeddings, np.memmap)
    np.testing.assert_array_equal(cached.embeddings, memory.embeddings.astype(np.float16))
    np.testing.assert_array_equal(cached.dataset.y, memory.dataset.y)
    np.testing.assert_array_equal(cached.coords, memory.coords)
    assert cached.sources["coords"] == "synthetic (generated layout, no UMAP)"
    assert (cached.dataset.y == 1).sum() == 14  # 2 % of 700


def test_make_pool_into_out_matches_in_memory():
    X, y, c = make_pool(900, dim=16, n_clusters=10, n_minority_clusters=2, random_state=5)
    out = np.empty((900, 16), np.float16)
    X2, y2, c2 = make_pool(900, dim=16, n_clusters=10, n_minority_clusters=2, random_state=5,
                           dtype=np.float16, out=out)
    assert X2 is out
    np.testing.assert_array_equal(out, X.astype(np.float16))
    np.testing.assert_array_equal(y, y2)
    with pytest.raises(ParameterError, match=r"out has shape \(2, 16\), expected \(900, 16\)"):
        make_pool(900, dim=16, n_clusters=10, out=np.empty((2, 16), np.float32))


def test_errors():
    with pytest.raises(ParameterError, match="projection='tsne' is unknown; use one of umap"):
        synthetic_prepared(600, projection="tsne")
    with pytest.raises(ParameterError, match="embeddings dtype='int8' is unknown"):
        synthetic_prepared(600, projection="generated", embeddings_dtype="int8")
    with pytest.raises(ParameterError, match="row count must be an integer >= 500"):
        parse("synthetic:10")
