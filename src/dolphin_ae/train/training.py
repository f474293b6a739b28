"""Training loops fed from (memory-mapped) NumPy windows; no TensorFlow-only input pipeline."""

import contextlib
import hashlib
import json
import math
import time
from pathlib import Path

import keras
import numpy as np

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.runio import read_json, write_json


class WindowBatches(keras.utils.PyDataset):
    """Batches of windows ``windows[indices]`` with a trailing channel axis, as (x, x) or (x, y).

    Reads from a memory-mapped array batch by batch, so the data set never needs to fit in memory.
    With ``shuffle`` the order of epoch ``e`` is drawn from ``(seed, e)``, so a run resumed at epoch
    ``e`` (``start_epoch``) sees the same batches as one that was never interrupted.
    """

    def __init__(self, windows, indices, *, batch_size=32, targets=None, shuffle=False, seed=0, start_epoch=0):
        super().__init__()
        if batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
        self.windows = windows
        self.indices = np.asarray(indices)
        self.batch_size = int(batch_size)
        self.targets = targets
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = int(start_epoch)
        self._order = self._epoch_order()

    def _epoch_order(self):
        if not self.shuffle:
            return self.indices.copy()
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.indices)

    def __len__(self):
        return math.ceil(len(self._order) / self.batch_size)

    def _chosen(self, batch):
        """The window indices of batch ``batch`` of this epoch, sorted: sorted reads are sequential on
        disk, and the order inside a batch does not matter to the loss."""
        return np.sort(self._order[batch * self.batch_size : (batch + 1) * self.batch_size])

    def __getitem__(self, batch):
        chosen = self._chosen(batch)
        x = np.asarray(self.windows[chosen], dtype=np.float32)[..., None]
        if self.targets is None:
            return x, x
        return x, np.asarray(self.targets[chosen])

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._epoch_order()


class EpochTimer(keras.callbacks.Callback):
    """Records each epoch's wall time (s) in the history as ``epoch_seconds``."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


@contextlib.contextmanager
def precision_policy(mixed_precision=False):
    """Build models inside this block to compute in bfloat16 (``mixed_precision``), keeping float32 weights.

    bfloat16 keeps float32's exponent range, so unlike float16 it needs no loss scaling; GPUs from
    Ampere on and recent CPUs (AVX-512 BF16, AMX) compute it natively. The models' code layer
    (``"latent"``) and output layer compute in float32 whatever the policy.
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if mixed_precision else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


STATE_FILE = "state.json"


class TrainingState(keras.callbacks.Callback):
    """Per-epoch history, early stopping on the validation loss, and checkpoints that survive a crash.

    After every epoch, with a ``directory``: the model's weights and the optimizer's state are written
    to a file named after the epoch, then ``state.json`` is rewritten (atomically) to point at
    them, then the previous epoch's files are removed. ``state.json`` is the commit point: a run
    killed at any moment leaves a state that names complete files. ``train_autoencoder`` adds
    ``"settings"`` (its ``training_key``) and, once the last epoch is done, ``"finished": true``.
    """

    def __init__(self, *, directory=None, patience=0, monitor="val_loss", state=None):
        super().__init__()
        self.directory = Path(directory) if directory is not None else None
        self.patience = int(patience)
        self.monitor = monitor
        self.state = state or {"epochs_done": 0, "history": {}, "best_loss": None, "best_epoch": None,
                               "best_weights": None, "last_weights": None, "stopped_early": False}
        self.best_weights_in_memory = None

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        for key, value in logs.items():
            self.state["history"].setdefault(key, []).append(float(value))
        self.state["epochs_done"] = epoch + 1
        loss = logs.get(self.monitor, logs.get("loss"))
        improved = loss is not None and (self.state["best_loss"] is None or loss < self.state["best_loss"])
        if improved:
            self.state["best_loss"], self.state["best_epoch"] = float(loss), epoch + 1
        if self.patience and self.state["epochs_done"] - self.state["best_epoch"] >= self.patience:
            self.state["stopped_early"] = True
            self.model.stop_training = True
        if self.directory is None:
            if improved:
                self.best_weights_in_memory = self.model.get_weights()
            return
        stale = {self.state["last_weights"]}
        name = f"epoch-{epoch + 1:04d}.weights.h5"
        # The weights file holds the optimizer's moments and step count too.
        self.model.save_weights(self.directory / name)
        self.state["last_weights"] = name
        if improved:
            stale.add(self.state["best_weights"])
            self.state["best_weights"] = name
        stale -= {self.state["last_weights"], self.state["best_weights"], None}
        write_json(self.directory / STATE_FILE, self.state)
        for name in stale:
            (self.directory / name).unlink(missing_ok=True)

    def restore_best(self):
        """Load the weights of the best epoch, if there was one."""
        if self.directory is not None and self.state["best_weights"]:
            self.model.load_weights(self.directory / self.state["best_weights"])
        elif self.best_weights_in_memory is not None:
            self.model.set_weights(self.best_weights_in_memory)


def _resume(model, directory, settings):
    """Load the state in ``directory`` into ``model`` and its optimizer; None when there is none."""
    state = read_json(directory / STATE_FILE, default={})
    if not state:
        return None
    if state.get("settings") != settings:
        raise ParameterError(f"{directory}: holds checkpoints of another training run ({state.get('settings')}); "
                             f"this one is {settings}. Remove the folder or choose another checkpoint_dir")
    # A built optimizer takes its moments and step count from the weights file as well.
    model.optimizer.build(model.trainable_variables)
    model.load_weights(directory / state["last_weights"])
    return state


def checkpoint_folder(root, model_name, settings):
    """``root/<model_name>-<digest of settings>``: one folder per model and training run (``training_key``)."""
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return Path(root) / f"{model_name}-{digest}"


def model_fingerprint(model):
    """Digest of ``model``'s full configuration: layers, their options, sizes, dtype policies and wiring.

    Keras numbers the names of layers it names itself (``forward_lstm_2``) by how many were built
    before in the process, so every name is replaced by its order of first appearance; two models
    built alike in two processes get the same digest, models that differ in any option do not.
    """
    try:
        config = json.loads(model.to_json())
    except (NotImplementedError, TypeError, ValueError):  # a model that cannot describe itself
        config = [(layer.__class__.__name__, layer.get_config(), [tuple(w.shape) for w in layer.weights])
                  for layer in model.layers]
        config = json.loads(json.dumps(config, default=str))
    names = {}

    def collect(node):
        if isinstance(node, dict):
            for key in sorted(node):
                if key == "name" and isinstance(node[key], str):
                    names.setdefault(node[key], f"<name {len(names)}>")
                collect(node[key])
        elif isinstance(node, list):
            for item in node:
                collect(item)

    def rename(node):
        if isinstance(node, dict):
            return {key: rename(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rename(item) for item in node]
        return names.get(node, node) if isinstance(node, str) else node

    collect(config)
    return hashlib.blake2b(json.dumps(rename(config), sort_keys=True).encode(), digest_size=16).hexdigest()


def windows_fingerprint(windows, indices, *, chunk=256):
    """Digest of ``windows[indices]`` (their bytes, in the order of ``indices``) and of the indices.

    Reads the windows in chunks of ``chunk``, so a memory-mapped array is never loaded whole.
    """
    indices = np.asarray(indices, dtype=np.int64)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(tuple(np.shape(windows)[1:])).encode())
    digest.update(indices.tobytes())
    for start in range(0, len(indices), chunk):
        digest.update(np.ascontiguousarray(windows[indices[start : start + chunk]], dtype=np.float32).tobytes())
    return digest.hexdigest()


def _code_fingerprint():
    """Digest of the code that shapes a trained model: ``dolphin_ae.models`` and this module."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.blake2b(digest_size=16)
    for path in [Path(__file__).resolve(), *sorted((package / "models").glob("*.py"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def training_key(model, windows, train_indices, validation_indices=None, **settings):
    """Everything a trained model depends on, as a JSON-able dict; ``checkpoint_folder`` names its digest.

    ``model``'s full configuration and dtype policy (``model_fingerprint``), its parameter count,
    the code of the models and of the training loop, the Keras version and backend, every training
    setting passed as ``settings`` (epochs, batch size, learning rate, schedule, patience, JIT,
    seed, ...), and the content of the training and validation windows with their indices
    (``windows_fingerprint``): two runs share a key only when they would train the same model.
    """
    has_validation = validation_indices is not None and len(validation_indices) > 0
    return {
        "model": model.name, "model_config": model_fingerprint(model),
        "dtype_policy": model.dtype_policy.name,
        "n_parameters": int(model.count_params()), "code": _code_fingerprint(),
        "keras": keras.__version__, "backend": keras.backend.backend(),
        **{key: (value.item() if isinstance(value, np.generic) else value) for key, value in settings.items()},
        "n_train": int(len(train_indices)), "train_windows": windows_fingerprint(windows, train_indices),
        "n_validation": int(len(validation_indices)) if has_validation else 0,
        "validation_windows": windows_fingerprint(windows, validation_indices) if has_validation else None,
    }


LR_SCHEDULES = ("constant", "cosine")


def learning_rate_schedule(learning_rate, schedule, total_steps):
    """Adam's learning rate: fixed (``constant``, as the seed) or falling from ``learning_rate`` to 0
    along half a cosine over ``total_steps`` (``cosine``), which lets the last epochs settle."""
    if schedule not in LR_SCHEDULES:
        raise ParameterError(f"lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}")
    if not learning_rate > 0:
        raise ParameterError(f"learning_rate must be positive, got {learning_rate}")
    if schedule == "constant":
        return float(learning_rate)
    return keras.optimizers.schedules.CosineDecay(float(learning_rate), decay_steps=max(1, int(total_steps)))


def train_autoencoder(model, windows, train_indices, *, validation_indices=None, epochs=10, batch_size=10,
                      learning_rate=1e-3, lr_schedule="constant", jit_compile=False, patience=0, checkpoint_dir=None,
                      callbacks=(), seed=0, verbose=2, objective="mse", recordings=None, is_background=None,
                      labels=None):
    """Fit ``model`` to reproduce its input windows (MSE, Adam), as the seed did, or to another ``objective``.

    Parameters
    ----------
    model : keras.Model
        An autoencoder, window (frames, bins, 1) -> window. Models with their own loss
        (``compute_loss``, as the variational one) keep it.
    windows : np.ndarray, shape (n_windows, frames, bins)
        Read batch by batch, so a memory-mapped array works.
    train_indices, validation_indices : arrays of window indices
    epochs : int
        Epochs in all, counting those done before an interruption.
    lr_schedule : {"constant", "cosine"}
        ``cosine`` decays the learning rate to 0 over ``epochs`` epochs (``learning_rate_schedule``);
        early stopping may end the run before the rate reaches 0.
    patience : int
        With validation windows: stop when the validation loss has not improved for this many
        epochs, and keep the weights of the best epoch. 0: train every epoch (the best weights are
        still restored at the end when there are validation windows).
    jit_compile : bool
        XLA compilation of the training step.
    checkpoint_dir : path or None
        Where to write a checkpoint after every epoch, in a subfolder named after the model and a
        digest of ``training_key``: the model's full configuration and dtype policy, the code of
        the models and of this loop, every training setting (``epochs``, ``batch_size``,
        ``learning_rate``, ``lr_schedule``, ``patience``, ``jit_compile``, ``seed``) and the content
        of the training and validation windows with their indices. When that subfolder already
        holds a checkpoint of an interrupted run, training resumes after its last finished epoch
        and ends with the weights an uninterrupted run would have. When training ends, the state
        is marked ``finished``; a later call with the same key (the same model, settings, code and
        windows) loads the finished weights instead of training again, and says so
        (``resumed_after_epoch``). Any other run has another key, so it trains in a folder of
        its own; ``dolphin-ae report --force`` removes the run's checkpoints.
    callbacks : sequence of keras.callbacks.Callback
        Called after the built-in ones.
    objective : str or Objective
        ``"mse"`` (the seed's), ``"denoising"``, ``"contrastive"``, ``"contrastive_mse"``,
        ``"supervised"`` or ``"supervised_mse"`` with default settings, or a :class:`~dolphin_ae.train.objective_settings.Objective` (see that
        module). Any other than ``mse`` adds its settings, the digest of its code and of its
        background windows to ``training_key``; ``mse`` leaves the key as it was. The validation
        loss is the objective's, on inputs drawn alike every epoch.
    recordings, is_background : arrays of shape (n_windows,) or None
        Each window's recording and whether it is silence (``dataset.index["recording"]``,
        ``dataset.is_silence``): the background windows of ``denoising`` and of the contrastive
        views' mixing come from training recordings other than the example's.
    labels : array of int, shape (n_windows,), or None
        Each window's class number (``encode_labels`` of ``dataset.index["label"]``), needed by the
        supervised objectives; only the training and validation windows' are read, and their digest
        enters ``training_key``.

    Returns
    -------
    history : dict
        Per-epoch lists (``loss``, ``val_loss``, ``epoch_seconds``, ...) over every epoch run, plus
        ``best_epoch`` (1-based, the epoch whose weights the model ends with), ``stopped_early``, and
        ``resumed_after_epoch``: the epochs read from a checkpoint rather than trained by this call
        (0 for a fresh run; every epoch when a finished run was loaded).
    """
    if epochs < 1:
        raise ParameterError(f"epochs must be at least 1, got {epochs}")
    if batch_size < 1:
        raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
    if patience < 0:
        raise ParameterError(f"patience must be 0 (off) or a positive number of epochs, got {patience}")
    if len(train_indices) == 0:
        raise ParameterError("no training windows")
    has_validation = validation_indices is not None and len(validation_indices) > 0
    if patience and not has_validation:
        raise ParameterError("patience (early stopping) needs validation windows; none were given")
    from dolphin_ae.train.objectives import ObjectiveRun  # imports this module

    keras.utils.set_random_seed(seed)
    if labels is not None and len(labels) != len(windows):
        raise ParameterError(f"labels must give one class per window: {len(labels)} for {len(windows)} windows")
    run = ObjectiveRun(model, objective, train_indices, recordings=recordings, is_background=is_background,
                       labels=labels)
    fitted = run.fit_model
    steps_per_epoch = math.ceil(len(train_indices) / batch_size)
    rate = learning_rate_schedule(learning_rate, lr_schedule, epochs * steps_per_epoch)
    fitted.compile(optimizer=keras.optimizers.Adam(rate), loss=run.loss, jit_compile=jit_compile)
    state, directory, settings = None, None, None
    if checkpoint_dir is not None:
        label_indices = np.concatenate([train_indices, validation_indices if has_validation else []]).astype(np.int64)
        settings = training_key(model, windows, train_indices, validation_indices if has_validation else None,
                                epochs=int(epochs), batch_size=int(batch_size), learning_rate=float(learning_rate),
                                lr_schedule=lr_schedule, patience=int(patience), jit_compile=bool(jit_compile),
                                seed=int(seed), **run.key(label_indices))
        directory = checkpoint_folder(checkpoint_dir, model.name, settings)
        directory.mkdir(parents=True, exist_ok=True)
        state = _resume(fitted, directory, settings)
    tracker = TrainingState(directory=directory, patience=patience,
                            monitor="val_loss" if has_validation else "loss", state=state)
    tracker.state["settings"] = settings
    start_epoch = tracker.state["epochs_done"]
    finished = tracker.state.get("finished") or start_epoch >= epochs or tracker.state["stopped_early"]
    if finished and verbose:
        print(f"loading the finished training in {directory} (same model, settings, code and windows); nothing to train")
    if not finished:
        if start_epoch and verbose:
            print(f"resuming from {directory} after epoch {start_epoch}")
        train = run.batches(windows, train_indices, batch_size=batch_size, shuffle=True, seed=seed,
                            start_epoch=start_epoch)
        validation = None
        if has_validation:
            validation = run.batches(windows, validation_indices, batch_size=max(batch_size, 64), seed=seed)
        # shuffle=False: the batches shuffle themselves, reproducibly per epoch; Keras's own shuffling of
        # the batch order draws from Python's global random state, which a resumed process cannot replay.
        fitted.fit(train, validation_data=validation, epochs=epochs, initial_epoch=start_epoch, shuffle=False,
                   verbose=verbose, callbacks=[EpochTimer(), tracker, *callbacks])
        tracker.state["finished"] = True
        if directory is not None:
            write_json(directory / STATE_FILE, tracker.state)
    tracker.set_model(fitted)
    if has_validation:
        tracker.restore_best()
    history = {key: list(values) for key, values in tracker.state["history"].items()}
    history["best_epoch"] = tracker.state["best_epoch"] if has_validation else tracker.state["epochs_done"]
    history["stopped_early"] = bool(tracker.state["stopped_early"])
    history["resumed_after_epoch"] = int(start_epoch)
    return history


def predict_windows(model, windows, indices, *, batch_size=64):
    """``model`` applied to ``windows[indices]`` batch by batch, as one NumPy array."""
    if len(indices) == 0:
        return np.zeros((0,) + tuple(model.output_shape[1:]), dtype=np.float32)
    return np.asarray(model.predict(WindowBatches(windows, indices, batch_size=batch_size), verbose=0))
