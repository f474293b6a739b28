"""Classifier heads on a frozen encoder: which part stays frozen, and how to train the rest fast.

The seed froze the encoder under its classifiers, except in the LSTM V4 models, where the last LSTM
stayed trainable. ``split_encoder`` cuts an encoder there: a *frozen* model (window -> the input
sequence of its last recurrent layer) and a trainable *tail* (a copy of that layer and the layers
after it, starting from the encoder's weights). A ConvNet has no recurrent layer: everything is
frozen and the tail is None.

The frozen part runs in inference mode and never changes, so its outputs (the *features*) are
computed once per window, and only the tail and head train on them: the same computation as
training the stacked model with frozen layers, without running the convolution every epoch. For
a ConvNet the features are the codes themselves (latent_dim numbers per window); for an LSTM V4
they are sequences (frames, 2 x lstm_units), 128 KiB per window at the seed's sizes, held in
memory.
"""

import keras
import numpy as np
from keras import layers

from dolphin_ae.exceptions import ParameterError


def split_encoder(encoder):
    """Cut ``encoder`` before its last recurrent layer.

    Parameters
    ----------
    encoder : keras.Model
        Window -> code; a chain of layers from its last recurrent layer on.

    Returns
    -------
    frozen : keras.Model
        Window -> features; not trainable. The encoder itself when it has no recurrent layer.
    tail : keras.Model or None
        Features -> code (``"tail"``), a trainable copy of the last recurrent layer and those after it,
        holding the encoder's weights; None when the encoder has no recurrent layer.
    """
    recurrent = [i for i, layer in enumerate(encoder.layers) if isinstance(layer, keras.layers.RNN)]
    if not recurrent:
        encoder.trainable = False
        return encoder, None
    first = encoder.layers[recurrent[-1]]
    frozen = keras.Model(encoder.input, first.input, name="frozen_encoder")
    frozen.trainable = False
    features = keras.Input(shape=tuple(first.input.shape[1:]), name="features")
    x, copies = features, []
    for layer in encoder.layers[recurrent[-1]:]:
        copy = layer.__class__.from_config(layer.get_config())
        x = copy(x)
        copies.append((copy, layer))
    if tuple(x.shape[1:]) != tuple(encoder.output.shape[1:]):
        raise ParameterError(f"the layers of {encoder.name!r} after its last recurrent layer are not a chain "
                             f"ending in its code: they give {tuple(x.shape[1:])}, the code is "
                             f"{tuple(encoder.output.shape[1:])}")
    for copy, layer in copies:
        copy.set_weights(layer.get_weights())
    return frozen, keras.Model(features, x, name="tail")


def build_dense_head(*, input_dim, n_outputs, activation, output_name, dropout=0.5, name="head"):
    """The seed's head: BatchNorm -> Dense 64 -> Dense 32 -> Dropout -> Dense ``n_outputs``.

    Input (input_dim,), output (n_outputs,) from the layer ``output_name``.
    """
    code = keras.Input(shape=(int(input_dim),), name="code")
    x = layers.BatchNormalization(name="head_norm")(code)
    x = layers.Dense(64, activation="relu", name="head_dense_64")(x)
    x = layers.Dense(32, activation="relu", name="head_dense_32")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    output = layers.Dense(int(n_outputs), activation=activation, name=output_name, dtype="float32")(x)
    return keras.Model(code, output, name=name)


def on_features(head, tail=None):
    """The trainable model: features -> ``head(tail(features))`` (or ``head`` alone without a tail)."""
    if tail is None:
        return head
    features = keras.Input(shape=tuple(tail.input.shape[1:]), name="features")
    return keras.Model(features, head(tail(features)), name=f"{head.name}_on_features")


def on_windows(frozen, head, *, tail=None, name):
    """Window -> ``head(tail(frozen(window)))``: the classifier for new recordings."""
    frozen.trainable = False
    window = keras.Input(shape=tuple(frozen.input.shape[1:]), name="window")
    x = frozen(window, training=False)
    if tail is not None:
        x = tail(x)
    return keras.Model(window, head(x), name=name)


def class_weights(targets, n_classes):
    """``{class: n / (n_classes * count)}``: every class weighs as much as any other in the loss."""
    counts = np.bincount(np.asarray(targets, dtype=int), minlength=n_classes)
    return {k: (len(targets) / (n_classes * counts[k]) if counts[k] else 0.0) for k in range(n_classes)}


def train_head(model, features, targets, *, loss, epochs=64, batch_size=10, learning_rate=1e-3, class_weight=None,
               seed=0, verbose=0):
    """Fit ``model`` (features -> prediction) with Adam; returns the per-epoch history as lists.

    Parameters
    ----------
    features : np.ndarray, shape (n, ...) matching ``model``'s input
    targets : np.ndarray, shape (n,) or (n, k)
    """
    features = np.asarray(features, dtype=np.float32)
    targets = np.asarray(targets)
    expected = tuple(model.input.shape[1:])
    if features.shape[1:] != expected or features.shape[0] != targets.shape[0]:
        raise ParameterError(f"features must be (n,) + {expected} with one target each, got {features.shape} and "
                             f"{targets.shape}")
    if epochs < 1:
        raise ParameterError(f"epochs must be at least 1, got {epochs}")
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"])
    history = model.fit(features, targets, epochs=epochs, batch_size=batch_size, class_weight=class_weight,
                        shuffle=True, verbose=verbose)
    return {key: [float(v) for v in values] for key, values in history.history.items()}
