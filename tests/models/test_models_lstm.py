"""The LSTM V4 family and the variational V4.2: the seed's sizes, training steps and saved models."""

import numpy as np
import pytest

import keras

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.models import LSTM_MODELS, MODEL_BUILDERS, build_model, model_options
from dolphin_ae.models.lstm_v4 import build_lstm_v4_encoder
from dolphin_ae.models.vae_v4 import kl_divergence

TINY = {"input_shape": (16, 32, 1), "kernel_size": 3, "latent_dim": 6}
TINY_SIZES = {
    "conv_v5": {"filters": (4, 4)},
    "lstm_v4_1": {"filters": 4, "lstm_units": 8, "decoder_units": 8},
    "lstm_v4_3": {"filters": 4, "lstm_units": 16, "decoder_units": 8},  # 2 x 16 = 32 bins: no projection
    "vae_v4_2": {"filters": 4, "lstm_units": 8, "decoder_units": 8},
}


def _windows(n=8, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 16, 32, 1)).astype(np.float32)


def test_seed_encoder_parameter_counts():
    v4_1 = build_model("lstm_v4_1").get_layer("encoder")
    v4_3 = build_model("lstm_v4_3").get_layer("encoder")
    assert v4_1.count_params() == 609_024
    assert v4_3.count_params() == 469_120
    for encoder, filters in ((v4_1, 256), (v4_3, 128)):
        assert encoder.output_shape == (None, 128)
        assert encoder.layers[-1] is encoder.get_layer("latent")
        assert encoder.get_layer("pool_frequency").output.shape[1:] == (128, 1, filters)
        assert encoder.get_layer("sequence_norm").count_params() == 4 * filters
        assert encoder.get_layer("bilstm").output.shape[1:] == (128, 256)


def test_seed_decoder_is_one_to_many():
    decoder = build_model("lstm_v4_1").get_layer("decoder")
    assert decoder.output_shape == (None, 128, 256, 1)
    assert decoder.get_layer("zeros_after").output.shape[1:] == (128, 128)
    assert decoder.get_layer("decoder_lstm").output.shape[1:] == (128, 256)
    assert decoder.get_layer("deconv").output.shape[1:] == (128, 256, 256)
    # 2 x 128 BiLSTM features are the 256 bins: no projection layer at the seed's sizes.
    assert "to_bins" not in [layer.name for layer in decoder.layers]
    assert build_model("lstm_v4_3").get_layer("decoder").get_layer("deconv").output.shape[-1] == 128
    code = np.zeros((1, 128), dtype=np.float32)
    code[0, 0] = 1.0
    padded = keras.Model(decoder.input, decoder.get_layer("zeros_after").output).predict(code, verbose=0)
    assert padded[0, 0, 0] == 1.0 and not padded[0, 1:].any()


def test_variational_encoder_is_a_plain_mean_encoder():
    model = build_model("vae_v4_2")
    encoder = model.get_layer("encoder")
    assert encoder.output_shape == (None, 128)
    assert encoder.layers[-1].name == "latent"
    assert model.get_layer("posterior").get_layer("log_variance").output.shape[-1] == 128
    # The v4.1 trunk plus two 128 x 128 heads: 609,024 + 2 x (128 x 128 + 128).
    assert model.get_layer("posterior").count_params() == 609_024 + 2 * (128 * 128 + 128)


@pytest.mark.slow
@pytest.mark.backends
@pytest.mark.parametrize("name", sorted(MODEL_BUILDERS))
def test_every_model_trains_and_round_trips(name, tmp_path):
    keras.utils.set_random_seed(0)
    model = build_model(name, **TINY, **TINY_SIZES[name])
    x = _windows()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    before = model.evaluate(x, x, verbose=0, return_dict=True)["loss"]
    model.fit(x, x, epochs=3, batch_size=4, verbose=0)
    after = model.evaluate(x, x, verbose=0, return_dict=True)["loss"]
    assert np.isfinite(after) and after < before
    encoder = model.get_layer("encoder")
    assert encoder.predict(x, verbose=0).shape == (8, 6)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(restored.get_layer("encoder").predict(x, verbose=0), encoder.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)
    # A restored model keeps training (the variational one keeps its own loss).
    restored.compile(optimizer="adam", loss="mse")
    assert np.isfinite(restored.train_on_batch(x[:4], x[:4], return_dict=True)["loss"])


def test_variational_loss_is_weighted_mse_plus_kl():
    keras.utils.set_random_seed(0)
    model = build_model("vae_v4_2", **TINY, **TINY_SIZES["vae_v4_2"], reconstruction_weight=1000.0)
    model.compile(optimizer="adam", loss="mse")
    x = _windows()
    logs = model.evaluate(x, x, batch_size=8, verbose=0, return_dict=True)
    mean, log_variance = (np.asarray(a) for a in model.get_layer("posterior").predict(x, verbose=0))
    reconstruction = model.predict(x, verbose=0)  # inference decodes the mean
    expected_mse = 1000.0 * np.mean((reconstruction - x) ** 2)
    expected_kl = float(np.mean(np.asarray(kl_divergence(mean, log_variance))))
    assert logs["reconstruction_loss"] == pytest.approx(expected_mse, rel=1e-4)
    assert logs["kl_loss"] == pytest.approx(expected_kl, rel=1e-4, abs=1e-6)
    assert logs["loss"] == pytest.approx(expected_mse + expected_kl, rel=1e-4)
    # The KL of the standard normal from itself is zero, and grows as the mean moves.
    assert np.asarray(kl_divergence(np.zeros((1, 3)), np.zeros((1, 3))))[0] == pytest.approx(0.0)
    assert np.asarray(kl_divergence(np.ones((1, 3)), np.zeros((1, 3))))[0] == pytest.approx(1.5)


def test_training_samples_but_inference_is_deterministic():
    model = build_model("vae_v4_2", **TINY, **TINY_SIZES["vae_v4_2"])
    x = _windows(2)
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), np.asarray(model(x, training=False)))
    assert not np.allclose(np.asarray(model(x, training=True)), np.asarray(model(x, training=True)))


def test_model_options_pick_each_family_sizes():
    conv = model_options("conv_v5", input_shape=(128, 256, 1), conv_filters=[8, 8, 8, 8], lstm_width=0.5)
    assert conv["filters"] == (8, 8, 8, 8) and "lstm_units" not in conv
    assert (conv["activation"], conv["batch_norm"]) == ("seed", True)
    leaky = model_options("conv_v5", input_shape=(128, 256, 1), conv_activation="leaky", conv_batch_norm=False)
    assert (leaky["activation"], leaky["batch_norm"]) == ("leaky", False)
    assert "batch_norm" not in model_options("lstm_v4_1", input_shape=(128, 256, 1), conv_batch_norm=False)
    seed_v4_3 = model_options("lstm_v4_3", input_shape=(128, 256, 1))
    assert build_model("lstm_v4_3", **seed_v4_3).get_layer("encoder").count_params() == 469_120
    # Narrowed, the two LSTM models keep their proportions and stay different models.
    v4_1 = model_options("lstm_v4_1", input_shape=(128, 256, 1), lstm_width=1 / 16)
    v4_3 = model_options("lstm_v4_3", input_shape=(128, 256, 1), lstm_width=1 / 16)
    assert (v4_1["filters"], v4_1["lstm_units"], v4_1["decoder_units"]) == (16, 8, 16)
    assert (v4_3["filters"], v4_3["lstm_units"], v4_3["decoder_units"]) == (8, 8, 8)
    assert v4_1["latent_dim"] == v4_3["latent_dim"] == 128
    assert "seed" in model_options("vae_v4_2", input_shape=(128, 256, 1))
    with pytest.raises(ParameterError, match="lstm_width"):
        model_options("lstm_v4_1", input_shape=(128, 256, 1), lstm_width=0)
    with pytest.raises(ParameterError, match="model must be one of"):
        model_options("lstm_v9", input_shape=(128, 256, 1))


def test_bad_sizes():
    with pytest.raises(ParameterError, match="lstm_units"):
        build_lstm_v4_encoder(lstm_units=0)
    with pytest.raises(ParameterError, match="input_shape"):
        build_model("lstm_v4_1", input_shape=(128, 256))
    assert set(LSTM_MODELS) < set(MODEL_BUILDERS)
