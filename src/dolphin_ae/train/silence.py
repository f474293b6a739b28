"""The silence detector: a small dense head on the frozen encoder's code, and its baseline.

As in the seed: encoder frozen -> BatchNorm -> Dense 64 -> Dense 32 -> Dropout 0.5 -> Dense 1
(sigmoid), binary cross-entropy, threshold 0.5. Class 1 is silence (``noise`` windows).
For the LSTM V4 encoders the last LSTM stays trainable, as in the seed (``heads.split_encoder``).
Because the frozen part runs in inference mode, training on its outputs computed once is the same
computation as training the stacked model, only faster; the stacked model is assembled afterwards
for use on new recordings.
"""

import numpy as np

from dolphin_ae.constants import SEED_LATENT_DIM
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.train.heads import build_dense_head, class_weights, on_windows, train_head


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
