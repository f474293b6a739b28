"""The seed's LSTM V4 autoencoders, v4.1 and v4.3 (``ORIGINAL_PIPELINE.md``, "LSTM V4").

"An LSTM stack on top of a single layer conv net as an encoder, the output is a single vector;
a one to many LSTM as a decoder followed by a deconvolution layer."

Encoder, for a window of ``frames`` x ``n_bins`` (128 x 256):

- ``conv``: Conv2D, ``filters`` kernels of 8 x 8, stride 1, same padding, ReLU
  -> (frames, n_bins, filters);
- ``pool_frequency``: max-pool over the whole frequency axis, pool (1, n_bins) -> (frames, 1, filters);
- ``to_sequence``: reshape to a sequence (frames, filters);
- ``sequence_norm``: batch normalisation over the ``filters`` features;
- ``bilstm``: bidirectional LSTM(``lstm_units``), whole sequence -> (frames, 2 * lstm_units);
- ``latent``: LSTM(``latent_dim``), last step only -> the code (latent_dim,).

Parameter counts (an LSTM of ``u`` units on ``d`` inputs has ``4 u (d + u + 1)``; Keras counts
batch normalisation's moving mean and variance, so it has ``4 d``):

==================  ===============================  =============================
layer               v4.1 (256 filters)               v4.3 (128 filters)
==================  ===============================  =============================
conv                8*8*1*256 + 256 = 16,640         8*8*1*128 + 128 = 8,320
sequence_norm       4 * 256 = 1,024                  4 * 128 = 512
bilstm              2 * 4*128*(256+128+1) = 394,240  2 * 4*128*(128+128+1) = 263,168
latent              4*128*(256+128+1) = 197,120      4*128*(256+128+1) = 197,120
**encoder**         **609,024**                      **469,120**
==================  ===============================  =============================

Both totals are the seed's printed counts, which fixes the reading of its layer list: the max-pool
spans all 256 frequency bins (so the sequence has ``filters`` features, not 256 x filters), and the
batch normalisation comes after the reshape, over those features.

Decoder, one-to-many: the code is placed at time step 0 and the other ``frames - 1`` steps are
zeros -> LSTM(``decoder_units``) -> bidirectional LSTM(``lstm_units``) -> reshape to
(frames, n_bins, 1) -> Conv2DTranspose ``filters`` 8 x 8 ReLU -> Conv2DTranspose 1 x 1 (the
``"reconstruction"`` layer). The reshape needs ``2 * lstm_units == n_bins`` (as at the seed's sizes,
2 x 128 = 256); a narrowed model adds a per-step dense layer ``to_bins`` that maps the
``2 * lstm_units`` features to ``n_bins``.

The seed's decoder input (``decoder_input="first_step"``, the builders' default) makes the
decoder learn the mean window and stop there: untrained, the code's effect on the decoding fades by
orders of magnitude along the frames (``dolphin_ae.train.evaluation.code_reach``), so most frames
are decoded alike whatever the code, the encoder gets a vanishing share of the gradient, and a
higher learning rate or larger windows do not move it (``bench/lstm_collapse.py``,
``bench/RESULTS.md``). ``decoder_input="repeat"`` gives the decoder LSTM the code at every step
(Keras's ``RepeatVector``): the same weights and parameter count, the code reaching every frame;
the chapters use it. The encoder is the seed's either way; note that its max-pool over every
frequency bin keeps what its kernels found and when, not at what frequency (the same line at two
pitches gets one code), which caps how well any LSTM V4 model can reconstruct a window.

v4.1: 256 filters, decoder LSTM 256. v4.3: 128 filters, decoder LSTM 128, linear output. The seed
gave v4.1 a ReLU output; the default here is linear for both, because the windows are z-normalised
and about half their values are negative (``output_activation="relu"`` restores the seed's).
"""

import keras
from keras import layers

from dolphin_ae.constants import SEED_LATENT_DIM, SEED_WINDOW_SHAPE
from dolphin_ae.exceptions import ParameterError

V4_1_SIZES = {"filters": 256, "lstm_units": 128, "latent_dim": 128, "decoder_units": 256}
V4_3_SIZES = {"filters": 128, "lstm_units": 128, "latent_dim": 128, "decoder_units": 128}


def _positive(**values):
    for name, value in values.items():
        if int(value) < 1:
            raise ParameterError(f"{name} must be a positive integer, got {value!r}")


def _window_shape(input_shape):
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or shape[-1] != 1 or min(shape) < 1:
        raise ParameterError(f"input_shape must be (frames, n_bins, 1), got {input_shape!r}")
    return shape


def build_sequence_trunk(window, *, filters, kernel_size, lstm_units):
    """The part every LSTM V4 encoder shares: conv, pool over frequency, norm, BiLSTM.

    Parameters
    ----------
    window : KerasTensor, shape (batch, frames, n_bins, 1)

    Returns
    -------
    KerasTensor, shape (batch, frames, 2 * lstm_units)
    """
    frames, n_bins = window.shape[1], window.shape[2]
    x = layers.Conv2D(int(filters), kernel_size, strides=1, padding="same", activation="relu", name="conv")(window)
    x = layers.MaxPooling2D(pool_size=(1, n_bins), name="pool_frequency")(x)
    x = layers.Reshape((frames, int(filters)), name="to_sequence")(x)
    x = layers.BatchNormalization(name="sequence_norm")(x)
    return layers.Bidirectional(layers.LSTM(int(lstm_units), return_sequences=True), name="bilstm")(x)


def build_lstm_v4_encoder(*, input_shape=SEED_WINDOW_SHAPE, filters=256, kernel_size=8, lstm_units=128,
                          latent_dim=SEED_LATENT_DIM):
    """Encoder: window (frames, n_bins, 1) -> code (latent_dim,), the last LSTM ``"latent"``."""
    input_shape = _window_shape(input_shape)
    _positive(filters=filters, kernel_size=kernel_size, lstm_units=lstm_units, latent_dim=latent_dim)
    window = keras.Input(shape=input_shape, name="window")
    sequence = build_sequence_trunk(window, filters=filters, kernel_size=kernel_size, lstm_units=lstm_units)
    # float32 even under a mixed-precision policy, so that codes leave the model at full precision.
    code = layers.LSTM(int(latent_dim), name="latent", dtype="float32")(sequence)
    return keras.Model(window, code, name="encoder")


DECODER_INPUTS = ("first_step", "repeat")


def build_lstm_v4_decoder(*, output_shape=SEED_WINDOW_SHAPE, filters=256, kernel_size=8, lstm_units=128,
                          latent_dim=SEED_LATENT_DIM, decoder_units=256, output_activation="linear",
                          decoder_input="first_step"):
    """One-to-many decoder: code (latent_dim,) -> window (frames, n_bins, 1), layer ``"reconstruction"``.

    ``decoder_input`` is what the decoder LSTM reads at each of the ``frames`` steps:
    ``"first_step"`` (the seed's) the code at step 0 and zeros after (layers ``"code_at_step_0"``,
    ``"zeros_after"``); ``"repeat"`` the code at every step (layer ``"code_at_every_step"``). Both
    have the same weights and parameter count. See the module docstring for why ``"repeat"``.
    """
    frames, n_bins, _ = _window_shape(output_shape)
    _positive(filters=filters, kernel_size=kernel_size, lstm_units=lstm_units, latent_dim=latent_dim,
              decoder_units=decoder_units)
    if decoder_input not in DECODER_INPUTS:
        raise ParameterError(f"decoder_input must be one of {DECODER_INPUTS}, got {decoder_input!r}")
    code = keras.Input(shape=(int(latent_dim),), name="code")
    if decoder_input == "repeat":
        x = layers.RepeatVector(frames, name="code_at_every_step")(code)
    else:
        x = layers.Reshape((1, int(latent_dim)), name="code_at_step_0")(code)
        x = layers.ZeroPadding1D(padding=(0, frames - 1), name="zeros_after")(x)
    x = layers.LSTM(int(decoder_units), return_sequences=True, name="decoder_lstm")(x)
    x = layers.Bidirectional(layers.LSTM(int(lstm_units), return_sequences=True), name="decoder_bilstm")(x)
    if 2 * int(lstm_units) != n_bins:
        x = layers.Dense(n_bins, name="to_bins")(x)
    x = layers.Reshape((frames, n_bins, 1), name="to_image")(x)
    x = layers.Conv2DTranspose(int(filters), kernel_size, strides=1, padding="same", activation="relu",
                               name="deconv")(x)
    outputs = layers.Conv2DTranspose(1, 1, strides=1, padding="same", activation=output_activation,
                                     name="reconstruction", dtype="float32")(x)
    return keras.Model(code, outputs, name="decoder")


def resolve_sizes(sizes, **given):
    """(filters, lstm_units, latent_dim, decoder_units): each given size, or ``sizes``' where it is None."""
    return tuple(sizes[key] if given.get(key) is None else given[key]
                 for key in ("filters", "lstm_units", "latent_dim", "decoder_units"))


def _build(name, sizes, *, input_shape, filters, kernel_size, lstm_units, latent_dim, decoder_units,
           output_activation, decoder_input):
    filters, lstm_units, latent_dim, decoder_units = resolve_sizes(
        sizes, filters=filters, lstm_units=lstm_units, latent_dim=latent_dim, decoder_units=decoder_units)
    encoder = build_lstm_v4_encoder(input_shape=input_shape, filters=filters, kernel_size=kernel_size,
                                    lstm_units=lstm_units, latent_dim=latent_dim)
    decoder = build_lstm_v4_decoder(output_shape=input_shape, filters=filters, kernel_size=kernel_size,
                                    lstm_units=lstm_units, latent_dim=latent_dim, decoder_units=decoder_units,
                                    output_activation=output_activation, decoder_input=decoder_input)
    window = keras.Input(shape=tuple(int(s) for s in input_shape), name="window")
    return keras.Model(window, decoder(encoder(window)), name=name)


def build_lstm_v4_1(*, input_shape=SEED_WINDOW_SHAPE, filters=None, kernel_size=8, lstm_units=None, latent_dim=None,
                    decoder_units=None, output_activation="linear", decoder_input="first_step"):
    """The autoencoder ``"lstm_v4_1"``; sizes left at None take the seed's (``V4_1_SIZES``)."""
    return _build("lstm_v4_1", V4_1_SIZES, input_shape=input_shape, filters=filters, kernel_size=kernel_size,
                  lstm_units=lstm_units, latent_dim=latent_dim, decoder_units=decoder_units,
                  output_activation=output_activation, decoder_input=decoder_input)


def build_lstm_v4_3(*, input_shape=SEED_WINDOW_SHAPE, filters=None, kernel_size=8, lstm_units=None, latent_dim=None,
                    decoder_units=None, output_activation="linear", decoder_input="first_step"):
    """The autoencoder ``"lstm_v4_3"``; sizes left at None take the seed's (``V4_3_SIZES``)."""
    return _build("lstm_v4_3", V4_3_SIZES, input_shape=input_shape, filters=filters, kernel_size=kernel_size,
                  lstm_units=lstm_units, latent_dim=latent_dim, decoder_units=decoder_units,
                  output_activation=output_activation, decoder_input=decoder_input)
