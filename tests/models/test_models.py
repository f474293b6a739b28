import numpy as np
import pytest

import keras

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.models import build_model
from dolphin_ae.models.conv_v5 import build_conv_v5_encoder


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_seed_encoder_parameter_count():
    encoder = build_conv_v5_encoder()
    assert encoder.count_params() == 959_344
    assert _trainable(encoder) == 959_088
    assert encoder.output_shape == (None, 128)
    assert encoder.get_layer("latent") is encoder.layers[-1]
    assert [encoder.get_layer(f"conv_{i}").output.shape[1:] for i in range(1, 5)] == [
        (64, 128, 128), (32, 64, 64), (16, 32, 32), (8, 16, 16)]


def test_seed_decoder_mirrors_the_encoder():
    autoencoder = build_model("conv_v5")
    decoder = autoencoder.get_layer("decoder")
    assert autoencoder.output_shape == (None, 128, 256, 1)
    assert decoder.get_layer("unflatten").output.shape[1:] == (8, 16, 16)
    assert [decoder.get_layer(f"deconv_{i}").output.shape[-1] for i in range(1, 5)] == [16, 32, 64, 128]


def test_leaky_variant_without_batch_norm():
    seed = build_model("conv_v5")
    variant = build_model("conv_v5", activation="leaky", batch_norm=False)
    layers = [layer for part in ("encoder", "decoder") for layer in variant.get_layer(part).layers]
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in layers)
    # Only the two normalisations' 4 x (128 + 8 * 16 * 16) numbers are gone.
    assert seed.count_params() - variant.count_params() == 4 * (128 + 8 * 16 * 16)
    encoder = variant.get_layer("encoder")
    assert encoder.get_layer("conv_1").activation.__name__ == "linear"
    assert build_conv_v5_encoder().get_layer("conv_1").activation.__name__ == "relu"
    # Without the ReLU before it the leak passes negative values on: the code has negative numbers.
    x = np.random.default_rng(0).standard_normal((4, 128, 256, 1)).astype(np.float32)
    assert (keras.ops.convert_to_numpy(encoder.get_layer("conv_1_leaky")(encoder.get_layer("conv_1")(x))) < 0).any()
    with pytest.raises(ParameterError, match="activation must be one of"):
        build_model("conv_v5", activation="tanh")


def test_narrow_model_trains_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_model("conv_v5", input_shape=(32, 64, 1), filters=(4, 4), latent_dim=8)
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).standard_normal((8, 32, 64, 1)).astype(np.float32)
    before = model.evaluate(x, x, verbose=0)
    model.fit(x, x, epochs=5, batch_size=4, verbose=0)
    assert model.evaluate(x, x, verbose=0) < before
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    encoder = restored.get_layer("encoder")
    assert encoder.predict(x, verbose=0).shape == (8, 8)


def test_bad_arguments():
    with pytest.raises(ParameterError, match="model must be one of"):
        build_model("transformer")
    with pytest.raises(ParameterError, match="divisible"):
        build_model("conv_v5", input_shape=(100, 256, 1))
    with pytest.raises(ParameterError, match="positive"):
        build_model("conv_v5", filters=(8, 0))
