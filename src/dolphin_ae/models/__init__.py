"""Autoencoder model families. One module per family; each builds named ``keras.Model`` objects.

Every autoencoder built here exposes ``get_layer("encoder")`` (window -> code, last layer
``"latent"``) and ``get_layer("decoder")`` (code -> window).
"""

from dolphin_ae.constants import SEED_LATENT_DIM
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.models.conv_v5 import SEED_FILTERS, build_conv_v5, build_conv_v5_decoder, build_conv_v5_encoder
from dolphin_ae.models.lstm_v4 import V4_1_SIZES, V4_3_SIZES, build_lstm_v4_1, build_lstm_v4_3, build_lstm_v4_decoder, build_lstm_v4_encoder
from dolphin_ae.models.vae_v4 import VariationalAutoencoder, build_vae_v4_2

MODEL_BUILDERS = {
    "conv_v5": build_conv_v5,
    "lstm_v4_1": build_lstm_v4_1,
    "lstm_v4_3": build_lstm_v4_3,
    "vae_v4_2": build_vae_v4_2,
}
LSTM_MODELS = ("lstm_v4_1", "lstm_v4_3", "vae_v4_2")


def build_model(name, **kwargs):
    """Build the autoencoder called ``name`` (one of ``MODEL_BUILDERS``)."""
    if name not in MODEL_BUILDERS:
        raise ParameterError(f"model must be one of {sorted(MODEL_BUILDERS)}, got {name!r}")
    return MODEL_BUILDERS[name](**kwargs)


def model_options(name, *, input_shape, conv_filters=SEED_FILTERS, lstm_width=1.0, kernel_size=8,
                  latent_dim=SEED_LATENT_DIM, output_activation="linear", conv_activation="seed", conv_batch_norm=True,
                  seed=0, decoder_input="first_step"):
    """The keyword sizes of ``build_model(name, ...)`` from the chapters' flat parameters.

    ``conv_filters``, ``conv_activation`` and ``conv_batch_norm`` shape ConvNet v5 (its ``filters``,
    ``activation`` and ``batch_norm``; the other models ignore them). ``lstm_width`` scales the LSTM
    V4 family's filters and units from the seed's (v4.1 and v4.2: 256 filters, 128 units, decoder
    LSTM 256; v4.3: 128, 128, 128), rounded, at least 1 each, so that narrowed models keep the
    family's proportions; the code keeps ``latent_dim`` numbers whatever the width.
    """
    if name not in MODEL_BUILDERS:
        raise ParameterError(f"model must be one of {sorted(MODEL_BUILDERS)}, got {name!r}")
    options = {"input_shape": tuple(int(s) for s in input_shape), "kernel_size": int(kernel_size),
               "latent_dim": int(latent_dim), "output_activation": output_activation}
    if name == "conv_v5":
        return {**options, "filters": tuple(int(f) for f in conv_filters), "activation": conv_activation,
                "batch_norm": bool(conv_batch_norm)}
    if not 0 < float(lstm_width) <= 64:
        raise ParameterError(f"lstm_width must be a positive scale of the seed's sizes (1: the seed's), got {lstm_width}")
    seed_sizes = V4_3_SIZES if name == "lstm_v4_3" else V4_1_SIZES
    for key in ("filters", "lstm_units", "decoder_units"):
        options[key] = max(1, int(round(seed_sizes[key] * float(lstm_width))))
    options["decoder_input"] = decoder_input
    if name == "vae_v4_2":
        options["seed"] = int(seed)
    return options


__all__ = ["MODEL_BUILDERS", "LSTM_MODELS", "build_model", "model_options", "build_conv_v5",
           "build_conv_v5_encoder", "build_conv_v5_decoder", "build_lstm_v4_1", "build_lstm_v4_3",
           "build_lstm_v4_encoder", "build_lstm_v4_decoder", "build_vae_v4_2", "VariationalAutoencoder"]
