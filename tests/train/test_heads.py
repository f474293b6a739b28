"""Heads on a frozen encoder: where the encoder is cut, and the four-class signal-type head."""

import numpy as np
import pytest

import keras

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.train.heads import on_features, split_encoder
from dolphin_ae.models import build_model
from dolphin_ae.viz.plots import plot_class_confusion
from dolphin_ae.train.silence import build_silence_detector, build_silence_head, train_silence_head
from dolphin_ae.train.signal_type import (
    CLASS_NAMES,
    build_signal_type_classifier,
    build_signal_type_head,
    encode_labels,
    signal_classes,
    signal_type_metrics,
    train_signal_type_head,
)

TINY_LSTM = {"input_shape": (16, 32, 1), "kernel_size": 3, "latent_dim": 6, "filters": 4, "lstm_units": 8,
             "decoder_units": 8}


def _windows(n=8):
    return np.random.default_rng(0).standard_normal((n, 16, 32, 1)).astype(np.float32)


def test_conv_encoder_is_frozen_whole():
    encoder = build_model("conv_v5", input_shape=(16, 32, 1), filters=(4, 4), latent_dim=6).get_layer("encoder")
    frozen, tail = split_encoder(encoder)
    assert frozen is encoder and tail is None and not encoder.trainable


@pytest.mark.parametrize("name,tail_layers", [("lstm_v4_1", ["latent"]), ("vae_v4_2", ["summary", "latent"])])
def test_lstm_encoder_keeps_its_last_lstm_trainable(name, tail_layers, tmp_path):
    encoder = build_model(name, **TINY_LSTM).get_layer("encoder")
    frozen, tail = split_encoder(encoder)
    x = _windows()
    assert frozen.output_shape == (None, 16, 16)  # the BiLSTM's sequence, 2 x 8 features
    assert [layer.name for layer in tail.layers[1:]] == tail_layers
    # Cut and copied, the two parts still compute the encoder.
    np.testing.assert_allclose(tail.predict(frozen.predict(x, verbose=0), verbose=0), encoder.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    head = build_silence_head(latent_dim=6)
    detector = build_silence_detector(frozen, head, tail=tail)
    trainable = {id(w) for w in detector.trainable_weights}
    assert trainable == {id(w) for w in tail.trainable_weights} | {id(w) for w in head.trainable_weights}
    assert trainable.isdisjoint({id(w) for w in encoder.weights})
    # Training the tail leaves the encoder (used by later chapters) as it was.
    before = [w.copy() for w in encoder.get_weights()]
    features = frozen.predict(x, verbose=0)
    train_silence_head(on_features(head, tail), features, np.arange(8) % 2 == 0, epochs=2, batch_size=4)
    assert all(np.array_equal(a, b) for a, b in zip(before, encoder.get_weights()))
    assert not np.allclose(tail.get_layer("latent").get_weights()[0],
                           encoder.get_layer("latent").get_weights()[0])
    assert detector.predict(x, verbose=0).shape == (8, 1)
    detector.save(tmp_path / "detector.keras")
    restored = keras.models.load_model(tmp_path / "detector.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), detector.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_signal_type_head_learns_separable_codes():
    rng = np.random.default_rng(0)
    classes = np.repeat(np.arange(4), 60)
    codes = rng.standard_normal((240, 12)).astype(np.float32)
    codes[np.arange(240), classes] += 4.0
    head = build_signal_type_head(latent_dim=12, n_classes=4)
    assert head.output_shape == (None, 4)
    train_signal_type_head(head, codes, classes, epochs=20, batch_size=16, seed=0)
    metrics = signal_type_metrics(classes, np.argmax(head.predict(codes, verbose=0), axis=1))
    assert metrics["accuracy"] > 0.9
    assert set(metrics["recall_per_class"]) == set(CLASS_NAMES)
    encoder = build_model("conv_v5", input_shape=(16, 32, 1), filters=(4, 4), latent_dim=12).get_layer("encoder")
    classifier = build_signal_type_classifier(encoder, head)
    np.testing.assert_allclose(classifier.predict(_windows(2), verbose=0).sum(axis=1), 1.0, rtol=1e-5)


def test_signal_type_metrics_on_known_counts():
    truth = np.array([0, 0, 1, 1, 2, 2, 2, 3])
    predicted = np.array([0, 1, 1, 1, 2, 3, 3, 3])
    metrics = signal_type_metrics(truth, predicted)
    assert metrics["accuracy"] == pytest.approx(5 / 8)
    assert metrics["recall_per_class"] == pytest.approx({"noise": 0.5, "click": 1.0, "burst": 1 / 3, "whistle": 1.0})
    assert metrics["confusion_matrix"][2] == [0, 0, 1, 2]
    assert metrics["balanced_accuracy"] == pytest.approx((0.5 + 1 + 1 / 3 + 1) / 4)
    with pytest.raises(ParameterError):
        signal_type_metrics(truth, predicted[:3])
    fig = plot_class_confusion(metrics["confusion_matrix"], CLASS_NAMES)
    assert fig.axes[-1].get_ylabel() == "share of the true class (%)"


def test_labels_and_classes():
    assert signal_classes(["whistle", "noise", "moan", "click"]) == ("noise", "click", "whistle", "moan")
    np.testing.assert_array_equal(encode_labels(["click", "noise"], CLASS_NAMES), [1, 0])
    with pytest.raises(ParameterError, match="moan"):
        encode_labels(["moan"], CLASS_NAMES)
    with pytest.raises(ParameterError, match="class numbers"):
        train_signal_type_head(build_signal_type_head(latent_dim=4), np.zeros((3, 4)), [0, 1, 7], epochs=1)
