"""Training objectives beyond the seed's MSE: their batches, the contrastive model and its loss.

The objectives and their settings are described in :mod:`dolphin_ae.train.objective_settings`;
:func:`dolphin_ae.train.training.train_autoencoder` trains any of them through an
:class:`ObjectiveRun`. Everything that runs inside the model is written with ``keras.ops`` only,
so it trains on the TensorFlow, JAX and PyTorch backends alike; the augmentations are NumPy, in
the batch generator.

The contrastive model (:class:`ContrastiveAutoencoder`) follows the variational model
(:mod:`dolphin_ae.models.vae_v4`): its loss lives in ``compute_loss``, which every backend's own
``train_step`` calls, so no backend's gradient API is needed. Its encoder (and, for
``contrastive_mse`` and ``supervised_mse``, decoder) are the autoencoder's own layers: training it
trains the autoencoder in place, and the chapters go on using ``get_layer("encoder")`` as for any other objective. Its
checkpoints hold the projection head as well; the head is dropped after training.
"""

import hashlib
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.train.augment import BackgroundPool, augment_view, mix_background, read_windows
from dolphin_ae.train.objective_settings import Objective, as_objective
from dolphin_ae.train.training import WindowBatches


def _unit(z):
    """Rows of ``z`` scaled to length 1, in float32."""
    z = ops.cast(z, "float32")
    return z / ops.sqrt(ops.sum(ops.square(z), axis=-1, keepdims=True) + 1e-12)


def nt_xent(first, second, temperature):
    """NT-Xent (SimCLR's normalised temperature-scaled cross entropy) of two views' projections.

    Both arrays have shape (batch, dim); row ``i`` of ``first`` and of ``second`` are views of the
    same window. Each of the ``2 batch`` rows, L2-normalised, is an anchor whose positive is the other
    view of its window and whose negatives are the other ``2 batch - 2`` rows; with cosine
    similarities ``s``, the anchor's loss is ``-log(exp(s_pos / T) / sum over all rows but itself
    exp(s / T))``. Returns the mean over the anchors, a scalar (float32).
    """
    first, second = _unit(first), _unit(second)
    both = ops.concatenate([first, second], axis=0)
    logits = ops.matmul(both, ops.transpose(both)) / temperature
    # An anchor is never its own negative.
    logits = logits - 1e9 * ops.eye(ops.shape(both)[0], dtype="float32")
    positive = ops.sum(first * second, axis=-1) / temperature
    return ops.mean(ops.logsumexp(logits, axis=-1) - ops.concatenate([positive, positive], axis=0))


def supervised_contrastive(first, second, labels, temperature):
    """SupCon (Khosla et al. 2020, their L_out) of two views' projections and their windows' labels.

    ``first`` and ``second`` have shape (batch, dim), rows ``i`` views of window ``i``; ``labels``
    (batch,) are integer classes. Each of the ``2 batch`` rows, L2-normalised, is an anchor; its
    positives are the other rows (of either view) of the same label, its own other view among them,
    and its denominator, as NT-Xent's, sums over every row but itself. An anchor's loss is
    ``-mean over its positives p of log(exp(s_p / T) / sum over all rows but itself exp(s / T))``;
    returns the mean over the anchors that have a positive (with two views, every one), a scalar
    (float32). With every label distinct it is :func:`nt_xent`.
    """
    first, second = _unit(first), _unit(second)
    both = ops.concatenate([first, second], axis=0)
    labels = ops.reshape(ops.convert_to_tensor(labels), (-1,))
    labels = ops.concatenate([labels, labels], axis=0)
    not_self = 1.0 - ops.eye(ops.shape(both)[0], dtype="float32")
    logits = ops.matmul(both, ops.transpose(both)) / temperature - 1e9 * (1.0 - not_self)
    log_probability = logits - ops.logsumexp(logits, axis=-1, keepdims=True)
    positive = ops.cast(ops.equal(labels[:, None], labels[None, :]), "float32") * not_self
    count = ops.sum(positive, axis=-1)
    # Zero times the diagonal's log probability (about -1e9 / T, finite) is zero: no NaN.
    per_anchor = -ops.sum(positive * log_probability, axis=-1) / ops.maximum(count, 1.0)
    has_positive = ops.cast(count > 0, "float32")
    return ops.sum(per_anchor * has_positive) / ops.maximum(ops.sum(has_positive), 1.0)


def build_projection_head(latent_dim, projection_dim):
    """Code (latent_dim,) -> projection (projection_dim,): dense ReLU of ``latent_dim`` units, dense; float32."""
    return keras.Sequential([
        keras.Input(shape=(int(latent_dim),), name="code"),
        layers.Dense(int(latent_dim), activation="relu", name="projection_hidden", dtype="float32"),
        layers.Dense(int(projection_dim), name="projection", dtype="float32"),
    ], name="projection_head")


class ContrastiveAutoencoder(keras.Model):
    """An autoencoder trained on NT-Xent or SupCon over its codes, optionally plus its reconstruction loss.

    Input: views of each window stacked on axis 1, shape (batch, n_views, frames, bins, 1). With
    ``reconstruction_weight`` None (``contrastive``, ``supervised``) the two views are encoded and
    projected; otherwise (``contrastive_mse``, ``supervised_mse``) view 0 is the clean window, which the autoencoder
    reconstructs, and views 1 and 2 are the augmented ones. The target ``y`` is the clean window;
    with ``supervised``, ``{"window": clean window, "label": class (batch,)}``.
    Loss: ``nt_xent`` of the two views' projections (with ``supervised``, ``supervised_contrastive``
    with the labels), plus ``reconstruction_weight`` times the autoencoder's loss on the clean window: its ``reconstruction_weight`` attribute (1 for the plain
    autoencoders, the variational model's 1000) times the mean per-window MSE, plus the losses its
    layers add (the variational model's KL term). Both parts are logged (``contrastive_loss``,
    ``reconstruction_loss``).

    Parameters
    ----------
    autoencoder : keras.Model
        Exposes ``get_layer("encoder")`` (window -> code); trained in place. With
        ``reconstruction_weight`` None its decoder is not part of this model and keeps its weights.
    projection_dim : int
    temperature : float
    reconstruction_weight : float or None
    supervised : bool
    """

    def __init__(self, autoencoder, *, projection_dim=64, temperature=0.2, reconstruction_weight=None,
                 supervised=False, **kwargs):
        super().__init__(**{"name": f"{autoencoder.name}_contrastive", **kwargs})
        self.encoder = autoencoder.get_layer("encoder")
        self.head = build_projection_head(self.encoder.output.shape[-1], projection_dim)
        self.temperature = float(temperature)
        self.supervised = bool(supervised)
        self.reconstruction_weight = None if reconstruction_weight is None else float(reconstruction_weight)
        self.contrastive_tracker = keras.metrics.Mean(name="contrastive_loss")
        if self.reconstruction_weight is not None:
            # Only then is the decoder part of this model; ``contrastive`` leaves it as it was.
            self.autoencoder = autoencoder
            self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        # Every variable exists already (the autoencoder and the head are built), so checkpoints load
        # before the first batch.
        self.built = True

    def call(self, views, training=False):
        window_shape = tuple(views.shape[2:])
        outputs = {}
        first = 0
        if self.reconstruction_weight is not None:
            outputs["reconstruction"] = self.autoencoder(views[:, 0], training=training)
            first = 1
        # (batch, 2, ...) -> (2 batch, ...): rows 2i and 2i + 1 are the two views of window i.
        augmented = ops.reshape(views[:, first : first + 2], (-1, *window_shape))
        projections = self.head(self.encoder(augmented, training=training), training=training)
        outputs["projections"] = ops.reshape(projections, (-1, 2, ops.shape(projections)[-1]))
        return outputs

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """NT-Xent or SupCon, plus the weighted reconstruction loss for ``*_mse`` (keras.ops only)."""
        projections = y_pred["projections"]
        if self.supervised:
            loss = supervised_contrastive(projections[:, 0], projections[:, 1], y["label"], self.temperature)
            y = y["window"]
        else:
            loss = nt_xent(projections[:, 0], projections[:, 1], self.temperature)
        # Weighted by the batch's size, as Keras weights the total loss over an epoch.
        size = ops.cast(ops.shape(projections)[0], "float32")
        self.contrastive_tracker.update_state(loss, sample_weight=size)
        if self.reconstruction_weight is None:
            return loss
        error = ops.square(ops.cast(y, "float32") - ops.cast(y_pred["reconstruction"], "float32"))
        per_window_mse = ops.mean(ops.reshape(error, (ops.shape(error)[0], -1)), axis=-1)
        reconstruction = float(getattr(self.autoencoder, "reconstruction_weight", 1.0)) * ops.mean(per_window_mse)
        if self.losses:
            reconstruction = reconstruction + ops.sum(ops.stack([ops.cast(extra, "float32") for extra in self.losses]))
        self.reconstruction_tracker.update_state(reconstruction, sample_weight=size)
        return loss + self.reconstruction_weight * reconstruction


class ObjectiveBatches(WindowBatches):
    """``WindowBatches`` whose inputs are made for an objective: noisy windows, or stacked views.

    ``denoising``: (noisy windows, clean windows), both (batch, frames, bins, 1). Contrastive:
    (views, clean windows), views (batch, 2, frames, bins, 1), or (batch, 3, ...) with the clean
    window first for ``contrastive_mse`` and ``supervised_mse``; for the supervised objectives the
    target is ``{"window": clean windows, "label": the windows' classes}``. The random draws of
    batch ``b`` come from a generator seeded with ``(seed, epoch, b, 1)``; without ``shuffle``
    (validation) with ``(seed, 0, b, 2)``, the same every epoch so that the validation loss
    compares across epochs.
    """

    def __init__(self, windows, indices, *, objective, pool=None, labels=None, **options):
        super().__init__(windows, indices, **options)
        self.objective = objective
        self.pool = pool
        self.labels = labels

    def _background(self, rng, chosen):
        return read_windows(self.windows, self.pool.draw(rng, chosen))

    def __getitem__(self, batch):
        chosen = self._chosen(batch)
        x = np.asarray(self.windows[chosen], dtype=np.float32)
        rng = np.random.default_rng([self.seed, self.epoch, batch, 1] if self.shuffle else [self.seed, 0, batch, 2])
        objective = self.objective
        if objective.name == "denoising":
            background = self._background(rng, chosen)
            gains = rng.uniform(*objective.denoise_gain, size=len(chosen))
            return mix_background(x, background, gains)[..., None], x[..., None]
        views = []
        for _ in range(2):
            background = self._background(rng, chosen) if objective.needs_background else None
            views.append(augment_view(x, rng, objective, background))
        if objective.reconstructs:
            views.insert(0, x)
        views = np.stack(views, axis=1)[..., None]
        if objective.supervised:
            return views, {"window": x[..., None], "label": self.labels[chosen]}
        return views, x[..., None]


def _objective_code():
    """Digest of the code of the objectives: this module, its settings and the augmentations."""
    here = Path(__file__).resolve().parent
    digest = hashlib.blake2b(digest_size=16)
    for name in ("objectives.py", "objective_settings.py", "augment.py"):
        digest.update(name.encode() + b"\0" + (here / name).read_bytes() + b"\0")
    return digest.hexdigest()


def _checked_labels(labels, name):
    """``labels`` as a 1-D int32 array, or a ParameterError that says what the objective needs."""
    if labels is None:
        raise ParameterError(f"objective {name!r} is supervised: pass labels (each window's class number, "
                             "window_classes(dataset.index['label']) of dolphin_ae.train.signal_type)")
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ParameterError(f"labels must be one class number per window, shape (n_windows,) of integers; got "
                             f"shape {labels.shape} of {labels.dtype}")
    return labels.astype(np.int32)


class ObjectiveRun:
    """One objective applied to one autoencoder: the model to fit, its loss, batches and key entries.

    Parameters
    ----------
    model : keras.Model
        The autoencoder; for the contrastive objectives wrapped in a :class:`ContrastiveAutoencoder`
        (``fit_model``), which shares its layers, else fitted itself.
    objective : str, Objective or None
        A name of ``OBJECTIVES`` (with default settings), an ``Objective``, or None for ``mse``.
    train_indices : array of window indices
    recordings, is_background : arrays of shape (n_windows,) or None
        Each window's recording and whether it is a background (silence) window; needed when the
        objective mixes in background (:class:`~dolphin_ae.train.augment.BackgroundPool`).
    labels : array of int, shape (n_windows,), or None
        Each window's class (``encode_labels`` of the clip labels); needed by the supervised
        objectives, which read those of the training and validation windows only.
    """

    def __init__(self, model, objective, train_indices, *, recordings=None, is_background=None, labels=None):
        self.objective = objective if isinstance(objective, Objective) else as_objective(objective)
        self.pool = None
        if self.objective.needs_background:
            if recordings is None or is_background is None:
                raise ParameterError(f"objective {self.objective.name!r} mixes in background windows of other "
                                     "recordings: pass recordings and is_background (one entry per window)")
            self.pool = BackgroundPool(recordings, is_background, train_indices)
        self.labels = None
        if self.objective.supervised:
            self.labels = _checked_labels(labels, self.objective.name)
        self.fit_model, self.loss = model, "mse"
        if self.objective.contrastive:
            weight = self.objective.contrastive_weight if self.objective.reconstructs else None
            self.fit_model = ContrastiveAutoencoder(model, projection_dim=self.objective.projection_dim,
                                                    temperature=self.objective.contrastive_temperature,
                                                    reconstruction_weight=weight, supervised=self.objective.supervised)
            self.loss = None

    def key(self, label_indices=None):
        """Entries of ``training_key`` for this objective: none for ``mse`` (the seed's key, unchanged);
        else the objective's settings, the digest of its code and of the background pool, and for the
        supervised objectives the digest of the labels at ``label_indices`` (the training and
        validation windows)."""
        if self.objective.name == "mse":
            return {}
        key = {"objective": self.objective.settings(), "objective_code": _objective_code(),
               "background_pool": self.pool.fingerprint() if self.pool is not None else None}
        if self.labels is not None:
            indices = np.asarray(label_indices if label_indices is not None else [], dtype=np.int64)
            key["labels"] = hashlib.blake2b(indices.tobytes() + self.labels[indices].tobytes(),
                                            digest_size=16).hexdigest()
        return key

    def batches(self, windows, indices, *, batch_size, shuffle=False, seed=0, start_epoch=0):
        """The batches of ``windows[indices]`` for this objective (``WindowBatches`` for ``mse``)."""
        options = dict(batch_size=batch_size, shuffle=shuffle, seed=seed, start_epoch=start_epoch)
        if self.objective.name == "mse":
            return WindowBatches(windows, indices, **options)
        return ObjectiveBatches(windows, indices, objective=self.objective, pool=self.pool, labels=self.labels,
                                **options)
