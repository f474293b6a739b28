"""Autoencoders trained side by side: the same windows, the same epochs, one table row each.

Every row trains here, on the same training and validation windows, for the same number of
epochs, and is scored on the same test windows against one PCA fitted on those training windows;
no row is read from another chapter's results.
"""

from dataclasses import dataclass, field

import keras
import numpy as np

from dolphin_ae.constants import SEED_LATENT_DIM
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.models import MODEL_BUILDERS, build_model, model_options
from dolphin_ae.train.objective_settings import Objective, as_objective
from dolphin_ae.train.evaluation import code_reach, mean_window_mse, pca_reconstruction_mse, reconstruction_mse
from dolphin_ae.train.silence import silence_metrics, train_silence_on_encoder
from dolphin_ae.train.training import precision_policy, train_autoencoder


@dataclass(frozen=True)
class Contender:
    """One row: ``model`` with its ConvNet layers (``conv_activation``, ``conv_batch_norm``; the LSTM
    models ignore them), its learning-rate schedule, its early-stopping ``patience`` (0: none) and
    its training ``objective`` (an :class:`~dolphin_ae.train.objective_settings.Objective` or a
    name; the seed's ``mse`` by default)."""

    label: str
    model: str
    conv_activation: str = "leaky"
    conv_batch_norm: bool = False
    lr_schedule: str = "cosine"
    patience: int = 0
    objective: Objective = field(default_factory=Objective)

    def __post_init__(self):
        object.__setattr__(self, "objective", as_objective(self.objective))

    def settings(self):
        """The row's training and layer choices in words (the objective named unless it is ``mse``)."""
        training = f"{self.lr_schedule} rate, patience {self.patience}" if self.patience else f"{self.lr_schedule} rate"
        if self.objective.name != "mse":
            training = f"{training}, {self.objective.name} objective"
        if self.model != "conv_v5":
            return training
        norm = "batch norm" if self.conv_batch_norm else "no batch norm"
        return f"{self.conv_activation} activation, {norm}, {training}"


# The columns of a comparison row measured with a clock: they differ from run to run at the same seed,
# so a chapter records them in the manifest, not among the metrics that must repeat.
WALL_CLOCK_COLUMNS = ("training s per epoch", "training windows per s")


def chapter_contenders(compare_models, *, conv_activation="leaky", conv_batch_norm=False, lr_schedule="cosine",
                       compare_seed_conv=True, model="conv_v5", patience=0, objective="mse"):
    """The rows of the model comparison chapter, from its parameters.

    Parameters
    ----------
    compare_models : sequence of str
        One row each, under its own name, with the chapter's ConvNet layers and schedule and no patience.
    conv_activation, conv_batch_norm, lr_schedule : str, bool, str
        The chapter's ConvNet layers and learning-rate schedule.
    compare_seed_conv : bool
        Add ``"conv_v5 as the seed"``: ReLU inside each convolution, batch norm, a constant rate.
    model, patience : str, int
        The autoencoder chapter's model and early stopping.
    objective : str or Objective
        The autoencoder chapter's training objective (with its settings). The last row,
        ``"<model> as in chapter 02 (<objective>)"``, trains with it; every other row with ``mse``.

    Returns
    -------
    list of Contender
        In that order; the last one is the autoencoder chapter's row.
    """
    objective = as_objective(objective)
    contenders = [Contender(name, name, conv_activation, conv_batch_norm, lr_schedule) for name in compare_models]
    if compare_seed_conv:
        contenders.append(Contender("conv_v5 as the seed", "conv_v5", "seed", True, "constant"))
    contenders.append(Contender(f"{model} as in chapter 02 ({objective.name})", model, conv_activation, conv_batch_norm,
                                lr_schedule, patience, objective))
    return contenders


def best_row(rows, measure="test MSE"):
    """The label of the row of ``rows`` (``compare_autoencoders``) with the lowest ``measure``; the first on ties."""
    return min(rows, key=lambda label: rows[label][measure])


def compare_autoencoders(windows, is_silence, contenders, *, train_indices, validation_indices, test_indices,
                         sizes, epochs, batch_size=10, learning_rate=1e-3, jit_compile=False, mixed_precision=False,
                         silence_epochs=32, silence_batch_size=10, checkpoint_dir=None, seed=0, recordings=None,
                         labels=None):
    """Train each of ``contenders`` and score it on the test windows; returns ``(rows, pca_mse)``.

    Parameters
    ----------
    windows : np.ndarray, shape (n_windows, frames, bins)
        Normalised windows (memory-mapped is fine).
    is_silence : np.ndarray of bool, shape (n_windows,)
        Truth of the silence heads.
    contenders : sequence of Contender
        One row each, labels unique.
    train_indices, validation_indices, test_indices : arrays of window indices
        Shared by every row.
    sizes : dict
        ``model_options`` keywords shared by every row: ``conv_filters``, ``lstm_width``,
        ``kernel_size``, ``latent_dim``, ``output_activation``, ``decoder_input`` (the LSTM models').
    epochs : int
        Training epochs of every row (fewer only where a row's ``patience`` stops it early).
    recordings : array of shape (n_windows,) or None
        Each window's recording (``dataset.index["recording"]``). Needed when a row's objective
        draws background windows (``Objective.needs_background``): they are silence windows
        (``is_silence``) of training recordings other than the example's.
    labels : array of int, shape (n_windows,), or None
        Each window's class number (``encode_labels`` of ``dataset.index["label"]``). Needed when a
        row's objective is supervised; the training and validation windows' are read.

    Returns
    -------
    rows : dict
        Label -> sizes, settings, encoder and autoencoder parameters, training windows, epochs,
        training s per epoch (median after the first, which includes tracing), training windows
        per s, test MSE, PCA test MSE, test MSE / PCA MSE, mean-window test MSE (``mean_window_mse``),
        test MSE / mean-window MSE (1: the model has collapsed to the mean window), silence balanced accuracy (a silence head
        on the frozen encoder, threshold 0.5, test windows). A row trained on ``contrastive`` never
        trains its decoder, so its test MSE is that of an untrained decoder.
    pca_mse : float
        Test MSE of a PCA with ``latent_dim`` components fitted on the training windows.
    """
    row_labels = [contender.label for contender in contenders]
    if len(set(row_labels)) != len(row_labels):
        raise ParameterError(f"the compared rows need distinct labels, got {row_labels}")
    for contender in contenders:
        if contender.model not in MODEL_BUILDERS:
            raise ParameterError(f"compare_models: {contender.model!r} is not one of {sorted(MODEL_BUILDERS)}")
        if contender.objective.needs_background and recordings is None:
            raise ParameterError(f"row {contender.label!r}: the {contender.objective.name} objective mixes in background "
                                 f"windows of other recordings; pass each window's recordings")
        if contender.objective.supervised and labels is None:
            raise ParameterError(f"row {contender.label!r}: the {contender.objective.name} objective is supervised; "
                                 "pass labels (each window's class number)")
    latent_dim = int(sizes.get("latent_dim", SEED_LATENT_DIM))
    pca_mse = pca_reconstruction_mse(windows, train_indices, test_indices, n_components=latent_dim, seed=seed)
    mean_mse = mean_window_mse(windows, train_indices, test_indices)
    is_silence = np.asarray(is_silence)
    rows = {}
    for contender in contenders:
        keras.utils.set_random_seed(seed)
        options = model_options(contender.model, input_shape=tuple(windows.shape[1:]) + (1,), **sizes,
                                conv_activation=contender.conv_activation, conv_batch_norm=contender.conv_batch_norm,
                                seed=seed)
        with precision_policy(mixed_precision):
            autoencoder = build_model(contender.model, **options)
        history = train_autoencoder(autoencoder, windows, train_indices, validation_indices=validation_indices,
                                    epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                                    lr_schedule=contender.lr_schedule, patience=contender.patience,
                                    jit_compile=jit_compile, checkpoint_dir=checkpoint_dir, seed=seed, verbose=0,
                                    objective=contender.objective, recordings=recordings, is_background=is_silence,
                                    labels=labels)
        encoder = autoencoder.get_layer("encoder")
        probability = train_silence_on_encoder(encoder, windows, is_silence, train_indices, test_indices,
                                               epochs=silence_epochs, batch_size=silence_batch_size,
                                               seed=seed).probability
        seconds = float(np.median(history["epoch_seconds"][1:] or history["epoch_seconds"]))
        test_mse = reconstruction_mse(autoencoder, windows, test_indices)
        rows[contender.label] = {
            "sizes": ", ".join(f"{k} {v}" for k, v in options.items()
                               if k in ("filters", "lstm_units", "decoder_units") and v is not None) or "seed sizes",
            "settings": contender.settings(),
            "encoder parameters": encoder.count_params(),
            "autoencoder parameters": autoencoder.count_params(),
            "training windows": int(len(train_indices)),
            "epochs": len(history["loss"]),
            "training s per epoch": seconds,
            "training windows per s": len(train_indices) / seconds,
            "test MSE": test_mse,
            "PCA test MSE": pca_mse,
            "test MSE / PCA MSE": test_mse / pca_mse,
            "mean-window test MSE": mean_mse,
            "test MSE / mean-window MSE": test_mse / mean_mse,
            "silence balanced accuracy": silence_metrics(is_silence[test_indices],
                                                         probability >= 0.5)["balanced_accuracy"],
        }
    return rows, pca_mse


def decoder_reach(windows, indices, model, sizes, decoder_inputs, *, n_parts=4, seed=0):
    """``code_reach`` of an untrained ``model`` (an LSTM V4 one) for each of ``decoder_inputs``.

    Each model is built with ``sizes`` (as ``compare_autoencoders``) and the same initial weights;
    its encoder codes ``windows[indices]`` and its decoder decodes them. Returns a dict
    decoder input -> array of shape (n_parts,): how much the decoding changes with the code, in
    each part of the frames, before any training.
    """
    reach = {}
    x = np.asarray(windows[np.sort(indices)], dtype=np.float32)[..., None]
    for decoder_input in decoder_inputs:
        keras.utils.set_random_seed(seed)
        options = model_options(model, input_shape=x.shape[1:], **{**sizes, "decoder_input": decoder_input}, seed=seed)
        autoencoder = build_model(model, **options)
        codes = autoencoder.get_layer("encoder").predict(x, verbose=0)
        reach[decoder_input] = code_reach(autoencoder.get_layer("decoder"), codes, n_parts=n_parts)
    return reach
