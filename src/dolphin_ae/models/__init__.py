"""Autoencoder model families. One module per family; each builds named ``keras.Model`` objects."""

from dolphin_ae.models.conv_v5 import build_conv_v5, build_conv_v5_decoder, build_conv_v5_encoder

MODEL_BUILDERS = {"conv_v5": build_conv_v5}


def build_model(name, **kwargs):
    """Build the autoencoder called ``name`` (one of ``MODEL_BUILDERS``)."""
    from dolphin_ae.exceptions import ParameterError

    if name not in MODEL_BUILDERS:
        raise ParameterError(f"model must be one of {sorted(MODEL_BUILDERS)}, got {name!r}")
    return MODEL_BUILDERS[name](**kwargs)


__all__ = ["MODEL_BUILDERS", "build_model", "build_conv_v5", "build_conv_v5_encoder", "build_conv_v5_decoder"]
