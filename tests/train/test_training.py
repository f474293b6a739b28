"""Training loop: resume after an interruption, early stopping, mixed precision, batches."""

import numpy as np
import pytest

import keras

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.models import build_model
from dolphin_ae.runio import read_json
from dolphin_ae.train.training import (
    STATE_FILE,
    WindowBatches,
    learning_rate_schedule,
    precision_policy,
    train_autoencoder,
)


def _tiny_model():
    return build_model("conv_v5", input_shape=(16, 32, 1), filters=(4, 4), kernel_size=3, latent_dim=6)


def _windows(n=24, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 16, 32)).astype(np.float32)


class Interrupt(keras.callbacks.Callback):
    def __init__(self, after_epoch):
        super().__init__()
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after_epoch:
            raise KeyboardInterrupt


def test_batches_are_reproducible_per_epoch():
    windows = _windows()
    straight = WindowBatches(windows, np.arange(24), batch_size=5, shuffle=True, seed=3)
    orders = []
    for _ in range(3):
        orders.append(straight._order.copy())
        straight.on_epoch_end()
    resumed = WindowBatches(windows, np.arange(24), batch_size=5, shuffle=True, seed=3, start_epoch=2)
    np.testing.assert_array_equal(resumed._order, orders[2])
    assert not np.array_equal(orders[0], orders[1])
    x, y = straight[0]
    assert x.shape == (5, 16, 32, 1) and np.array_equal(x, y)


@pytest.mark.slow
@pytest.mark.backends
@pytest.mark.parametrize("lr_schedule", ["constant", "cosine"])
def test_interrupted_training_resumes_to_the_same_weights(tmp_path, lr_schedule):
    windows = _windows()
    train, validation = np.arange(16), np.arange(16, 24)
    options = dict(validation_indices=validation, epochs=4, batch_size=4, seed=1, verbose=0, lr_schedule=lr_schedule)

    keras.utils.set_random_seed(1)
    reference = _tiny_model()
    straight = train_autoencoder(reference, windows, train, **options)

    keras.utils.set_random_seed(1)
    model = _tiny_model()
    with pytest.raises(KeyboardInterrupt):
        train_autoencoder(model, windows, train, checkpoint_dir=tmp_path, callbacks=[Interrupt(2)], **options)
    (folder,) = tmp_path.iterdir()
    assert folder.name.startswith("conv_v5-") and (folder / STATE_FILE).exists()
    # A fresh process would rebuild the model from scratch: different initial weights, same checkpoint.
    keras.utils.set_random_seed(99)
    model = _tiny_model()
    resumed = train_autoencoder(model, windows, train, checkpoint_dir=tmp_path, **options)

    assert len(resumed["loss"]) == len(straight["loss"]) == 4
    np.testing.assert_allclose(resumed["loss"], straight["loss"], rtol=1e-4)
    np.testing.assert_allclose(resumed["val_loss"], straight["val_loss"], rtol=1e-4)
    for mine, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)
    # Only the files of the last and the best epoch are kept.
    assert len(list(folder.glob("*.weights.h5"))) <= 2
    # A finished run is not trained again.
    again = train_autoencoder(_tiny_model(), windows, train, checkpoint_dir=tmp_path, **options)
    assert again["loss"] == resumed["loss"]
    # Other settings train afresh, in a folder of their own.
    other = train_autoencoder(_tiny_model(), windows, train, checkpoint_dir=tmp_path, **{**options, "batch_size": 8})
    assert len(other["loss"]) == 4 and len(list(tmp_path.iterdir())) == 2


def test_cosine_schedule_decays_to_zero_over_the_run():
    model = _tiny_model()
    train_autoencoder(model, _windows(), np.arange(16), epochs=3, batch_size=4, learning_rate=0.01,
                      lr_schedule="cosine", verbose=0)
    optimizer = model.optimizer
    assert int(optimizer.iterations) == 3 * 4
    assert float(optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
    assert float(learning_rate_schedule(0.01, "cosine", 12)(6)) == pytest.approx(0.005, rel=1e-4)
    constant = _tiny_model()
    train_autoencoder(constant, _windows(), np.arange(16), epochs=1, batch_size=4, learning_rate=0.01, verbose=0)
    assert float(constant.optimizer.learning_rate) == pytest.approx(0.01)
    with pytest.raises(ParameterError, match="lr_schedule must be one of"):
        train_autoencoder(_tiny_model(), _windows(), np.arange(16), epochs=1, lr_schedule="step", verbose=0)
    with pytest.raises(ParameterError, match="batch_size"):
        train_autoencoder(_tiny_model(), _windows(), np.arange(16), epochs=1, batch_size=0, verbose=0)


def test_early_stopping_keeps_the_best_epoch():
    # Train on windows of +1 and validate on windows of -1: the better the model copies +1, the worse it
    # does on the validation windows, so the validation loss is best early and then rises.
    windows = np.concatenate([np.ones((16, 16, 32)), -np.ones((8, 16, 32))]).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = _tiny_model()
    history = train_autoencoder(model, windows, np.arange(16), validation_indices=np.arange(16, 24), epochs=30,
                                batch_size=4, learning_rate=0.01, patience=2, seed=0, verbose=0)
    assert history["stopped_early"]
    assert len(history["loss"]) == history["best_epoch"] + 2 < 30
    x = windows[16:, ..., None]
    assert model.evaluate(x, x, verbose=0) == pytest.approx(min(history["val_loss"]), rel=1e-3)
    with pytest.raises(ParameterError, match="validation"):
        train_autoencoder(model, windows, np.arange(16), epochs=2, patience=2, verbose=0)


def test_mixed_precision_computes_in_bfloat16_and_returns_float32():
    before = keras.config.dtype_policy().name
    with precision_policy(True):
        model = _tiny_model()
    assert keras.config.dtype_policy().name == before
    encoder = model.get_layer("encoder")
    assert encoder.get_layer("conv_1").compute_dtype == "bfloat16"
    assert encoder.get_layer("conv_1").variable_dtype == "float32"
    windows = _windows()
    history = train_autoencoder(model, windows, np.arange(16), epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history["loss"][0])
    assert encoder.predict(windows[:4, ..., None], verbose=0).dtype == np.float32
    assert model.predict(windows[:4, ..., None], verbose=0).dtype == np.float32


class EpochCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


def _train_counting(windows, train, validation, tmp_path, *, model_options=None, **options):
    counter = EpochCounter()
    keras.utils.set_random_seed(0)
    model = build_model("conv_v5", input_shape=(16, 32, 1), filters=(4, 4), kernel_size=3, latent_dim=6,
                        **(model_options or {}))
    history = train_autoencoder(model, windows, train, validation_indices=validation, checkpoint_dir=tmp_path,
                                callbacks=[counter], **{"epochs": 2, "batch_size": 4, "seed": 0, "verbose": 0,
                                                        **options})
    return counter.epochs, history


@pytest.mark.slow
def test_a_finished_run_is_reloaded_only_for_the_very_same_run(tmp_path):
    windows = _windows()
    train, validation = np.arange(16), np.arange(16, 24)
    trained, first = _train_counting(windows, train, validation, tmp_path)
    assert trained == 2 and first["resumed_after_epoch"] == 0
    (folder,) = tmp_path.iterdir()
    assert read_json(folder / STATE_FILE)["finished"] is True
    # The very same run: its finished state is loaded, nothing trains, and the history says so.
    trained, again = _train_counting(windows, train, validation, tmp_path)
    assert trained == 0 and again["resumed_after_epoch"] == 2 and again["loss"] == first["loss"]
    # Each of these keeps the training windows' count, the batch size, the seed, the learning rate and
    # the parameter count, so a key made of those alone would reload the first run's weights.
    variants = {
        "model option": dict(model_options={"activation": "leaky"}),
        "data content (another front end)": dict(windows=np.log1p(np.abs(windows))),
        "same-size data": dict(windows=_windows(seed=5)),
        "validation split": dict(validation=np.arange(8, 16), train=np.r_[np.arange(8), np.arange(16, 24)]),
        "patience": dict(patience=3),
    }
    for name, variant in variants.items():
        variant = dict(variant)
        trained, history = _train_counting(variant.pop("windows", windows), variant.pop("train", train),
                                           variant.pop("validation", validation), tmp_path, **variant)
        assert trained == 2 and history["resumed_after_epoch"] == 0, name
    assert len(list(tmp_path.iterdir())) == 1 + len(variants)


def test_model_fingerprint_ignores_generated_names_and_sees_every_option():
    from dolphin_ae.models import model_options
    from dolphin_ae.train.training import model_fingerprint

    def lstm(**changes):
        options = model_options("lstm_v4_1", input_shape=(16, 32, 1), lstm_width=1 / 32, kernel_size=3, latent_dim=6)
        return build_model("lstm_v4_1", **{**options, **changes})

    # Keras names the LSTMs inside the bidirectional layers after how many it built before in this process.
    assert model_fingerprint(lstm()) == model_fingerprint(lstm())
    assert model_fingerprint(lstm()) != model_fingerprint(lstm(output_activation="relu"))
    assert model_fingerprint(_tiny_model()) != model_fingerprint(
        build_model("conv_v5", input_shape=(16, 32, 1), filters=(4, 4), kernel_size=3, latent_dim=6, activation="leaky"))
    with precision_policy(True):
        mixed = _tiny_model()
    assert model_fingerprint(mixed) != model_fingerprint(_tiny_model())
