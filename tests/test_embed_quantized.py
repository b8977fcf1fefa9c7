"""SentenceEncoder(quantize="int8"): opt-in, CPU only, its own cache key, vectors close to float32."""

import numpy as np
import pytest

from explorer.embed import SentenceEncoder
from explorer.exceptions import ParameterError

TEXTS = ["The spacecraft drifted past the moons of Jupiter.",
         "Win a FREE prize now, click here!!!",
         "The committee met on Tuesday to discuss the budget.",
         "He told a joke and the whole room laughed."]


def test_default_is_float32_and_unchanged():
    enc = SentenceEncoder(device="cpu")
    assert enc.quantize is None
    assert not enc.model_id.endswith("-int8")
    import torch

    linears = [m for m in enc.model_.modules() if type(m) is torch.nn.Linear]
    assert linears, "the default model keeps its float32 nn.Linear layers"


def test_int8_has_its_own_cache_key():
    f32, i8 = SentenceEncoder(), SentenceEncoder(quantize="int8")
    assert i8.model_id == f32.model_id + "-int8"


def test_int8_vectors_are_unit_and_close_to_float32():
    f32 = SentenceEncoder(device="cpu").encode(TEXTS)
    enc = SentenceEncoder(device="cpu", quantize="int8")
    i8 = enc.encode(TEXTS)
    assert i8.shape == f32.shape == (len(TEXTS), 384)
    assert i8.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(i8, axis=1), 1.0, atol=1e-4)
    assert np.all(np.sum(f32 * i8, axis=1) > 0.9)
    import torch

    assert not [m for m in enc.model_.modules() if type(m) is torch.nn.Linear]


def test_unknown_quantize_is_refused():
    with pytest.raises(ParameterError, match=r"quantize='fp4' is unknown; use None \(float32\) or 'int8'"):
        SentenceEncoder(quantize="fp4").encode(["x"])


def test_int8_on_gpu_is_refused():
    with pytest.raises(ParameterError, match=r"quantize='int8' runs on the CPU only, got device='cuda'"):
        SentenceEncoder(device="cuda", quantize="int8").encode(["x"])
