import keras
import pytest
from keras import layers

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.models import build_model, model_options
from dolphin_ae.models.flops import TRAINING_FACTOR, flops_by_layer, forward_flops, layer_forward_flops, training_flops


def _called(layer, input_shape):
    """``layer`` called once on a keras.Input of ``input_shape`` (without the batch axis)."""
    layer(keras.Input(shape=input_shape))
    return layer


def test_dense_is_two_flops_per_weight_product():
    assert layer_forward_flops(_called(layers.Dense(5), (7,))) == 2 * 7 * 5


def test_dense_on_a_sequence_counts_every_step():
    assert layer_forward_flops(_called(layers.Dense(5), (11, 7))) == 11 * 2 * 7 * 5


def test_conv2d_counts_each_output_position():
    layer = _called(layers.Conv2D(6, 3, strides=2, padding="same"), (16, 32, 4))
    assert layer.output.shape[1:] == (8, 16, 6)
    assert layer_forward_flops(layer) == 8 * 16 * 2 * 3 * 3 * 4 * 6


def test_conv2d_valid_padding_and_groups():
    layer = _called(layers.Conv2D(6, (3, 5), padding="valid", groups=2), (10, 12, 4))
    # 8 x 8 output positions; each filter sees 4 / 2 input channels.
    assert layer_forward_flops(layer) == 8 * 8 * 2 * 3 * 5 * 2 * 6


def test_conv1d():
    assert layer_forward_flops(_called(layers.Conv1D(3, 4, padding="same"), (20, 2))) == 20 * 2 * 4 * 2 * 3


def test_transposed_convolution_counts_each_input_position():
    layer = _called(layers.Conv2DTranspose(6, 8, strides=2, padding="same"), (4, 8, 3))
    assert layer.output.shape[1:] == (8, 16, 6)
    assert layer_forward_flops(layer) == 4 * 8 * 2 * 8 * 8 * 3 * 6


def test_recurrent_layers_count_gates_per_step():
    steps, features, units = 9, 5, 4
    per_gate = steps * 2 * units * (features + units)
    assert layer_forward_flops(_called(layers.LSTM(units), (steps, features))) == 4 * per_gate
    assert layer_forward_flops(_called(layers.GRU(units), (steps, features))) == 3 * per_gate
    assert layer_forward_flops(_called(layers.SimpleRNN(units), (steps, features))) == per_gate
    bidirectional = _called(layers.Bidirectional(layers.LSTM(units, return_sequences=True)), (steps, features))
    assert layer_forward_flops(bidirectional) == 2 * 4 * per_gate


def test_pooling_counts_each_window_element():
    assert layer_forward_flops(_called(layers.MaxPooling2D((1, 8)), (4, 16, 3))) == (4 * 2 * 3) * 8
    assert layer_forward_flops(_called(layers.AveragePooling2D(2), (4, 6, 3))) == (2 * 3 * 3) * 4
    assert layer_forward_flops(_called(layers.GlobalAveragePooling2D(), (4, 6, 3))) == 4 * 6 * 3


def test_upsampling():
    assert layer_forward_flops(_called(layers.UpSampling2D(2), (4, 6, 3))) == 0
    assert layer_forward_flops(_called(layers.UpSampling2D(2, interpolation="bilinear"), (4, 6, 3))) == 7 * 8 * 12 * 3


def test_elementwise_layers_count_zero():
    for layer in (layers.BatchNormalization(), layers.LeakyReLU(), layers.Flatten(), layers.Dropout(0.5)):
        assert layer_forward_flops(_called(layer, (4, 6, 3))) == 0


def test_unknown_layer_is_named_not_counted_as_free():
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, layers.Add(name="sum")([inputs, inputs]))
    with pytest.raises(ParameterError, match="'sum'.*Add"):
        forward_flops(model)


def test_uncalled_layer_is_an_error():
    with pytest.raises(ParameterError, match="never been called"):
        layer_forward_flops(layers.Dense(3))
    with pytest.raises(ParameterError, match="keras.Model"):
        forward_flops(layers.Dense(3))


def test_small_conv_v5_matches_a_hand_count():
    model = build_model("conv_v5", input_shape=(16, 32, 1), filters=(4, 2), kernel_size=3, latent_dim=8)
    hand = {
        "encoder/conv_1": (8 * 16) * 2 * 3 * 3 * 1 * 4,        # 1 -> 4 channels, stride 2: 8 x 16 outputs
        "encoder/conv_2": (4 * 8) * 2 * 3 * 3 * 4 * 2,         # 4 -> 2, 4 x 8 outputs
        "encoder/code_dense": 2 * (4 * 8 * 2) * 8,             # 64 -> 8
        "decoder/expand_dense": 2 * 8 * (4 * 8 * 2),           # 8 -> 64
        "decoder/deconv_1": (4 * 8) * 2 * 3 * 3 * 2 * 2,       # from 4 x 8 x 2, 2 filters
        "decoder/deconv_2": (8 * 16) * 2 * 3 * 3 * 2 * 4,      # from 8 x 16 x 2, 4 filters
        "decoder/reconstruction": (16 * 32) * 2 * 3 * 3 * 4 * 1,  # from 16 x 32 x 4, stride 1, 1 filter
    }
    counted = {path: flops for path, flops in flops_by_layer(model).items() if flops}
    assert counted == hand
    assert forward_flops(model) == 73_472 == sum(hand.values())
    assert training_flops(model) == TRAINING_FACTOR * 73_472


def test_small_lstm_v4_1_matches_a_hand_count():
    model = build_model("lstm_v4_1", input_shape=(6, 8, 1), filters=3, kernel_size=2, lstm_units=2, latent_dim=5,
                        decoder_units=4)
    lstm = lambda steps, features, units: steps * 2 * 4 * units * (features + units)  # noqa: E731
    hand = {
        "encoder/conv": (6 * 8) * 2 * 2 * 2 * 1 * 3,
        "encoder/pool_frequency": (6 * 1 * 3) * 8,
        "encoder/bilstm": 2 * lstm(6, 3, 2),
        "encoder/latent": lstm(6, 4, 5),
        "decoder/decoder_lstm": lstm(6, 5, 4),
        "decoder/decoder_bilstm": 2 * lstm(6, 4, 2),
        "decoder/to_bins": 6 * 2 * 4 * 8,                      # 2 x 2 features -> 8 bins at each of 6 steps
        "decoder/deconv": (6 * 8) * 2 * 2 * 2 * 1 * 3,
        "decoder/reconstruction": (6 * 8) * 2 * 1 * 1 * 3 * 1,
    }
    assert {path: flops for path, flops in flops_by_layer(model).items() if flops} == hand


def test_shared_layers_are_counted_once():
    # The variational model's encoder is its posterior's mean branch: the same layer objects.
    name = "vae_v4_2"
    model = build_model(name, **model_options(name, input_shape=(6, 8, 1), lstm_width=1 / 64, kernel_size=2,
                                              latent_dim=4))
    paths = list(flops_by_layer(model))
    assert len([path for path in paths if path.endswith("/conv")]) == 1
    assert any(path.startswith("posterior/") for path in paths)
