"""Field use of a trained run: non-silent regions and embeddings of recordings of any length.

A recording is read in blocks (``block_s`` seconds), resampled block by block to the run's rate,
turned into spectrogram frames and windows exactly as the whole file would be (frames and windows
that straddle a block border are completed from the next block), and every window is scored by the
run's silence detector. Memory therefore depends on the block size, not on the recording's length.

Windows called not silent (probability of silence below ``threshold``) are merged into regions as
the 2019 study did: a window joins the open region when the gap between the region's end and the
window's start is under ``min_gap_s`` (0.1 s); regions shorter than ``min_region_s`` (one window by
default) are dropped. A region's score is the mean not-silence probability of the windows from its
first to its last, silent windows bridged by the gap rule included.

Times are in seconds from the start of the recording. Window ``j`` covers samples
``j * step_frames * hop_length`` .. ``+ window_samples`` at the run's rate.
"""

import contextlib
import dataclasses
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

from dolphin_ae.audio.loading import check_audio_file, find_audio_files
from dolphin_ae.data.dataset import DATASET_FILE
from dolphin_ae.exceptions import AudioError, ParameterError
from dolphin_ae.runio import METRICS_FILE, atomic_path, read_json
from dolphin_ae.audio.spectrogram import FrontEnd, band_spectrogram, normalize_windows, spectrogram_windows

log = logging.getLogger(__name__)

DETECTOR_FILE = "silence_detector.keras"
ENCODER_FILE = "encoder.keras"
REGION_COLUMNS = ("file", "start_s", "end_s", "score")
# The seed wrote its region audio with 0.1 s of zeros between regions.
REGION_SEPARATOR_S = 0.1


# ---------------------------------------------------------------------------------------------
# The trained run


@dataclass
class DetectorRun:
    """What ``detect`` and ``embed`` need from a run directory.

    Attributes
    ----------
    run_dir : Path
    front_end : FrontEnd
        The front end the models were trained with (from ``dataset.json``).
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
    if (model_dir / "models" / DETECTOR_FILE).is_file():
        run_dir = model_dir
    elif (model_dir / DETECTOR_FILE).is_file():
        run_dir = model_dir.parent
    else:
        raise ParameterError(f"MODEL_DIR {model_dir}: expected a run directory holding models/{DETECTOR_FILE} "
                             f"(or its models/ folder); no {DETECTOR_FILE} found")
    if not (run_dir / DATASET_FILE).is_file():
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
    front_end = _run_front_end(run_dir / DATASET_FILE)
    detector = _load_keras_model(run_dir / "models" / DETECTOR_FILE)
    expected = (front_end.window_frames, front_end.n_bins)
    if tuple(detector.input_shape[1:3]) != expected:
        raise ParameterError(f"{run_dir}: the detector takes windows of {detector.input_shape[1:]}, the run's front end "
                             f"makes {expected}")
    import keras

    parts = [layer for layer in detector.layers if isinstance(layer, keras.Model)]
    encoder = head = None
    if len(parts) == 2:
        encoder, head = parts
    elif (run_dir / "models" / ENCODER_FILE).is_file():
        encoder = _load_keras_model(run_dir / "models" / ENCODER_FILE)
    if threshold is None:
        threshold = read_json(run_dir / METRICS_FILE).get("silence", {}).get("threshold", 0.5)
    threshold = float(threshold)
    if not 0.0 < threshold < 1.0:
        raise ParameterError(f"threshold must be a probability strictly between 0 and 1, got {threshold}")
    return DetectorRun(run_dir=run_dir, front_end=front_end, detector=detector, encoder=encoder, head=head,
                       threshold=threshold)


# ---------------------------------------------------------------------------------------------
# Streaming a recording


def audio_info(path, *, channel=0, front_end=None):
    """Check from its header that ``path`` can be analysed and is at least one window long.

    Returns
    -------
    dolphin_ae.audio.loading.AudioInfo

    Raises
    ------
    AudioError
        Missing, unreadable, empty, truncated, missing the channel, recorded at a rate too low for
        the band, or shorter than one window.
    """
    fe = front_end or FrontEnd()
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    info = check_audio_file(path, channel=channel, fmax_hz=fe.fmax_hz)
    if info.frames / info.sr * fe.sr < fe.window_samples:
        raise AudioError(f"{path}: lasts {info.frames / info.sr:.3f} s, shorter than one window "
                         f"({fe.window_samples / fe.sr:.3f} s)")
    return info


def iter_audio_blocks(path, *, sr, channel=0, block_s=10.0):
    """Mono float32 blocks of ``path`` at ``sr`` Hz, read ``block_s`` seconds at a time.

    Files at another rate are resampled by a streaming soxr resampler (high quality), whose output
    does not depend on the block size. Yields arrays of shape (n,), n varying; concatenated they are
    the whole resampled channel.

    Raises
    ------
    AudioError
        The file cannot be read, or a block holds NaN or infinite samples.
    """
    if block_s <= 0:
        raise ParameterError(f"block_s must be a positive duration in s, got {block_s!r}")
    path = Path(path)
    try:
        handle = soundfile.SoundFile(str(path))
    except (RuntimeError, soundfile.LibsndfileError, OSError) as error:
        raise AudioError(f"{path}: cannot be read as audio ({error})") from error
    with handle:
        native_sr = handle.samplerate
        resampler = None
        if native_sr != sr:
            import soxr

            resampler = soxr.ResampleStream(native_sr, sr, 1, dtype="float32", quality="HQ")
        block_frames = max(1, int(round(block_s * native_sr)))
        position = 0
        while True:
            try:
                data = handle.read(block_frames, dtype="float32", always_2d=True)
            except (RuntimeError, soundfile.LibsndfileError, OSError) as error:
                raise AudioError(f"{path}: read failed after {position / native_sr:.1f} s ({error})") from error
            if data.shape[0] == 0:
                break
            y = np.ascontiguousarray(data[:, channel])
            if not np.all(np.isfinite(y)):
                raise AudioError(f"{path}: contains NaN or infinite samples (in {position / native_sr:.1f}-"
                                 f"{(position + data.shape[0]) / native_sr:.1f} s)")
            position += data.shape[0]
            yield resampler.resample_chunk(y, last=False) if resampler else y
        if resampler:
            yield resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def stream_windows(blocks, front_end=None):
    """Spectrogram windows of a waveform that arrives in blocks, identical to whole-signal processing.

    Parameters
    ----------
    blocks : iterable of np.ndarray, each shape (n,), float
        Consecutive pieces of one waveform at ``front_end.sr``.

    Yields
    ------
    first_window : int
        Index (in the whole recording) of the first window of this batch.
    windows : np.ndarray, shape (n_windows, window_frames, n_bins), float32
        Un-normalised magnitude windows; the same values as
        ``spectrogram_windows(band_spectrogram(y))[first_window:first_window + n_windows]``.
    """
    fe = front_end or FrontEnd()
    samples = np.zeros(0, dtype=np.float32)
    frames = np.zeros((0, fe.n_bins), dtype=np.float32)
    skip_frames = 0  # frames still to drop before the next window starts (step longer than a window)
    next_window = 0
    for block in blocks:
        samples = np.concatenate([samples, np.asarray(block, dtype=np.float32)])
        if samples.shape[0] < fe.n_fft:
            continue
        n_new = 1 + (samples.shape[0] - fe.n_fft) // fe.hop_length
        new_frames = band_spectrogram(samples[: (n_new - 1) * fe.hop_length + fe.n_fft], fe)
        samples = samples[n_new * fe.hop_length :].copy()
        if skip_frames:
            dropped = min(skip_frames, new_frames.shape[0])
            new_frames, skip_frames = new_frames[dropped:], skip_frames - dropped
        frames = np.concatenate([frames, new_frames])
        windows = spectrogram_windows(frames, fe)
        if windows.shape[0] == 0:
            continue
        yield next_window, windows
        next_window += windows.shape[0]
        consumed = windows.shape[0] * fe.step_frames
        skip_frames = max(0, consumed - frames.shape[0])
        frames = frames[consumed:].copy()


# ---------------------------------------------------------------------------------------------
# Scoring and merging


def _predict(model, x, batch_size):
    """``model`` on ``x`` in fixed-size batches (the last one padded), so the graph is traced once."""
    outputs = []
    for start in range(0, x.shape[0], batch_size):
        batch = x[start : start + batch_size]
        n = batch.shape[0]
        if n < batch_size:
            batch = np.concatenate([batch, np.zeros((batch_size - n,) + batch.shape[1:], dtype=batch.dtype)])
        outputs.append(np.asarray(model.predict_on_batch(batch))[:n])
    return np.concatenate(outputs)


def score_windows(run, windows, *, batch_size=64, with_codes=False):
    """Probability of silence (and codes) of raw windows, normalised as the run's front end does.

    Parameters
    ----------
    run : DetectorRun
    windows : np.ndarray, shape (n, window_frames, n_bins)
        Un-normalised magnitude windows.

    Returns
    -------
    p_silence : np.ndarray, shape (n,), float32
    codes : np.ndarray, shape (n, latent_dim), float32, or None when ``with_codes`` is False
    """
    p_parts, code_parts = [], []
    # Normalise a chunk at a time: the normalised copy is the largest array here.
    chunk = batch_size * 4
    for start in range(0, windows.shape[0], chunk):
        x = normalize_windows(windows[start : start + chunk], method=run.front_end.normalization)[..., None]
        codes = None
        if run.head is not None:
            codes = _predict(run.encoder, x, batch_size)
            p = _predict(run.head, codes, batch_size)
        else:
            p = _predict(run.detector, x, batch_size)
            if with_codes:
                if run.encoder is None:
                    raise ParameterError(f"{run.run_dir}: embeddings need models/{ENCODER_FILE}")
                codes = _predict(run.encoder, x, batch_size)
        p_parts.append(np.asarray(p, dtype=np.float32).reshape(-1))
        if with_codes:
            code_parts.append(np.asarray(codes, dtype=np.float32))
    p_silence = np.concatenate(p_parts) if p_parts else np.zeros(0, dtype=np.float32)
    if not with_codes:
        return p_silence, None
    latent = run.latent_dim or 0
    return p_silence, (np.concatenate(code_parts) if code_parts else np.zeros((0, latent), dtype=np.float32))


@dataclass
class Region:
    """A stretch of a recording called not silent.

    ``start_s``/``end_s`` in seconds from the recording's start; ``score`` the mean not-silence
    probability of its windows; ``code`` their mean code (latent_dim,) or None.
    """

    start_s: float
    end_s: float
    score: float
    n_windows: int
    code: np.ndarray = None

    @property
    def duration_s(self):
        return self.end_s - self.start_s


@dataclass
class RegionMerger:
    """Merge windows, fed in time order, into regions, keeping only running sums (constant memory).

    Parameters
    ----------
    window_s : float
        Duration of one window (s).
    min_gap_s : float
        A not-silent window joins the open region when its start is less than this after the
        region's end (s).
    min_region_s : float
        Regions shorter than this are dropped (s).
    """

    window_s: float
    min_gap_s: float = 0.1
    min_region_s: float = 0.0
    _open: dict = field(default=None, repr=False)
    _pending: dict = field(default=None, repr=False)

    def _sums(self, p_not_silence, code):
        return {"p": float(p_not_silence), "n": 1, "code": None if code is None else code.astype(np.float64)}

    @staticmethod
    def _add(total, part):
        total["p"] += part["p"]
        total["n"] += part["n"]
        if total["code"] is not None:
            total["code"] = total["code"] + part["code"]

    def _close(self):
        region, self._open, self._pending = self._open, None, None
        if region is None or region["end_s"] - region["start_s"] < self.min_region_s:
            return []
        code = None if region["code"] is None else (region["code"] / region["n"]).astype(np.float32)
        return [Region(start_s=region["start_s"], end_s=region["end_s"], score=region["p"] / region["n"],
                       n_windows=region["n"], code=code)]

    def add(self, start_s, p_not_silence, is_signal, code=None):
        """Feed one window; returns the regions this window closed (a list, usually empty)."""
        closed = []
        window = self._sums(p_not_silence, code)
        if is_signal:
            if self._open is not None and start_s - self._open["end_s"] < self.min_gap_s:
                if self._pending is not None:
                    self._add(self._open, self._pending)
                self._add(self._open, window)
                self._open["end_s"] = start_s + self.window_s
                self._pending = None
            else:
                closed = self._close()
                self._open = {"start_s": start_s, "end_s": start_s + self.window_s, **window}
        elif self._open is not None:
            if start_s - self._open["end_s"] >= self.min_gap_s:
                closed = self._close()  # no later window can be within the gap
            elif self._pending is None:
                self._pending = window
            else:
                self._add(self._pending, window)
        return closed

    def finish(self):
        """Close the open region at the end of the recording; returns it in a list (or [])."""
        return self._close()


@dataclass
class DetectionOptions:
    """Every option of ``detect``/``embed``; see ``detect_file``."""

    step_frames: int = None
    min_gap_s: float = 0.1
    min_region_s: float = None
    channel: int = 0
    block_s: float = 10.0
    batch_size: int = 64

    def check(self):
        if self.step_frames is not None and (not isinstance(self.step_frames, (int, np.integer)) or self.step_frames < 1):
            raise ParameterError(f"step_frames must be a positive integer, got {self.step_frames!r}")
        if self.min_gap_s < 0:
            raise ParameterError(f"min_gap_s must be >= 0 s, got {self.min_gap_s}")
        if self.min_region_s is not None and self.min_region_s < 0:
            raise ParameterError(f"min_region_s must be >= 0 s, got {self.min_region_s}")
        if self.channel < 0:
            raise ParameterError(f"channel must be >= 0, got {self.channel}")
        if self.block_s <= 0:
            raise ParameterError(f"block_s must be a positive duration in s, got {self.block_s}")
        if self.batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, got {self.batch_size}")
        return self


def window_geometry(front_end, step_frames=None):
    """The front end stepping by ``step_frames`` (default: its own), and window duration (s)."""
    fe = front_end if step_frames is None else dataclasses.replace(front_end, step_frames=int(step_frames))
    return fe, fe.window_samples / fe.sr


def scan_recording(run, path, *, options=None, with_codes=False, progress=None):
    """Score every window of one recording, block by block.

    Yields
    ------
    start_s : np.ndarray, shape (n,)
        Window starts (s).
    p_silence : np.ndarray, shape (n,)
    codes : np.ndarray, shape (n, latent_dim), or None
    """
    options = (options or DetectionOptions()).check()
    fe, _ = window_geometry(run.front_end, options.step_frames)
    audio_info(path, channel=options.channel, front_end=fe)
    blocks = iter_audio_blocks(path, sr=fe.sr, channel=options.channel, block_s=options.block_s)
    step_samples = fe.step_frames * fe.hop_length
    for first, windows in stream_windows(blocks, fe):
        p_silence, codes = score_windows(run, windows, batch_size=options.batch_size, with_codes=with_codes)
        start_s = (first + np.arange(windows.shape[0])) * step_samples / fe.sr
        if progress is not None:
            progress.update(windows.shape[0] * step_samples / fe.sr)
        yield start_s, p_silence, codes


def detect_file(run, path, *, options=None, with_codes=False, progress=None, on_windows=None):
    """Non-silent regions of one recording.

    Parameters
    ----------
    run : DetectorRun
    path : str or Path
        A recording of any length (WAV, FLAC; any rate at least twice the band's top; any channels).
    options : DetectionOptions
        ``step_frames`` (frames between window starts; the run's by default), ``min_gap_s`` (s),
        ``min_region_s`` (s; one window by default), ``channel``, ``block_s`` (s read at a time),
        ``batch_size`` (windows per model call).
    with_codes : bool
        Also average the windows' codes into each region's ``code``.
    on_windows : callable or None
        Called as ``on_windows(start_s, end_s, p_not_silence, is_signal, codes)`` for every batch
        of windows, in time order (for per-window output).

    Returns
    -------
    regions : list of Region, in time order

    Raises
    ------
    AudioError
        The recording cannot be used.
    """
    options = (options or DetectionOptions()).check()
    _, window_s = window_geometry(run.front_end, options.step_frames)
    min_region_s = window_s if options.min_region_s is None else options.min_region_s
    # Window lengths are sums of float seconds; a hair of tolerance keeps one-window regions.
    merger = RegionMerger(window_s=window_s, min_gap_s=options.min_gap_s, min_region_s=min_region_s - 1e-9)
    regions = []
    for start_s, p_silence, codes in scan_recording(run, path, options=options, with_codes=with_codes,
                                                    progress=progress):
        p_not_silence = 1.0 - p_silence
        is_signal = p_silence < run.threshold
        if on_windows is not None:
            on_windows(start_s, start_s + window_s, p_not_silence, is_signal, codes)
        for k in range(start_s.shape[0]):
            regions += merger.add(float(start_s[k]), float(p_not_silence[k]), bool(is_signal[k]),
                                  None if codes is None else codes[k])
    return regions + merger.finish()


def write_regions_audio(sound_file, path, regions, *, sr, channel=0, block_s=10.0, first=True):
    """Append the samples of ``regions`` of ``path`` (at ``sr``) to an open ``soundfile.SoundFile``.

    Regions are separated by ``REGION_SEPARATOR_S`` seconds of zeros (also from the regions of
    earlier files, unless ``first``). The recording is read again, block by block.

    Returns
    -------
    first : bool
        Whether the output is still empty.
    """
    spans = [(int(round(r.start_s * sr)), int(round(r.end_s * sr))) for r in regions]
    if not spans:
        return first
    separator = np.zeros(int(round(REGION_SEPARATOR_S * sr)), dtype=np.float32)
    position, index, inside = 0, 0, False
    for block in iter_audio_blocks(path, sr=sr, channel=channel, block_s=block_s):
        block_end = position + block.shape[0]
        while index < len(spans) and spans[index][0] < block_end:
            start, stop = spans[index]
            if not inside:
                if not first:
                    sound_file.write(separator)
                first, inside = False, True
            lo, hi = max(start, position), min(stop, block_end)
            if hi > lo:
                sound_file.write(block[lo - position : hi - position])
            if stop > block_end:
                break
            index, inside = index + 1, False
        position = block_end
        if index == len(spans):
            break
    return first


# ---------------------------------------------------------------------------------------------
# Batches of recordings


def expand_inputs(inputs):
    """Files named, and the WAV/FLAC files under folders named, in order; folders that hold none are kept
    as inputs so that the batch reports them."""
    paths = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found = find_audio_files(item)
            paths.extend(found if found else [item])
        else:
            paths.append(item)
    return paths


@dataclass
class BatchResult:
    """What a batch did: files that worked, and ``(file, reason)`` for those that did not."""

    succeeded: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    n_rows: int = 0

    @property
    def exit_status(self):
        """0 when at least one file was processed, else 1."""
        return 0 if self.succeeded else 1


def _progress(total, *, desc, unit, enabled, leave=True, bar_format=None):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=leave, dynamic_ncols=True,
                mininterval=1.0, bar_format=bar_format)


def _file_bar(path, enabled):
    """A progress bar in seconds of audio for one recording."""
    try:
        duration_s = soundfile.info(str(path)).duration
    except Exception:  # the scan itself reports an unreadable file
        duration_s = None
    return _progress(duration_s, desc=Path(path).name[-30:], unit="s", enabled=enabled, leave=False,
                     bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of audio [{elapsed}<{remaining}]")


def detect_batch(run, inputs, out_csv, *, options=None, wav_path=None, progress=True):
    """Regions of many recordings to a CSV (``file,start_s,end_s,score``) and optionally one WAV.

    A file that cannot be used is logged and listed in the result's ``failed``; the others go on.
    Both outputs are written atomically when the batch ends.

    Returns
    -------
    BatchResult
    """
    import pandas as pd

    options = (options or DetectionOptions()).check()
    paths = expand_inputs(inputs)
    if not paths:
        raise ParameterError("no recordings given: pass audio files or folders holding .wav/.flac files")
    result = BatchResult()
    rows = []
    with (atomic_path(wav_path) if wav_path is not None else contextlib.nullcontext()) as wav_temporary:
        sound_file = None
        if wav_temporary is not None:
            is_wav = Path(wav_path).suffix.lower() == ".wav"
            sound_file = soundfile.SoundFile(str(wav_temporary), mode="w", samplerate=run.front_end.sr, channels=1,
                                             subtype="FLOAT" if is_wav else None)
        first = True
        files_bar = _progress(len(paths), desc="recordings", unit="file", enabled=progress)
        try:
            for path in paths:
                bar = _file_bar(path, progress)
                try:
                    regions = detect_file(run, path, options=options, progress=bar)
                    if sound_file is not None:
                        first = write_regions_audio(sound_file, path, regions, sr=run.front_end.sr,
                                                    channel=options.channel, block_s=options.block_s, first=first)
                except AudioError as error:
                    log.warning("skipped %s", error)
                    result.failed.append((str(path), _reason(error, path)))
                else:
                    result.succeeded.append(str(path))
                    rows += [{"file": str(path), "start_s": r.start_s, "end_s": r.end_s, "score": r.score}
                             for r in regions]
                finally:
                    bar.close()
                    files_bar.update(1)
        finally:
            files_bar.close()
            if sound_file is not None:
                sound_file.close()
        with atomic_path(out_csv) as temporary:
            pd.DataFrame(rows, columns=list(REGION_COLUMNS)).to_csv(temporary, index=False, float_format="%.4f")
    result.n_rows = len(rows)
    return result


def _reason(error, path):
    text = str(error)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


# ---------------------------------------------------------------------------------------------
# Embeddings


def code_columns(latent_dim):
    """Column names of a code: ``code_000`` .. ``code_{latent_dim-1}``."""
    return [f"code_{k:03d}" for k in range(latent_dim)]


class TableWriter:
    """Rows appended in batches to a Parquet or CSV file (chosen by the suffix), in bounded memory."""

    def __init__(self, path, schema):
        import pyarrow.csv
        import pyarrow.parquet

        self.path = Path(path)
        self.schema = schema
        suffix = self.path.suffix.lower()
        if suffix == ".parquet":
            self._writer = pyarrow.parquet.ParquetWriter(str(self.path), schema)
        elif suffix == ".csv":
            self._writer = pyarrow.csv.CSVWriter(str(self.path), schema)
        else:
            raise ParameterError(f"the output must end in .parquet or .csv, got {self.path.name!r}")

    def write(self, table):
        if table.num_rows:
            self._writer.write_table(table.cast(self.schema))

    def close(self):
        self._writer.close()


def check_table_suffix(path):
    if Path(path).suffix.lower() not in (".parquet", ".csv"):
        raise ParameterError(f"--out must end in .parquet or .csv, got {Path(path).name!r}")


def embedding_schema(latent_dim, *, per):
    import pyarrow as pa

    fields = [pa.field("file", pa.string()), pa.field("start_s", pa.float64()), pa.field("end_s", pa.float64())]
    if per == "window":
        fields += [pa.field("p_not_silence", pa.float32()), pa.field("is_signal", pa.bool_())]
    else:
        fields += [pa.field("score", pa.float32()), pa.field("n_windows", pa.int32())]
    fields += [pa.field(name, pa.float32()) for name in code_columns(latent_dim)]
    return pa.schema(fields)


def _embedding_table(schema, file, start_s, end_s, middle, codes):
    import pyarrow as pa

    n = len(start_s)
    columns = {"file": pa.array([file] * n, pa.string()), "start_s": np.asarray(start_s, dtype=np.float64),
               "end_s": np.asarray(end_s, dtype=np.float64), **middle}
    codes = np.asarray(codes, dtype=np.float32).reshape(n, -1)
    for k, name in enumerate(code_columns(codes.shape[1])):
        columns[name] = codes[:, k]
    return pa.table(columns).cast(schema)


def embed_batch(run, inputs, out_path, *, per="region", signal_only=False, options=None, progress=True):
    """One code per window or per region of many recordings, to Parquet or CSV.

    Parameters
    ----------
    per : {"region", "window"}
        ``region``: one row per detected region, its code the mean of its windows' codes, with
        ``score`` and ``n_windows``. ``window``: one row per window, with ``p_not_silence`` and
        ``is_signal``.
    signal_only : bool
        With ``per="window"``, keep only windows called not silent.

    Rows of a file are written only when the whole file succeeded (per-window rows are spooled to
    a temporary file meanwhile), so a file that fails half way leaves nothing behind.

    Returns
    -------
    BatchResult
    """
    import pyarrow.parquet

    if per not in ("region", "window"):
        raise ParameterError(f"per must be 'region' or 'window', got {per!r}")
    check_table_suffix(out_path)
    options = (options or DetectionOptions()).check()
    if run.encoder is None:
        raise ParameterError(f"{run.run_dir}: embeddings need the encoder (models/{ENCODER_FILE})")
    paths = expand_inputs(inputs)
    if not paths:
        raise ParameterError("no recordings given: pass audio files or folders holding .wav/.flac files")
    schema = embedding_schema(run.latent_dim, per=per)
    result = BatchResult()
    out_path = Path(out_path)
    with atomic_path(out_path) as temporary, tempfile.TemporaryDirectory(dir=out_path.parent,
                                                                         prefix=f".{out_path.stem}.") as spool_dir:
        spool_path = Path(spool_dir) / "spool.parquet"  # one file's per-window rows until the file succeeds
        writer = TableWriter(temporary, schema)
        files_bar = _progress(len(paths), desc="recordings", unit="file", enabled=progress)
        try:
            for path in paths:
                bar = _file_bar(path, progress)
                spool = pyarrow.parquet.ParquetWriter(str(spool_path), schema) if per == "window" else None
                n_rows = [0]

                def on_windows(start_s, end_s, p_not_silence, is_signal, codes, path=path, spool=spool, n_rows=n_rows):
                    keep = is_signal if signal_only else np.ones(len(start_s), dtype=bool)
                    table = _embedding_table(schema, str(path), start_s[keep], end_s[keep],
                                             {"p_not_silence": p_not_silence[keep].astype(np.float32),
                                              "is_signal": is_signal[keep]}, codes[keep])
                    spool.write_table(table)
                    n_rows[0] += table.num_rows

                try:
                    regions = detect_file(run, path, options=options, with_codes=True, progress=bar,
                                          on_windows=on_windows if per == "window" else None)
                except AudioError as error:
                    log.warning("skipped %s", error)
                    result.failed.append((str(path), _reason(error, path)))
                    if spool is not None:
                        spool.close()
                    continue
                finally:
                    bar.close()
                    files_bar.update(1)
                result.succeeded.append(str(path))
                if per == "window":
                    spool.close()
                    for batch in pyarrow.parquet.ParquetFile(str(spool_path)).iter_batches():
                        writer.write(pyarrow.Table.from_batches([batch], schema=schema))
                    result.n_rows += n_rows[0]
                elif regions:
                    writer.write(_embedding_table(
                        schema, str(path), [r.start_s for r in regions], [r.end_s for r in regions],
                        {"score": np.array([r.score for r in regions], dtype=np.float32),
                         "n_windows": np.array([r.n_windows for r in regions], dtype=np.int32)},
                        np.stack([r.code for r in regions])))
                    result.n_rows += len(regions)
        finally:
            writer.close()
            files_bar.close()
    return result


# ---------------------------------------------------------------------------------------------
# Evaluation against known events


def overlap_s(a_start, a_end, b_start, b_end):
    """Length (s) of the overlap of two intervals (0 when they are apart)."""
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def region_recall_precision(regions, events, *, min_overlap=0.5):
    """Recall of true events and precision of detected regions.

    Matching rule: a region and an event match when their overlap is at least ``min_overlap`` of
    the event's duration *and* of the region's duration (at 0.5: each covers at least half of the
    other), so one long region that swallows many events matches none of them. An event is found
    when some region matches it; a region is correct when it matches some event.

    Parameters
    ----------
    regions, events : sequences of (start_s, end_s)

    Returns
    -------
    dict with ``recall``, ``precision``, ``n_events``, ``n_regions``, ``found``, ``correct``.
    """
    if not 0 < min_overlap <= 1:
        raise ParameterError(f"min_overlap must be in (0, 1], got {min_overlap}")

    def matches(a, b):
        return overlap_s(a[0], a[1], b[0], b[1]) >= min_overlap * max(a[1] - a[0], b[1] - b[0])

    found = sum(any(matches(event, region) for region in regions) for event in events)
    correct = sum(any(matches(region, event) for event in events) for region in regions)
    return {
        "recall": found / len(events) if len(events) else float("nan"),
        "precision": correct / len(regions) if len(regions) else float("nan"),
        "n_events": len(events),
        "n_regions": len(regions),
        "found": found,
        "correct": correct,
    }


def write_detector_run(run_dir, detector, front_end, *, encoder=None, threshold=0.5):
    """Lay out a run directory that ``detect``/``embed`` can use: the models, ``dataset.json`` and the threshold.

    For models trained outside ``dolphin-ae report`` (and for tests and benchmarks).
    """
    from dolphin_ae.runio import save_model, update_metrics, write_json

    run_dir = Path(run_dir)
    save_model(detector, run_dir / "models" / DETECTOR_FILE)
    if encoder is not None:
        save_model(encoder, run_dir / "models" / ENCODER_FILE)
    write_json(run_dir / DATASET_FILE, {"front_end": front_end.to_dict()})
    update_metrics(run_dir, "silence", {"threshold": float(threshold)})
    return run_dir
