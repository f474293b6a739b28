"""Scoring windows: one model call per batch of normalised windows, batches made ahead of the model.

Scoring costs one model call per batch of ``batch_size`` windows (:func:`score_batch`): the detector,
or, when codes are wanted too, one model with both outputs. Batches are filled across blocks
(:func:`normalised_batches`), so only a recording's last is padded, and they are made in a thread of
their own ahead of the model (:func:`made_ahead`). Each window is scored on its own, so none of this
changes a number: on TensorFlow the scores and codes are bit for bit those of calling the encoder and
the head separately, block by block (``tests/field/test_detect.py``). :mod:`dolphin_ae.field.regions`
merges the scores into regions.
"""

import numpy as np

from dolphin_ae.audio.pipeline import normalise
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.layout import ENCODER_FILE, MODELS_DIR

# Batches that reading and the front end may make ahead of the model (0: made in turn, in one thread).
# While the model scores one batch, the next is made in another thread, on what the model leaves of
# the cores: on 2 cores, 3 minutes of audio took 2.00 s against 2.08 s (means of 4 runs in one process).
BATCHES_AHEAD = 1


def _scoring_model(run, with_codes):
    """The one Keras model that scores a batch in one call, built once per run; None when there is none.

    Without codes it is the detector itself (``head(encoder(window))`` when the run has both parts).
    With codes it is a model of the same layers with two outputs, ``[p_silence, codes]``: the encoder
    runs once, inside the same compiled function as the head, instead of a model call for each. None
    when the codes do not come from a Keras model (the pooled peer, :func:`~dolphin_ae.field.run.embedding_run`).
    """
    cache = run.scoring_models
    if with_codes not in cache:
        import keras

        model = run.detector
        if with_codes:
            model = None
            if isinstance(run.encoder, keras.Model):
                window = keras.Input(shape=tuple(run.detector.input_shape[1:]), name="window")
                if run.head is not None:
                    codes = run.encoder(window)
                    outputs = [run.head(codes), codes]
                else:
                    outputs = [run.detector(window), run.encoder(window)]
                model = keras.Model(window, outputs, name="detector_with_codes")
        cache.setdefault(with_codes, model)
    return cache[with_codes]


def check_codes(run):
    if run.encoder is None:
        raise ParameterError(f"{run.run_dir}: embeddings need {MODELS_DIR}/{ENCODER_FILE}")


def score_batch(run, x, *, with_codes=False):
    """Probability of silence (and codes) of one batch of normalised windows, in one model call.

    Parameters
    ----------
    run : DetectorRun
    x : np.ndarray, shape (batch_size, window_frames, n_bins, 1), float32
        Normalised windows (:func:`dolphin_ae.audio.pipeline.normalise`). Every window is scored on its
        own; keeping ``batch_size`` the same from call to call (padding the last batch) lets the
        model's compiled function be traced once.

    Returns
    -------
    p_silence : np.ndarray, shape (batch_size,), float32
    codes : np.ndarray, shape (batch_size, latent_dim), float32, or None when ``with_codes`` is False
    """
    if with_codes:
        check_codes(run)
    model = _scoring_model(run, with_codes)
    if model is None:  # codes from a model of another kind, called on its own
        p, codes = run.detector.predict_on_batch(x), run.encoder.predict_on_batch(x)
    else:
        outputs = model.predict_on_batch(x)
        p, codes = outputs if with_codes else (outputs, None)
    p_silence = np.asarray(p, dtype=np.float32).reshape(-1)
    return p_silence, (None if codes is None else np.asarray(codes, dtype=np.float32))


def normalised_batches(windows_stream, front_end, *, batch_size=64):
    """Regroup the windows of a stream into full batches of normalised model input.

    The windows of a block rarely fill a whole number of batches; the ones left over wait for the next
    block, so every batch but the recording's last is full and no model call is spent on padding.

    Parameters
    ----------
    windows_stream : iterable of (first_window, windows)
        As :func:`dolphin_ae.audio.pipeline.stream_windows` yields: consecutive runs of un-normalised
        windows, shape (n, window_frames, n_bins), the first being window ``first_window`` of the recording.
    front_end : FrontEnd
        Whose normalisation applies.
    batch_size : int

    Yields
    ------
    first_window : int
        Index of the batch's first window in the recording.
    x : np.ndarray, shape (batch_size, window_frames, n_bins, 1), float32
        A new array per batch; its first ``n`` windows normalised, the rest (the last batch only) zeros.
    n : int
    """
    x, filled, first = None, 0, 0
    for start, windows in windows_stream:
        if x is not None and start != first + filled:
            raise ParameterError(f"windows_stream must hold consecutive windows: window {first + filled} was next, "
                                 f"got {start}")
        used = 0
        while used < windows.shape[0]:
            if x is None:
                x = np.empty((batch_size,) + windows.shape[1:] + (1,), dtype=np.float32)
                filled, first = 0, start + used
            take = min(batch_size - filled, windows.shape[0] - used)
            normalise(windows[used : used + take], front_end, out=x[filled : filled + take, ..., 0])
            filled += take
            used += take
            if filled == batch_size:
                yield first, x, filled
                x = None
    if x is not None:
        x[filled:] = 0.0
        yield first, x, filled


def made_ahead(iterable, *, depth=1):
    """The items of ``iterable``, made in a thread of their own up to ``depth`` items ahead of the caller.

    The caller's work on one item (a model call, which releases the GIL) overlaps the making of the
    next (reading, the front end); the items and their order are those of ``iterable``. An exception
    raised making an item is raised here, where that item would have come; when the caller stops early,
    the thread stops at its next item and closes ``iterable`` (so a file it reads is closed).
    """
    import queue
    import threading

    items = queue.Queue(maxsize=max(1, int(depth)))
    stop = threading.Event()
    end = object()

    def put(entry):
        while not stop.is_set():
            try:
                items.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def make():
        try:
            for item in iterable:
                if not put((item, None)):
                    return
            put((end, None))
        except BaseException as error:  # raised again in the caller's thread
            put((end, error))
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=make, name="made_ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = items.get()
            if item is end:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        thread.join()
