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


def _frozen_encoder_windows(n=40):
    rng = np.random.default_rng(0)
    windows = 0.1 * rng.standard_normal((n, 16, 32)).astype(np.float32)
    is_silence = np.arange(n) % 2 == 0
    windows[~is_silence, :, 10] += 3.0
    return windows, is_silence


@pytest.mark.parametrize("name,sizes", [("conv_v5", {"filters": (4, 4), "latent_dim": 6}),
                                        pytest.param("lstm_v4_1", {"filters": 4, "lstm_units": 4, "decoder_units": 4,
                                                                   "latent_dim": 6}, marks=pytest.mark.slow)])
def test_a_head_on_a_frozen_encoder_is_the_chapters_steps(name, sizes, tmp_path):
    import keras

    from dolphin_ae.models import build_model
    from dolphin_ae.train.heads import on_features, split_encoder
    from dolphin_ae.train.silence import train_silence_on_encoder
    from dolphin_ae.train.training import predict_windows

    windows, is_silence = _frozen_encoder_windows()
    train, test = np.arange(28), np.arange(28, 40)
    path = tmp_path / "encoder.keras"
    build_model(name, input_shape=(16, 32, 1), kernel_size=3, **sizes).get_layer("encoder").save(path)
    options = dict(epochs=2, batch_size=8, learning_rate=0.002, balanced=True, seed=0)

    keras.utils.set_random_seed(0)
    encoder = keras.models.load_model(path)
    result = train_silence_on_encoder(encoder, windows, is_silence, train, test, **options)

    # The steps chapter 03 spelled out, from the same random state.
    keras.utils.set_random_seed(0)
    encoder = keras.models.load_model(path)
    frozen, tail = split_encoder(encoder)
    train_features = predict_windows(frozen, windows, train)
    test_features = predict_windows(frozen, windows, test)
    head = build_silence_head(latent_dim=encoder.output_shape[-1])
    trainable = on_features(head, tail)
    history = train_silence_head(trainable, train_features, is_silence[train], **options)
    probability = trainable.predict(test_features, verbose=0)[:, 0]

    assert (result.tail is None) == (name == "conv_v5")
    np.testing.assert_array_equal(result.train_features, train_features)
    np.testing.assert_array_equal(result.test_features, test_features)
    assert result.history == history and len(result.history["loss"]) == 2
    np.testing.assert_array_equal(result.probability, probability)
    assert result.probability.shape == (12,)
    # The detector for new recordings gives the test windows the same probabilities.
    detector = result.detector()
    np.testing.assert_allclose(detector.predict(windows[test][..., None], verbose=0)[:, 0], result.probability,
                               rtol=1e-5, atol=1e-6)


def test_a_head_on_a_frozen_encoder_needs_both_classes():
    from dolphin_ae.train.silence import train_silence_on_encoder

    windows, _ = _frozen_encoder_windows(8)
    encoder = build_conv_v5_encoder(input_shape=(16, 32, 1), filters=(4, 4), latent_dim=6)
    with pytest.raises(ParameterError, match="one class"):
        train_silence_on_encoder(encoder, windows, np.ones(8, dtype=bool), np.arange(6), np.arange(6, 8), epochs=1)
