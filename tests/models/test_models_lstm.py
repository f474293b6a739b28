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


EAGER = keras.backend.backend() == "tensorflow"


def _windows(n=8, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 16, 32, 1)).astype(np.float32)


def _infer(model, x):
    """``model.predict(x)`` without tracing a graph (a few windows; the same layers in inference mode)."""
    return keras.ops.convert_to_numpy(model(x, training=False))


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
    # Eagerly on TensorFlow: tracing the LSTMs' loops would cost far more than these few steps on 8 tiny
    # windows. JAX compiles them quickly and runs them slowly op by op (90 s a model), so it compiles.
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", run_eagerly=EAGER)
    losses = model.fit(x, x, epochs=3, batch_size=4, verbose=0).history["loss"]
    # The training loss falls. (Evaluated in inference mode, the ConvNet's batch norms use moving statistics
    # that 6 steps have barely moved from their start: that loss fell on TensorFlow and JAX, not on PyTorch.)
    assert np.isfinite(model.evaluate(x, x, verbose=0, return_dict=True)["loss"]) and losses[-1] < losses[0]
    encoder = model.get_layer("encoder")
    assert _infer(encoder, x).shape == (8, 6)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(_infer(restored, x), _infer(model, x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_infer(restored.get_layer("encoder"), x), _infer(encoder, x), rtol=1e-5, atol=1e-5)
    # A restored model keeps training (the variational one keeps its own loss).
    restored.compile(optimizer="adam", loss="mse", run_eagerly=EAGER)
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
    expected_kl = float(np.mean(keras.ops.convert_to_numpy(kl_divergence(mean, log_variance))))
    assert logs["reconstruction_loss"] == pytest.approx(expected_mse, rel=1e-4)
    assert logs["kl_loss"] == pytest.approx(expected_kl, rel=1e-4, abs=1e-6)
    assert logs["loss"] == pytest.approx(expected_mse + expected_kl, rel=1e-4)
    # The KL of the standard normal from itself is zero, and grows as the mean moves.
    assert keras.ops.convert_to_numpy(kl_divergence(np.zeros((1, 3)), np.zeros((1, 3))))[0] == pytest.approx(0.0)
    assert keras.ops.convert_to_numpy(kl_divergence(np.ones((1, 3)), np.zeros((1, 3))))[0] == pytest.approx(1.5)


def test_training_samples_but_inference_is_deterministic():
    model = build_model("vae_v4_2", **TINY, **TINY_SIZES["vae_v4_2"])
    x = _windows(2)
    np.testing.assert_array_equal(_infer(model, x), _infer(model, x))
    sampled = [keras.ops.convert_to_numpy(model(x, training=True)) for _ in range(2)]
    assert not np.allclose(*sampled)


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


def test_repeated_code_decoder_has_the_seed_decoders_weights():
    for name in LSTM_MODELS:
        seed = build_model(name)
        repeat = build_model(name, decoder_input="repeat")
        assert repeat.count_params() == seed.count_params()
        assert [w.shape for w in repeat.get_layer("decoder").weights] == \
            [w.shape for w in seed.get_layer("decoder").weights]
    # The seed's encoder is untouched: 609,024 parameters with either decoder input.
    assert build_model("lstm_v4_1", decoder_input="repeat").get_layer("encoder").count_params() == 609_024
    decoder = build_model("lstm_v4_1", **TINY, **TINY_SIZES["lstm_v4_1"], decoder_input="repeat").get_layer("decoder")
    code = np.arange(6, dtype=np.float32)[None]
    steps = keras.Model(decoder.input, decoder.get_layer("code_at_every_step").output).predict(code, verbose=0)
    np.testing.assert_array_equal(steps[0], np.tile(code, (16, 1)))


def test_unknown_decoder_input():
    with pytest.raises(ParameterError, match="decoder_input must be one of"):
        build_model("lstm_v4_3", **TINY, **TINY_SIZES["lstm_v4_3"], decoder_input="zeros")


def test_the_seeds_decoder_forgets_its_code_along_the_window_and_the_repeated_one_does_not():
    from dolphin_ae.train.evaluation import code_reach

    windows = np.random.default_rng(0).standard_normal((8, 64, 32, 1)).astype(np.float32)
    reach = {}
    for decoder_input in ("first_step", "repeat"):
        keras.utils.set_random_seed(0)
        model = build_model("lstm_v4_3", input_shape=(64, 32, 1), kernel_size=3, latent_dim=6, filters=4,
                            lstm_units=16, decoder_units=8, decoder_input=decoder_input)
        codes = model.get_layer("encoder").predict(windows, verbose=0)
        reach[decoder_input] = code_reach(model.get_layer("decoder"), codes)
    # Untrained, the code read at step 0 only fades along the frames: its last quarter barely depends
    # on it; read at every step, it moves every quarter alike.
    assert reach["first_step"][-1] < reach["first_step"][0] / 50, reach
    assert reach["repeat"][-1] > reach["repeat"][0] / 2, reach
    assert reach["repeat"][-1] > 100 * reach["first_step"][-1], reach



def test_the_seeds_encoder_cannot_tell_at_what_frequency_a_sound_is():
    # The max-pool over every frequency bin keeps what the kernels found and when, not where in
    # frequency: a tonal line at bin 8 and the same line at bin 20 get the same code.
    keras.utils.set_random_seed(0)
    encoder = build_lstm_v4_encoder(input_shape=(16, 32, 1), filters=4, kernel_size=3, lstm_units=8, latent_dim=6)
    low, high = np.zeros((2, 1, 16, 32, 1), dtype=np.float32)
    low[0, 4:12, 8] = 1.0
    high[0, 4:12, 20] = 1.0
    np.testing.assert_allclose(encoder.predict(low, verbose=0), encoder.predict(high, verbose=0), atol=1e-6)
    later = np.zeros_like(low)
    later[0, 8:16, 8] = 1.0
    assert np.abs(encoder.predict(later, verbose=0) - encoder.predict(low, verbose=0)).max() > 1e-4
