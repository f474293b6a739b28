"""The silence detector: a small dense head on the frozen encoder's code, and its baseline.

As in the seed: encoder frozen -> BatchNorm -> Dense 64 -> Dense 32 -> Dropout 0.5 -> Dense 1
(sigmoid), binary cross-entropy, threshold 0.5. Class 1 is silence (``noise`` windows).
For the LSTM V4 encoders the last LSTM stays trainable, as in the seed (``heads.split_encoder``).
Because the frozen part runs in inference mode, training on its outputs computed once is the same
computation as training the stacked model, only faster; the stacked model is assembled afterwards
for use on new recordings.
"""

from dataclasses import dataclass

import numpy as np

from dolphin_ae.constants import SEED_LATENT_DIM
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.train.heads import build_dense_head, class_weights, on_features, on_windows, split_encoder, train_head
from dolphin_ae.train.training import predict_windows


def build_silence_head(*, latent_dim=SEED_LATENT_DIM, dropout=0.5):
    """Dense head: code (latent_dim,) -> probability of silence, output layer ``"silence_probability"``."""
    return build_dense_head(input_dim=latent_dim, n_outputs=1, activation="sigmoid", output_name="silence_probability",
                            dropout=dropout, name="silence_head")


def build_silence_detector(encoder, head, *, tail=None):
    """Window -> probability of silence: the frozen ``encoder`` (or frozen part), ``tail`` if any, ``head``."""
    return on_windows(encoder, head, tail=tail, name="silence_detector")


def train_silence_head(head, codes, is_silence, *, epochs=64, batch_size=10, learning_rate=1e-3, balanced=True,
                       seed=0, verbose=0):
    """Fit ``head`` on features (n, ...) and labels (n,) with binary cross-entropy.

    ``head`` is the dense head on codes (n, latent_dim), or the trainable tail and head together on
    the frozen part's features (``heads.on_features``). ``balanced`` weights each class by the inverse
    of its frequency, so that the rarer class (signals, in the seed's data) is not traded away for
    accuracy on the common one.
    """
    targets = np.asarray(is_silence, dtype=np.float32)
    if targets.ndim != 1:
        raise ParameterError(f"is_silence must be one label per window, shape (n,), got {targets.shape}")
    if np.unique(targets).size < 2:
        raise ParameterError("the training windows hold only one class; silence and signal windows are both needed")
    return train_head(head, codes, targets, loss="binary_crossentropy", epochs=epochs, batch_size=batch_size,
                      learning_rate=learning_rate, class_weight=class_weights(targets, 2) if balanced else None,
                      seed=seed, verbose=verbose)


@dataclass
class FrozenEncoderHead:
    """A silence head trained on a frozen encoder's features, with what the training computed.

    Attributes
    ----------
    frozen : keras.Model
        Window -> features, not trainable (``heads.split_encoder``).
    tail : keras.Model or None
        The trainable last recurrent layer and those after it (LSTM V4 encoders), trained with the head.
    head : keras.Model
        The dense silence head (``build_silence_head``).
    trainable : keras.Model
        Features -> probability of silence: ``tail`` and ``head`` together (``heads.on_features``).
    train_features, test_features : np.ndarray, shape (n_train, ...) and (n_test, ...)
        ``frozen``'s outputs on the training and test windows: codes (n, latent_dim) for a ConvNet,
        sequences (n, frames, 2 x lstm_units) for an LSTM V4.
    history : dict
        Per-epoch training loss and accuracy, lists (``heads.train_head``).
    probability : np.ndarray of float, shape (n_test,)
        Probability of silence of each test window.
    """

    frozen: object
    tail: object
    head: object
    trainable: object
    train_features: np.ndarray
    test_features: np.ndarray
    history: dict
    probability: np.ndarray

    def detector(self):
        """Window -> probability of silence, for new recordings (``build_silence_detector``)."""
        return build_silence_detector(self.frozen, self.head, tail=self.tail)


def train_silence_on_encoder(encoder, windows, is_silence, train_indices, test_indices, *, epochs=64, batch_size=10,
                             learning_rate=1e-3, balanced=True, seed=0, verbose=0):
    """Train a silence head on the frozen ``encoder`` and predict the test windows.

    The encoder is cut before its last recurrent layer (``heads.split_encoder``); the frozen part
    runs once over the training and the test windows, and the head (with the trainable tail, if
    any) trains on the training windows' features (``train_silence_head``). The steps run in the
    order the chapters always ran them, so that the same seed gives the same head.

    Parameters
    ----------
    encoder : keras.Model
        Window (frames, bins, 1) -> code (latent_dim,); frozen in place (``trainable`` set False).
    windows : np.ndarray, shape (n_windows, frames, bins)
        Normalised windows (memory-mapped is fine).
    is_silence : np.ndarray of bool, shape (n_windows,)
        Truth of every window; the training windows must hold both classes.
    train_indices, test_indices : np.ndarray of int
        Windows the head trains on, and windows it predicts.
    epochs, batch_size, learning_rate, balanced, seed, verbose
        As for ``train_silence_head``.

    Returns
    -------
    FrozenEncoderHead
        The parts, the features, the history and the test windows' probabilities of silence.
    """
    is_silence = np.asarray(is_silence)
    frozen, tail = split_encoder(encoder)
    train_features = predict_windows(frozen, windows, train_indices)
    test_features = predict_windows(frozen, windows, test_indices)
    head = build_silence_head(latent_dim=encoder.output_shape[-1])
    trainable = on_features(head, tail)
    history = train_silence_head(trainable, train_features, is_silence[train_indices], epochs=epochs,
                                 batch_size=batch_size, learning_rate=learning_rate, balanced=balanced, seed=seed,
                                 verbose=verbose)
    probability = trainable.predict(test_features, verbose=0)[:, 0]
    return FrozenEncoderHead(frozen=frozen, tail=tail, head=head, trainable=trainable, train_features=train_features,
                             test_features=test_features, history=history, probability=probability)


def silence_metrics(is_silence_true, is_silence_predicted):
    """Confusion matrix (rows truth [not-silence, silence], columns prediction) and recalls."""
    from sklearn.metrics import confusion_matrix

    truth = np.asarray(is_silence_true, dtype=int)
    predicted = np.asarray(is_silence_predicted, dtype=int)
    if truth.shape != predicted.shape or truth.ndim != 1:
        raise ParameterError(f"truth and prediction must be equal-length vectors, got {truth.shape} and {predicted.shape}")
    matrix = confusion_matrix(truth, predicted, labels=[0, 1])
    return metrics_from_confusion(matrix)


def metrics_from_confusion(matrix):
    """Recall of each class and balanced accuracy from a 2x2 matrix in the seed's orientation."""
    matrix = np.asarray(matrix, dtype=int)
    row_totals = matrix.sum(axis=1)
    recalls = np.divide(np.diag(matrix), row_totals, out=np.full(2, np.nan), where=row_totals > 0)
    return {
        "confusion_matrix": matrix.tolist(),
        "recall_not_silence": float(recalls[0]),
        "recall_silence": float(recalls[1]),
        "balanced_accuracy": float(np.nanmean(recalls)),
        "n_test_windows": int(matrix.sum()),
    }


class EnergyThresholdDetector:
    """Baseline: a window is silence when its band level is below a threshold.

    ``fit`` picks the threshold (dB) that maximises balanced accuracy on the training windows.

    Attributes
    ----------
    threshold_db_ : float
        Windows quieter than this are called silence.
    """

    def fit(self, level_db, is_silence):
        level_db = np.asarray(level_db, dtype=float)
        truth = np.asarray(is_silence, dtype=bool)
        if level_db.shape != truth.shape or level_db.size == 0:
            raise ParameterError("level_db and is_silence must be non-empty and of equal length")
        if truth.all() or not truth.any():
            raise ParameterError("the training windows hold only one class; silence and signal windows are both needed")
        levels = np.unique(level_db)
        # Midpoints between neighbouring levels, so a threshold sits in the middle of a gap.
        candidates = np.concatenate([[levels[0] - 1.0], (levels[:-1] + levels[1:]) / 2, [levels[-1] + 1.0]])
        silence_levels, signal_levels = np.sort(level_db[truth]), np.sort(level_db[~truth])
        # For threshold t: recall of silence = share of silence below t; of signal = share at or above t.
        recall_silence = np.searchsorted(silence_levels, candidates, side="left") / silence_levels.size
        recall_signal = 1.0 - np.searchsorted(signal_levels, candidates, side="left") / signal_levels.size
        self.threshold_db_ = float(candidates[np.argmax(recall_silence + recall_signal)])
        return self

    def predict(self, level_db):
        """True where a window is called silence, shape (n_windows,)."""
        if not hasattr(self, "threshold_db_"):
            raise ParameterError("EnergyThresholdDetector must be fitted before predict")
        return np.asarray(level_db, dtype=float) < self.threshold_db_
