"""The seed's ConvNet v5.1 autoencoder (``ORIGINAL_PIPELINE.md``).

Encoder: four strided 8x8 convolutions (128, 64, 32, 16 filters at the seed's sizes), flatten,
a 128-unit dense code with batch normalisation. Decoder: the mirror image with transposed
convolutions. With the seed's sizes the encoder has 959,344 parameters (959,088 trainable).

Two of the seed's choices are options. ``batch_norm=True`` normalises the code and the decoder's
first dense layer over each batch; with batches of ten windows their running statistics lag behind
the weights, and the error on new recordings jumps from epoch to epoch. ``activation="seed"``
applies a ReLU inside every convolution and a LeakyReLU after it, which leaves a plain ReLU (the
leak never sees a negative value); ``"leaky"`` keeps only the LeakyReLU.
"""

import keras
from keras import layers

from dolphin_ae.constants import SEED_LATENT_DIM, SEED_WINDOW_SHAPE
from dolphin_ae.exceptions import ParameterError

SEED_FILTERS = (128, 64, 32, 16)
LEAKY_SLOPE = 0.3
ACTIVATIONS = ("seed", "leaky")


def _check_shapes(input_shape, filters, activation="seed"):
    if activation not in ACTIVATIONS:
        raise ParameterError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if len(filters) < 1 or any(int(f) < 1 for f in filters):
        raise ParameterError(f"filters must be positive integers, got {filters!r}")
    factor = 2 ** len(filters)
    height, width = input_shape[:2]
    if height % factor or width % factor:
        raise ParameterError(
            f"input_shape {input_shape} must be divisible by 2**len(filters) = {factor} "
            "so that the decoder can mirror the encoder"
        )


def _dense_block(x, units, name, norm_name, batch_norm):
    x = layers.Dense(int(units), name=name)(x)
    if batch_norm:
        x = layers.BatchNormalization(name=norm_name)(x)
    return x


def build_conv_v5_encoder(*, input_shape=SEED_WINDOW_SHAPE, filters=SEED_FILTERS, kernel_size=8,
                          latent_dim=SEED_LATENT_DIM, activation="seed", batch_norm=True):
    """Encoder: (time frames, frequency bins, 1) window -> ``latent_dim`` code, layer ``"latent"``."""
    input_shape = tuple(int(s) for s in input_shape)
    _check_shapes(input_shape, filters, activation)
    inner = "relu" if activation == "seed" else None
    inputs = keras.Input(shape=input_shape, name="window")
    x = inputs
    for i, n_filters in enumerate(filters):
        x = layers.Conv2D(int(n_filters), kernel_size, strides=2, padding="same", activation=inner, name=f"conv_{i + 1}")(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"conv_{i + 1}_leaky")(x)
    x = layers.Flatten(name="flatten")(x)
    x = _dense_block(x, latent_dim, "code_dense", "code_norm", batch_norm)
    # float32 even under a mixed-precision policy, so that codes leave the model at full precision.
    code = layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name="latent", dtype="float32")(x)
    return keras.Model(inputs, code, name="encoder")


def build_conv_v5_decoder(*, output_shape=SEED_WINDOW_SHAPE, filters=SEED_FILTERS, kernel_size=8,
                          latent_dim=SEED_LATENT_DIM, output_activation="linear", activation="seed", batch_norm=True):
    """Decoder: ``latent_dim`` code -> reconstructed window, layer ``"reconstruction"``.

    ``output_activation="relu"`` is the seed's choice; the default is linear because the windows
    are z-normalised and about half their values are negative, which a ReLU output cannot produce.
    """
    output_shape = tuple(int(s) for s in output_shape)
    _check_shapes(output_shape, filters, activation)
    inner = "relu" if activation == "seed" else None
    factor = 2 ** len(filters)
    bottom = (output_shape[0] // factor, output_shape[1] // factor, int(filters[-1]))
    code = keras.Input(shape=(int(latent_dim),), name="code")
    x = _dense_block(code, bottom[0] * bottom[1] * bottom[2], "expand_dense", "expand_norm", batch_norm)
    x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name="expand_leaky")(x)
    x = layers.Reshape(bottom, name="unflatten")(x)
    for i, n_filters in enumerate(reversed(filters)):
        x = layers.Conv2DTranspose(int(n_filters), kernel_size, strides=2, padding="same", activation=inner,
                                   name=f"deconv_{i + 1}")(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"deconv_{i + 1}_leaky")(x)
    outputs = layers.Conv2DTranspose(output_shape[-1], kernel_size, strides=1, padding="same",
                                     activation=output_activation, name="reconstruction", dtype="float32")(x)
    return keras.Model(code, outputs, name="decoder")


def build_conv_v5(*, input_shape=SEED_WINDOW_SHAPE, filters=SEED_FILTERS, kernel_size=8,
                  latent_dim=SEED_LATENT_DIM, output_activation="linear", activation="seed", batch_norm=True):
    """The whole autoencoder ``"conv_v5"``: ``decoder(encoder(window))``, with both parts as layers.

    The defaults build the seed's model; the book trains ``activation="leaky", batch_norm=False``,
    which (with a decaying learning rate) reconstructs new recordings better than a PCA.
    """
    shared = {"filters": filters, "kernel_size": kernel_size, "latent_dim": latent_dim, "activation": activation,
              "batch_norm": batch_norm}
    encoder = build_conv_v5_encoder(input_shape=input_shape, **shared)
    decoder = build_conv_v5_decoder(output_shape=input_shape, output_activation=output_activation, **shared)
    inputs = keras.Input(shape=tuple(int(s) for s in input_shape), name="window")
    outputs = decoder(encoder(inputs))
    return keras.Model(inputs, outputs, name="conv_v5")
