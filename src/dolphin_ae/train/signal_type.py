"""The signal-type head: noise, echolocation click, burst pulse or whistle, from the frozen encoder.

The seed's later code (IJCNN 2020, tag v4.0) put a four-class head beside the silence detector and
reported 82.7 % accuracy, with burst pulses the weakest class (recall 0.66). The head here has the
silence head's layout (``heads.build_dense_head``) with a softmax over the classes, trained with
categorical cross-entropy on the training recordings and scored on the test recordings.
"""

import numpy as np

from dolphin_ae.constants import SEED_LATENT_DIM, SILENCE_LABEL
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.train.heads import build_dense_head, class_weights, on_windows, train_head

# The head's classes in the order of its outputs (class numbers 0..3).
CLASS_NAMES = (SILENCE_LABEL, "click", "burst", "whistle")


def signal_classes(labels):
    """The class names of ``labels``: the four known ones that occur, in ``CLASS_NAMES`` order, then others sorted."""
    present = set(np.asarray(labels).tolist())
    return tuple(c for c in CLASS_NAMES if c in present) + tuple(sorted(present - set(CLASS_NAMES)))


def encode_labels(labels, class_names):
    """Class numbers (n,) of ``labels`` in ``class_names``; a label outside them is an error."""
    lookup = {name: k for k, name in enumerate(class_names)}
    labels = np.asarray(labels)
    unknown = sorted(set(labels.tolist()) - set(lookup))
    if unknown:
        raise ParameterError(f"labels {unknown} are not among the classes {list(class_names)}")
    return np.array([lookup[label] for label in labels.tolist()], dtype=np.int64)


def window_classes(labels):
    """Each window's class number (n,): ``labels`` in :func:`signal_classes` of themselves, the numbering of
    the heads (what the supervised objectives train on)."""
    return encode_labels(labels, signal_classes(labels))


def build_signal_type_head(*, latent_dim=SEED_LATENT_DIM, n_classes=len(CLASS_NAMES), dropout=0.5):
    """Dense head: code (latent_dim,) -> class probabilities (n_classes,), layer ``"signal_type_probability"``."""
    if n_classes < 2:
        raise ParameterError(f"n_classes must be at least 2, got {n_classes}")
    return build_dense_head(input_dim=latent_dim, n_outputs=n_classes, activation="softmax",
                            output_name="signal_type_probability", dropout=dropout, name="signal_type_head")


def build_signal_type_classifier(encoder, head, *, tail=None):
    """Window -> class probabilities: frozen ``encoder`` (or frozen part), ``tail`` if any, ``head``."""
    return on_windows(encoder, head, tail=tail, name="signal_type_classifier")


def train_signal_type_head(head, features, classes, *, epochs=64, batch_size=10, learning_rate=1e-3, balanced=True,
                           seed=0, verbose=0):
    """Fit ``head`` on features (n, ...) and class numbers (n,) with categorical cross-entropy.

    ``balanced`` weights each class by the inverse of its frequency (silence outnumbers each signal class).
    """
    classes = np.asarray(classes, dtype=np.int64)
    n_classes = int(head.output.shape[-1])
    if classes.ndim != 1 or classes.min(initial=0) < 0 or classes.max(initial=0) >= n_classes:
        raise ParameterError(f"classes must be class numbers 0..{n_classes - 1}, shape (n,), got {classes.shape} "
                             f"from {classes.min(initial=0)} to {classes.max(initial=0)}")
    if np.unique(classes).size < 2:
        raise ParameterError("the training windows hold only one class")
    return train_head(head, features, classes, loss="sparse_categorical_crossentropy", epochs=epochs,
                      batch_size=batch_size, learning_rate=learning_rate,
                      class_weight=class_weights(classes, n_classes) if balanced else None, seed=seed, verbose=verbose)


def signal_type_metrics(true_classes, predicted_classes, class_names=CLASS_NAMES):
    """Accuracy, recall of each class, balanced accuracy and the confusion matrix (rows truth, columns prediction).

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy`` (mean recall over the classes present), ``recall_per_class``
        (``{name: recall}``, NaN for a class absent from the truth), ``confusion_matrix``
        (n_classes x n_classes counts), ``class_names``, ``n_test_windows``.
    """
    from sklearn.metrics import confusion_matrix

    truth = np.asarray(true_classes, dtype=int)
    predicted = np.asarray(predicted_classes, dtype=int)
    if truth.shape != predicted.shape or truth.ndim != 1:
        raise ParameterError(f"truth and prediction must be equal-length vectors, got {truth.shape} and {predicted.shape}")
    matrix = confusion_matrix(truth, predicted, labels=list(range(len(class_names))))
    totals = matrix.sum(axis=1)
    recalls = np.divide(np.diag(matrix), totals, out=np.full(len(class_names), np.nan), where=totals > 0)
    return {
        "accuracy": float(np.trace(matrix) / max(matrix.sum(), 1)),
        "balanced_accuracy": float(np.nanmean(recalls)) if np.isfinite(recalls).any() else float("nan"),
        "recall_per_class": {name: float(r) for name, r in zip(class_names, recalls)},
        "confusion_matrix": matrix.tolist(),
        "class_names": list(class_names),
        "n_test_windows": int(matrix.sum()),
    }
