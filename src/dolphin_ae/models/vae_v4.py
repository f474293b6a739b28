"""The seed's variational LSTM V4.2 (``ORIGINAL_PIPELINE.md``, "v4.2").

The v4.1 encoder up to its last LSTM (here ``"summary"``), then two dense heads of ``latent_dim``
units: the mean ``"latent"`` and the log-variance ``"log_variance"`` of a diagonal Gaussian. Training
decodes a sample ``z = mean + exp(log_variance / 2) * eps`` (``eps`` standard normal, drawn with
``keras.random`` from the model's own ``SeedGenerator``); inference decodes the mean. The loss per
window is ``reconstruction_weight`` (1000 in the seed) times the window's mean squared error, plus
the KL divergence of the Gaussian from the standard normal, averaged over the batch.

The custom loss lives in ``compute_loss``, written with ``keras.ops`` only. Every backend's own
``train_step`` (TensorFlow's gradient tape, JAX's stateless gradient, PyTorch's ``backward``) calls
``compute_loss``, so overriding it, rather than ``train_step`` itself, gives the seed's training
step on every backend without any backend call; a ``train_step`` override would need the backend's
gradient API. The KL term is added with ``add_loss`` in ``call``, which Keras collects on every
backend (on JAX through the stateless call's returned losses).

``get_layer("encoder")`` is a plain functional model, window -> mean code, so the later chapters use
a variational encoder exactly as any other.
"""

import keras
from keras import layers, ops

from dolphin_ae.constants import SEED_LATENT_DIM, SEED_WINDOW_SHAPE
from dolphin_ae.models.lstm_v4 import (
    V4_1_SIZES,
    _positive,
    _window_shape,
    build_lstm_v4_decoder,
    build_sequence_trunk,
    resolve_sizes,
)

SEED_RECONSTRUCTION_WEIGHT = 1000.0


def build_vae_posterior(*, input_shape=SEED_WINDOW_SHAPE, filters=256, kernel_size=8, lstm_units=128,
                        latent_dim=SEED_LATENT_DIM):
    """Window (frames, n_bins, 1) -> [mean (latent_dim,), log-variance (latent_dim,)], model ``"posterior"``."""
    input_shape = _window_shape(input_shape)
    _positive(filters=filters, kernel_size=kernel_size, lstm_units=lstm_units, latent_dim=latent_dim)
    window = keras.Input(shape=input_shape, name="window")
    sequence = build_sequence_trunk(window, filters=filters, kernel_size=kernel_size, lstm_units=lstm_units)
    summary = layers.LSTM(int(lstm_units), name="summary")(sequence)
    mean = layers.Dense(int(latent_dim), name="latent", dtype="float32")(summary)
    log_variance = layers.Dense(int(latent_dim), name="log_variance", dtype="float32")(summary)
    return keras.Model(window, [mean, log_variance], name="posterior")


def kl_divergence(mean, log_variance):
    """KL(N(mean, exp(log_variance)) || N(0, 1)) per window, summed over the code, shape (batch,).

    ``mean`` and ``log_variance`` are (batch, latent_dim) tensors or arrays (NumPy arrays too, on every backend).
    """
    mean, log_variance = ops.convert_to_tensor(mean, "float32"), ops.convert_to_tensor(log_variance, "float32")
    return -0.5 * ops.sum(1.0 + log_variance - ops.square(mean) - ops.exp(log_variance), axis=-1)


@keras.saving.register_keras_serializable(package="dolphin_ae")
class VariationalAutoencoder(keras.Model):
    """``decoder(sample(posterior(window)))`` with the seed's loss; see the module docstring.

    Parameters
    ----------
    posterior : keras.Model
        Window -> [mean, log-variance], with the mean's layer named ``"latent"``.
    decoder : keras.Model
        Code -> window.
    reconstruction_weight : float
        Weight of the per-window MSE against the KL term (the seed's 1000).
    seed : int
        Seed of the sampling noise.
    """

    def __init__(self, posterior, decoder, *, reconstruction_weight=SEED_RECONSTRUCTION_WEIGHT, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.posterior = posterior
        self.decoder = decoder
        # Shares the posterior's layers: the mean branch alone, as a plain encoder for later chapters.
        self.encoder = keras.Model(posterior.input, posterior.get_layer("latent").output, name="encoder")
        self.reconstruction_weight = float(reconstruction_weight)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")

    def call(self, window, training=False):
        mean, log_variance = self.posterior(window, training=training)
        self.add_loss(ops.mean(kl_divergence(mean, log_variance)))
        if training:
            noise = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator)
            code = mean + ops.exp(0.5 * log_variance) * noise
        else:
            code = mean
        return self.decoder(code, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """``reconstruction_weight`` x per-window MSE + KL, averaged over the batch (keras.ops only)."""
        error = ops.square(ops.cast(y, "float32") - ops.cast(y_pred, "float32"))
        per_window_mse = ops.mean(ops.reshape(error, (ops.shape(error)[0], -1)), axis=-1)
        reconstruction = self.reconstruction_weight * ops.mean(per_window_mse)
        kl = ops.sum(ops.stack([ops.cast(loss, "float32") for loss in self.losses])) if self.losses else 0.0
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return reconstruction + kl

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "posterior": keras.saving.serialize_keras_object(self.posterior),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "reconstruction_weight": self.reconstruction_weight,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        posterior = keras.saving.deserialize_keras_object(config.pop("posterior"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(posterior, decoder, **config)


def build_vae_v4_2(*, input_shape=SEED_WINDOW_SHAPE, filters=None, kernel_size=8, lstm_units=None, latent_dim=None,
                   decoder_units=None, output_activation="linear", reconstruction_weight=SEED_RECONSTRUCTION_WEIGHT,
                   seed=0, decoder_input="first_step"):
    """The autoencoder ``"vae_v4_2"``: v4.1's sizes (left at None) with a variational code."""
    filters, lstm_units, latent_dim, decoder_units = resolve_sizes(
        V4_1_SIZES, filters=filters, lstm_units=lstm_units, latent_dim=latent_dim, decoder_units=decoder_units)
    posterior = build_vae_posterior(input_shape=input_shape, filters=filters, kernel_size=kernel_size,
                                    lstm_units=lstm_units, latent_dim=latent_dim)
    decoder = build_lstm_v4_decoder(output_shape=input_shape, filters=filters, kernel_size=kernel_size,
                                    lstm_units=lstm_units, latent_dim=latent_dim, decoder_units=decoder_units,
                                    output_activation=output_activation, decoder_input=decoder_input)
    model = VariationalAutoencoder(posterior, decoder, reconstruction_weight=reconstruction_weight, seed=seed,
                                   name="vae_v4_2")
    model.build((None,) + tuple(int(s) for s in input_shape))
    return model
