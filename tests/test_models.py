import numpy as np
import pytest

from explorer.exceptions import ParameterError
from explorer.models import Classifier, FineTunedEncoder, LogisticHead, MLPHead, make_model


def test_lr_head_proba_columns_follow_global_classes(blobs):
    model = make_model("lr", blobs, random_state=0)
    assert isinstance(model, Classifier)
    model.fit(np.r_[0:20, 540:545], np.r_[[0] * 20, [1] * 5])
    p = model.predict_proba(np.array([3, 550, 100]))
    assert p.shape == (3, 2)
    np.testing.assert_allclose(p.sum(1), 1)
    assert p[1, 1] > p[0, 1] and p[0, 0] > 0.5
    np.testing.assert_array_equal(model.embed([3, 550]), blobs.embeddings[[3, 550]])


def test_lr_head_missing_classes_get_zero_probability(blobs):
    model = LogisticHead(blobs.embeddings, 4).fit(np.r_[0:10, 540:545], np.r_[[0] * 10, [2] * 5])
    p = model.predict_proba(np.arange(5))
    assert p.shape == (5, 4) and (p[:, [1, 3]] == 0).all()
    single = LogisticHead(blobs.embeddings, 3).fit([0, 1], [2, 2])
    np.testing.assert_array_equal(single.predict_proba([5, 6]), [[0, 0, 1], [0, 0, 1]])


def test_lr_class_weight_and_determinism(blobs):
    ids, y = np.r_[0:30, 540:542], np.r_[[0] * 30, [1] * 2]
    a = make_model("lr", blobs, class_weight="balanced").fit(ids, y).predict_proba(np.arange(600))
    b = make_model("lr", blobs).fit(ids, y).predict_proba(np.arange(600))
    assert a[:, 1].mean() > b[:, 1].mean()
    np.testing.assert_array_equal(b, make_model("lr", blobs).fit(ids, y).predict_proba(np.arange(600)))


def test_mlp_head_embed_is_the_hidden_layer(blobs):
    model = MLPHead(blobs.embeddings, 2, hidden=16, max_iter=50, random_state=0)
    model.fit(np.r_[0:20, 540:550], np.r_[[0] * 20, [1] * 10])
    assert model.predict_proba([0, 1, 2]).shape == (3, 2)
    assert model.embed([0, 1, 2]).shape == (3, 16)


def test_model_errors(blobs):
    with pytest.raises(ParameterError, match=r"model='svm' is unknown; choose one of lr, mlp, finetune"):
        make_model("svm", blobs)
    with pytest.raises(ParameterError, match="same length"):
        make_model("lr", blobs).fit([0, 1], [0])
    with pytest.raises(ParameterError, match="no labelled rows"):
        make_model("lr", blobs).fit([], [])
    with pytest.raises(ParameterError, match=r"ids must be row ids in \[0, 600\)"):
        make_model("lr", blobs).fit([0, 600], [0, 1])


@pytest.mark.slow
def test_finetune_encodes_only_the_rows_asked_for():
    texts = np.array(["great fun film", "loved it, wonderful", "awful, boring", "terrible plot",
                      "a delight", "dreadful acting", "superb", "worst ever"], object)
    y = np.array([1, 1, 0, 0, 1, 0, 1, 0])
    model = FineTunedEncoder(texts, 2, epochs=1, batch_size=4, max_length=16, device="cpu",
                             random_state=0)
    model.fit(np.arange(4), y[:4])
    p = model.predict_proba([4, 5])
    assert p.shape == (2, 2) and model.n_encoded_ == 2
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    h = model.embed([5, 4, 6])  # 4, 5 memoised: only row 6 is encoded
    assert h.shape == (3, 384) and model.n_encoded_ == 3
    p2 = FineTunedEncoder(texts, 2, epochs=1, batch_size=4, max_length=16, device="cpu",
                          random_state=0).fit(np.arange(4), y[:4]).predict_proba([4, 5])
    np.testing.assert_allclose(p, p2, rtol=1e-4)  # seeded
