"""nn.metrics against hand-computed values."""
import math

import numpy as np
import pytest

import autograd as ag
from nn.metrics import accuracy, confusion_matrix, get_metric, mae, mse, r2_score, rmse


def test_accuracy_from_labels_and_from_scores():
    assert accuracy([0, 1, 2, 1], [0, 2, 2, 1]) == 0.75
    scores = ag.tensor([[2.0, 1.0, 0.0], [0.1, 0.3, 0.2], [0.0, 0.0, 5.0], [1.0, 0.0, 0.0]])
    result = accuracy(ag.tensor([0, 1, 2, 1]), scores)  # argmax: 0, 1, 2, 0
    assert result == 0.75 and isinstance(result, float)
    assert accuracy([1, 0, 1], [[0.9], [0.2], [0.4]]) == pytest.approx(2 / 3)  # probabilities, cut at 0.5
    assert accuracy([1, 0, 1], [2.0, -1.0, 0.3], threshold=0.0) == 1.0  # logits
    with pytest.raises(ValueError, match="shape"):
        accuracy([0, 1], [0, 1, 1])


def test_regression_errors_by_hand():
    y, p = [1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 5.0]  # errors 0.5, 0, -1, 1
    assert mse(y, p) == pytest.approx((0.25 + 0 + 1 + 1) / 4)
    assert rmse(y, p) == pytest.approx(math.sqrt(2.25 / 4))
    assert mae(y, p) == pytest.approx(2.5 / 4)
    assert isinstance(mse(ag.tensor(y), ag.tensor(p)), float)
    assert mse(ag.tensor(y), ag.tensor(p).reshape(4, 1)) == pytest.approx(0.5625)  # (N,) vs (N, 1)


def test_r2_as_the_course_defines_it():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 2.0, 2.0, 5.0])
    assert r2_score(y, p) == pytest.approx(1 - 2.25 / 5.0)  # 1 − Σ(ŷ−y)² / Σ(ȳ−y)², Σ(ȳ−y)² = 5
    assert r2_score(y, p) == pytest.approx(1 - mse(y, p) / y.var())  # = 1 − MSE / variance
    assert r2_score(y, y) == 1.0
    assert r2_score(y, np.full(4, y.mean())) == pytest.approx(0.0)  # always predicting the mean
    assert r2_score(y, -y) < 0
    assert r2_score([2.0, 2.0], [2.0, 2.0]) == 1.0 and r2_score([2.0, 2.0], [1.0, 2.0]) == 0.0


def test_confusion_matrix():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2])
    assert isinstance(cm, ag.Tensor) and cm.dtype == ag.int64
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]  # rows truth, columns prediction
    assert confusion_matrix([0, 1], [[3.0, 1.0], [0.0, 1.0]], num_classes=3).tolist() == [[1, 0, 0], [0, 1, 0],
                                                                                          [0, 0, 0]]


def test_metrics_by_name():
    assert get_metric("acc")[0] == "accuracy" and get_metric("r2")[1] is r2_score
    with pytest.raises(ValueError, match="unknown metric"):
        get_metric("f7")
