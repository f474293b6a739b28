"""The trained run that ``detect`` and ``embed`` use: its silence detector, encoder, front end and threshold.

A run directory (:class:`dolphin_ae.layout.RunLayout`) made by ``dolphin-ae report`` holds what is
needed: ``models/silence_detector.keras`` (and ``models/encoder.keras``), ``dataset.json`` (the front
end the models were trained with) and ``metrics.json`` (the silence threshold). For models trained
elsewhere, :func:`write_detector_run` lays out such a directory. What a run's codes are (its encoder, or
the peer :class:`PooledSpectrogramEncoder`) is :func:`embedding_run`; :func:`model_fingerprint` names its
models by content, so that outputs made with them can tell when they change.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dolphin_ae.audio.spectrogram import FrontEnd
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.layout import DATASET_FILE, DETECTOR_FILE, MODELS_DIR, RunLayout
from dolphin_ae.runio import read_json, save_model, update_metrics, write_json


@dataclass
class DetectorRun:
    """What ``detect`` and ``embed`` need from a run directory.

    Attributes
    ----------
    run_dir : Path
    front_end : FrontEnd
        The front end the models were trained with (from ``dataset.json``), its magnitude (PCEN too)
        and whitening included; a whitening front end whitens each recording by its own band profile,
        from a first pass over the file (:func:`dolphin_ae.audio.pipeline.stream_recording`).
    detector : keras.Model
        Window (window_frames, n_bins, 1) -> probability of silence (n, 1).
    encoder, head : keras.Model or None
        The detector's two parts when it is ``head(encoder(window))``; scoring then runs the
        encoder once and reuses its codes for embeddings.
    threshold : float
        Probability of silence at or above which a window is silence (the run's, else 0.5).
    """

    run_dir: Path
    front_end: FrontEnd
    detector: object
    encoder: object = None
    head: object = None
    threshold: float = 0.5
    # Models built from these for scoring (dolphin_ae.field.regions), once per run.
    scoring_models: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def latent_dim(self):
        return None if self.encoder is None else int(self.encoder.output_shape[-1])


def resolve_run_dir(model_dir):
    """The run directory for ``model_dir``: a run directory, or the ``models/`` folder inside one.

    Raises
    ------
    ParameterError
        When neither ``model_dir/models/silence_detector.keras`` nor ``model_dir/silence_detector.keras``
        (inside a run directory) exists, or the run has no ``dataset.json``.
    """
    model_dir = Path(model_dir)
    if RunLayout(model_dir).detector.is_file():
        run_dir = model_dir
    elif (model_dir / DETECTOR_FILE).is_file():
        run_dir = model_dir.parent
    else:
        raise ParameterError(f"MODEL_DIR {model_dir}: expected a run directory holding {MODELS_DIR}/{DETECTOR_FILE} "
                             f"(or its {MODELS_DIR}/ folder); no {DETECTOR_FILE} found")
    if not RunLayout(run_dir).dataset.is_file():
        raise ParameterError(f"{run_dir}: no {DATASET_FILE}; the front end the model was trained with is unknown")
    return run_dir


def _run_front_end(path):
    """The ``FrontEnd`` recorded in a run's ``dataset.json``; ``ParameterError`` naming the file otherwise."""
    try:
        meta = read_json(path)
    except ValueError as error:
        raise ParameterError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("front_end"), dict):
        raise ParameterError(f"{path}: no \"front_end\" mapping (the sample rate, band and window size the model "
                             f"was trained with); was it written by `dolphin-ae report` or write_detector_run?")
    try:
        return FrontEnd(**meta["front_end"])
    except (TypeError, ValueError) as error:
        raise ParameterError(f"{path}: its \"front_end\" cannot be used ({error})") from None


def _load_keras_model(path):
    """Load a ``.keras`` file without compiling it; ``ParameterError`` naming the file when it is unreadable."""
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as error:  # a truncated or foreign file fails in zipfile, h5py, JSON or Keras itself
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ParameterError(f"{path}: cannot be read as a Keras model "
                             f"({type(error).__name__}: {reason[:200]})") from None


def load_detector_run(model_dir, *, threshold=None):
    """Load the silence detector and front end of a trained run (see ``resolve_run_dir``).

    Parameters
    ----------
    threshold : float or None
        Probability of silence from which a window is silence; None takes the run's own
        (``metrics.json`` ``silence.threshold``), else 0.5.

    Raises
    ------
    ParameterError
        Naming the file: no detector or ``dataset.json`` (see ``resolve_run_dir``), a
        ``dataset.json`` without a usable ``front_end``, a ``.keras`` file that cannot be loaded,
        or a detector whose input does not fit the front end.
    """
    run_dir = resolve_run_dir(model_dir)
    layout = RunLayout(run_dir)
    front_end = _run_front_end(layout.dataset)
    detector = _load_keras_model(layout.detector)
    expected = (front_end.window_frames, front_end.n_bins)
    if tuple(detector.input_shape[1:3]) != expected:
        raise ParameterError(f"{run_dir}: the detector takes windows of {detector.input_shape[1:]}, the run's front end "
                             f"makes {expected}")
    import keras

    parts = [layer for layer in detector.layers if isinstance(layer, keras.Model)]
    encoder = head = None
    if len(parts) == 2:
        encoder, head = parts
    elif layout.encoder.is_file():
        encoder = _load_keras_model(layout.encoder)
    if threshold is None:
        threshold = read_json(layout.metrics).get("silence", {}).get("threshold", 0.5)
    threshold = float(threshold)
    if not 0.0 < threshold < 1.0:
        raise ParameterError(f"threshold must be a probability strictly between 0 and 1, got {threshold}")
    return DetectorRun(run_dir=run_dir, front_end=front_end, detector=detector, encoder=encoder, head=head,
                       threshold=threshold)


def write_detector_run(run_dir, detector, front_end, *, encoder=None, threshold=0.5):
    """Lay out a run directory that ``detect``/``embed`` can use: the models, ``dataset.json`` and the threshold.

    For models trained outside ``dolphin-ae report`` (and for tests and benchmarks).

    Parameters
    ----------
    run_dir : str or Path
        Created when missing; the files named by :class:`dolphin_ae.layout.RunLayout` are (over)written.
    detector : keras.Model
        Window (window_frames, n_bins, 1) -> probability of silence.
    front_end : FrontEnd
        The front end the detector's windows are made with.
    encoder : keras.Model or None
        Saved as ``models/encoder.keras`` (needed by ``embed`` when the detector is not ``head(encoder)``).
    threshold : float
        Probability of silence from which a window is silence, written to ``metrics.json``.

    Returns
    -------
    run_dir : Path
    """
    layout = RunLayout(run_dir)
    save_model(detector, layout.detector)
    if encoder is not None:
        save_model(encoder, layout.encoder)
    write_json(layout.dataset, {"front_end": front_end.to_dict()})
    update_metrics(layout.root, "silence", {"threshold": float(threshold)})
    return layout.root


# What a region's code is: the run's encoder, or the peer, raw pooled spectrograms.
EMBEDDINGS = ("encoder", "pooled")


class PooledSpectrogramEncoder:
    """The peer of the encoder: a normalised window averaged over blocks of frames and bins.

    A window (window_frames, n_bins, 1) becomes ``time_blocks * bin_blocks`` numbers, the mean of
    each block; it stands where the encoder stands (``predict_on_batch``), so the peer's regions,
    codes and searches are made by the same code as the model's.
    """

    def __init__(self, window_frames, n_bins, *, time_blocks=4, bin_blocks=32):
        if window_frames % time_blocks or n_bins % bin_blocks:
            raise ParameterError(f"a window of {window_frames} x {n_bins} cannot be cut into {time_blocks} x "
                                 f"{bin_blocks} equal blocks")
        self.shape = (time_blocks, window_frames // time_blocks, bin_blocks, n_bins // bin_blocks)
        self.output_shape = (None, time_blocks * bin_blocks)

    def predict_on_batch(self, x):
        x = np.asarray(x, dtype=np.float32).reshape((-1,) + self.shape)
        return x.mean(axis=(2, 4)).reshape(x.shape[0], -1)


def embedding_run(run, embedding):
    """``run`` whose encoder makes the codes ``embedding`` names (``"encoder"`` or ``"pooled"``)."""
    if embedding not in EMBEDDINGS:
        raise ParameterError(f"embedding must be one of {EMBEDDINGS}, got {embedding!r}")
    if embedding == "encoder":
        if run.encoder is None:
            raise ParameterError(f"{run.run_dir}: an index of codes needs the run's encoder (models/encoder.keras)")
        return run
    pooled = PooledSpectrogramEncoder(run.front_end.window_frames, run.front_end.n_bins)
    return DetectorRun(run_dir=run.run_dir, front_end=run.front_end, detector=run.detector, encoder=pooled,
                       head=None, threshold=run.threshold)


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_fingerprint(run_dir):
    """SHA-256 of the run's detector and encoder files: an index is used only with the models that made it."""
    layout = RunLayout(run_dir)
    return {path.name: file_sha256(path) for path in (layout.detector, layout.encoder) if path.is_file()}
