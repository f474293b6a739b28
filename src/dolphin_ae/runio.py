"""The run directory: atomic writes, ``metrics.json`` and ``manifest.json``.

Every file is written to a temporary name in the same folder and renamed into place, so a run
interrupted mid-write never leaves a half file that a later stage would trust.
"""

import contextlib
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from dolphin_ae.layout import MANIFEST_FILE, METRICS_FILE, RunLayout  # noqa: F401 (the names, re-exported)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, *, temporary_suffix=None):
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    The temporary file's name starts with a dot and ends in ``temporary_suffix`` (default: ``path``'s own
    suffix); give another one where readers of the folder pick files by suffix (``dask.dataframe.read_parquet``
    reads every ``*.parquet`` file under a folder, hidden ones too).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if temporary_suffix is None else temporary_suffix
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.tmp-", suffix=suffix)
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        # mkstemp makes owner-only files; give the result the permissions a plain open() would.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _to_json(value):
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return _to_json(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def json_values(value):
    """``value`` as JSON gives it back: NumPy values and paths made plain, tuples made lists."""
    return json.loads(json.dumps(_to_json(value)))


def write_json(path, data):
    """Write ``data`` (NumPy values allowed) as indented JSON, atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(_to_json(data), indent=2, sort_keys=True) + "\n")


def read_json(path, default=None):
    path = Path(path)
    if not path.exists():
        return {} if default is None else default
    return json.loads(path.read_text())


def _merge(base, update):
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def update_json(path, update):
    """Merge ``update`` into the JSON object at ``path`` (nested dicts merge) and write it back."""
    merged = _merge(read_json(path), _to_json(update))
    write_json(path, merged)
    return merged


def update_metrics(run_dir, section, values):
    """Set ``metrics.json[section]`` to exactly ``values`` (a dict), keeping every other section.

    The section is replaced, not merged: no key of an earlier write survives (a run at
    ``n_clusters=12`` must not keep the row of an earlier run at 8). A stage therefore writes
    each of its sections once, whole.
    """
    path = RunLayout(run_dir).metrics
    metrics = read_json(path)
    metrics[section] = _to_json(values)
    write_json(path, metrics)
    return metrics


def keep_metrics_sections(run_dir, sections):
    """Drop every section of ``metrics.json`` not named in ``sections``; return the names dropped.

    ``sections=()`` empties the file. The report calls this before re-running a stage, with the
    sections that existed when the stage before it finished, so that a section only a re-run stage
    wrote cannot outlive the run that wrote it.
    """
    path = RunLayout(run_dir).metrics
    if not path.exists():
        return []
    metrics = read_json(path)
    dropped = sorted(set(metrics) - set(sections))
    if dropped:
        write_json(path, {name: value for name, value in metrics.items() if name in set(sections)})
    return dropped


def read_metrics(run_dir):
    return read_json(RunLayout(run_dir).metrics)


def write_chosen_table(table, provenance, path, *, chosen_columns=None):
    """Write a development table (CSV, floats to 4 decimals) and ``<name>.json`` beside it, atomically.

    ``table`` is a DataFrame with a boolean ``chosen`` column marking one row; the JSON holds
    ``provenance`` (command, seeds, ...) plus that row's ``chosen_columns`` (all columns when None).
    Returns the CSV's path.
    """
    path = Path(path)
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False, float_format="%.4f")
    chosen = table[table["chosen"]].iloc[0]
    columns = list(table.columns) if chosen_columns is None else list(chosen_columns)
    write_json(path.with_suffix(".json"), {**provenance, "chosen": {column: chosen[column] for column in columns}})
    return path


def save_array(path, array):
    """Save a NumPy array as ``.npy`` atomically."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.save(handle, np.asarray(array))


def save_model(model, path):
    """Save a Keras model as ``.keras`` atomically."""
    with atomic_path(path) as temporary:
        model.save(temporary)


def git_commit(directory=None):
    """The checked-out git commit of ``directory`` (or of this package), or None outside a checkout."""
    directory = directory or Path(__file__).resolve().parent
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True,
                                timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def environment_summary():
    """Package versions, Keras backend and compute devices, for the manifest.

    ``devices`` names every device the backend sees (``["CPU:0", "GPU:0"]``); ``device`` is the one
    the models run on, with what it is: the first GPU when there is one (``"GPU:0 (NVIDIA H200)"``),
    else ``"CPU:0"``.
    """
    from importlib import metadata

    versions = {}
    for name in ("dolphin-ae", "keras", "tensorflow-cpu", "tensorflow", "jax", "jaxlib", "jax-cuda12-plugin", "torch",
                 "numpy", "scipy", "scikit-learn", "librosa", "soundfile", "papermill", "jupytext", "jupyter-book",
                 "matplotlib"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    import keras

    backend = keras.backend.backend()
    devices = backend_devices()
    gpus = [(name, kind) for name, kind in devices if _is_gpu(name)]
    name, kind = gpus[0] if gpus else devices[0]
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "keras_backend": backend,
        "devices": [device for device, _ in devices],
        "device": f"{name} ({kind})" if kind else name,
        "packages": versions,
        "git_commit": git_commit(),
    }


def backend_devices():
    """``(name, kind)`` of every compute device the Keras backend sees, e.g. ``[("CPU:0", ""), ("GPU:0", "NVIDIA H200")]``.

    ``name`` is ``TYPE:index``; ``kind`` is the device's model where the backend tells it (a GPU's
    product name), else ``""``. A backend that cannot list its devices gives ``[("CPU:0", "")]``.
    """
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return [(f"{d.device_type}:{d.name.rsplit(':', 1)[-1]}", "") for d in tf.config.list_logical_devices()]
        if backend == "jax":
            import jax

            return [(f"{d.platform.upper()}:{d.id}", "" if d.platform == "cpu" else str(d.device_kind))
                    for d in jax.devices()]
        if backend == "torch":
            import torch

            return [("CPU:0", "")] + [(f"GPU:{i}", torch.cuda.get_device_name(i))
                                      for i in range(torch.cuda.device_count())]
    except Exception:  # a backend that cannot list its devices still runs on the CPU
        pass
    return [("CPU:0", "")]


def list_devices():
    """Names of the compute devices the Keras backend sees, e.g. ``["CPU:0", "GPU:0"]``."""
    return [name for name, _ in backend_devices()]


def _is_gpu(name):
    return name.startswith(("GPU", "CUDA"))


def has_gpu():
    """Whether the Keras backend sees a GPU (what ``--profile auto`` chooses by)."""
    return any(_is_gpu(name) for name in list_devices())


def record_stage(run_dir, stage, *, seconds, extra=None):
    """Set ``manifest.json["stages"][stage]`` to what the stage measured: its duration (s) and ``extra``.

    ``extra`` holds the facts a chapter found (counts, files it skipped, timings of its parts). The
    parameters are not recorded here: the report, which passes them, records them for every stage
    (``manifest.json["report"]["stages"][stage]``: ``parameters`` passed, ``defaults`` the rest).
    The stage's record (and the manifest's ``environment``) is replaced, not merged: nothing an
    earlier run of the stage recorded survives. Other stages' records and other fields are kept.
    """
    entry = {"seconds": round(float(seconds), 2), "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    entry.update(extra or {})
    path = RunLayout(run_dir).manifest
    environment = environment_summary()
    manifest = read_json(path)
    manifest.setdefault("stages", {})[stage] = _to_json(entry)
    manifest["environment"] = _to_json(environment)
    write_json(path, manifest)
