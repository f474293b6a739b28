import numpy as np
import pytest

from dolphin_ae.constants import SEED_CONFUSION_MATRIX
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.models.conv_v5 import build_conv_v5_encoder
from dolphin_ae.train.silence import (
    EnergyThresholdDetector,
    build_silence_detector,
    build_silence_head,
    metrics_from_confusion,
    silence_metrics,
    train_silence_head,
)


def test_seed_matrix_metrics():
    metrics = metrics_from_confusion(SEED_CONFUSION_MATRIX)
    assert metrics["recall_not_silence"] == pytest.approx(50 / 139)
    assert metrics["recall_silence"] == pytest.approx(740 / 741)
    assert metrics["balanced_accuracy"] == pytest.approx(0.6792, abs=1e-4)
    assert metrics["n_test_windows"] == 880


def test_orientation_rows_truth_columns_prediction():
    truth = np.array([0, 0, 0, 1, 1])  # 1 = silence
    predicted = np.array([0, 1, 1, 1, 1])
    metrics = silence_metrics(truth, predicted)
    assert metrics["confusion_matrix"] == [[1, 2], [0, 2]]
    assert metrics["recall_not_silence"] == pytest.approx(1 / 3)
    assert metrics["balanced_accuracy"] == pytest.approx((1 / 3 + 1) / 2)
    with pytest.raises(ParameterError):
        silence_metrics([0, 1], [0])


def test_energy_detector_finds_the_gap():
    rng = np.random.default_rng(0)
    level = np.concatenate([rng.uniform(-60, -40, 100), rng.uniform(-30, -10, 50)])
    is_silence = np.arange(150) < 100
    detector = EnergyThresholdDetector().fit(level, is_silence)
    assert -40 <= detector.threshold_db_ <= -30
    assert silence_metrics(is_silence, detector.predict(level))["balanced_accuracy"] == 1.0
    with pytest.raises(ParameterError, match="one class"):
        EnergyThresholdDetector().fit(level[:100], is_silence[:100])
    with pytest.raises(ParameterError, match="fitted"):
        EnergyThresholdDetector().predict(level)


def test_head_learns_separable_codes():
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((300, 16)).astype(np.float32)
    codes[:100, 0] += 4.0
    is_silence = np.arange(300) < 100
    head = build_silence_head(latent_dim=16)
    assert head.get_layer("silence_probability").output.shape[-1] == 1
    train_silence_head(head, codes, is_silence, epochs=15, batch_size=16, seed=0)
    predicted = head.predict(codes, verbose=0)[:, 0] >= 0.5
    assert silence_metrics(is_silence, predicted)["balanced_accuracy"] > 0.95


def test_detector_stacks_a_frozen_encoder():
    encoder = build_conv_v5_encoder(input_shape=(32, 64, 1), filters=(4, 4), latent_dim=8)
    detector = build_silence_detector(encoder, build_silence_head(latent_dim=8))
    assert detector.output_shape == (None, 1)
    assert not encoder.trainable
    assert {w.path for w in detector.trainable_weights}.isdisjoint({w.path for w in encoder.weights})
