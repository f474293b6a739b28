"""One task per recording (or per span of a long one), in this process or on a Dask cluster, with the trained
run loaded once per process.

``detect``, ``embed`` and ``index`` hand :func:`map_recordings` a task (a picklable callable taking a
recording's path) and a ``distributed.Client`` or ``None`` (:func:`dolphin_ae.engine.engine_client`).
The task is the same function on either engine, so both give the same answer: it reads its recording
in blocks (:func:`dolphin_ae.field.regions.detect_file`), so memory per worker stays flat in
recording length, and it writes its own output part, so only a small summary travels back. On a cluster a
recording longer than ``task_s`` may be cut into spans scored by tasks of their own and joined by a last
one (:mod:`dolphin_ae.field.spans`), so that one long recording keeps every worker busy.

A task names the run by a :class:`RunSpec` (its folder, threshold and embedding), not by the loaded
models: :func:`cached_run` loads the run once per process (a worker keeps it for every later task)
and loads it again only when one of the run's files changes (size or modification time).

A recording that cannot be used (:class:`dolphin_ae.exceptions.AudioError`) comes back as a failure
with its reason, as does one whose worker died under it (``distributed.KilledWorker``: out of memory,
a crash in a library); any other error is a fault of the program and stops the batch.
"""

import threading
from dataclasses import dataclass
from pathlib import Path

import soundfile

from dolphin_ae.exceptions import AudioError
from dolphin_ae.field.run import embedding_run, load_detector_run
from dolphin_ae.layout import RunLayout


@dataclass(frozen=True)
class RunSpec:
    """A trained run as tasks name it: ``run_dir`` (resolved), the silence ``threshold`` in use and the
    ``embedding`` (``"encoder"`` or ``"pooled"``, :func:`dolphin_ae.field.run.embedding_run`)."""

    run_dir: str
    threshold: float
    embedding: str = "encoder"

    @classmethod
    def of(cls, run, embedding="encoder"):
        """The spec of a loaded :class:`~dolphin_ae.field.run.DetectorRun`."""
        return cls(run_dir=str(Path(run.run_dir).resolve()), threshold=float(run.threshold), embedding=embedding)


def run_files_stat(run_dir):
    """``(name, size, mtime_ns)`` of the run's files that loading reads (``None`` for a missing one)."""
    layout = RunLayout(run_dir)
    stats = []
    for path in (layout.detector, layout.encoder, layout.dataset, layout.metrics):
        try:
            info = path.stat()
        except FileNotFoundError:
            stats.append((path.name, None, None))
        else:
            stats.append((path.name, info.st_size, info.st_mtime_ns))
    return tuple(stats)


class _RunCache:
    """The one run this process holds, keyed by its spec and its files' stat; counts loads and hits."""

    def __init__(self):
        self._key, self._run = None, None
        self.loads = self.hits = 0
        self._lock = threading.Lock()  # a worker with several threads must not load the run twice at once

    def get(self, spec):
        key = (spec, run_files_stat(spec.run_dir))
        with self._lock:
            if key != self._key:
                run = load_detector_run(spec.run_dir, threshold=spec.threshold)
                self._key, self._run = key, embedding_run(run, spec.embedding) if spec.embedding != "encoder" else run
                self.loads += 1
            else:
                self.hits += 1
            return self._run

    def put(self, spec, run):
        with self._lock:
            self._key, self._run = (spec, run_files_stat(spec.run_dir)), run


_CACHE = _RunCache()


def cached_run(spec):
    """The run ``spec`` names, loaded at most once per process while its files stay unchanged."""
    return _CACHE.get(spec)


def remember_run(spec, run):
    """Make ``run`` (already loaded by the caller) the one :func:`cached_run` gives for ``spec`` in this process."""
    _CACHE.put(spec, run)


def run_cache_info():
    """``{"loads": n, "hits": n}``: how often this process loaded a run and how often it reused one."""
    return {"loads": _CACHE.loads, "hits": _CACHE.hits}


def progress_bar(total, *, desc, unit, enabled, leave=True, bar_format=None):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=leave, dynamic_ncols=True,
                mininterval=1.0, bar_format=bar_format)


def file_bar(path, enabled):
    """A progress bar in seconds of audio for one recording."""
    try:
        duration_s = soundfile.info(str(path)).duration
    except Exception:  # the task itself reports an unreadable file
        duration_s = None
    return progress_bar(duration_s, desc=Path(path).name[-30:], unit="s", enabled=enabled, leave=False,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of audio "
                                   "[{elapsed}<{remaining}]")


def failure_reason(error, path):
    """An error's message without the leading ``"<path>: "`` (the report names the file itself)."""
    text = str(error)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def attempt(task, path, progress=None, **kwargs):
    """``{"ok": True, **task(path)}``, or ``{"ok": False, "reason": ...}`` when the recording cannot be used."""
    try:
        return {"ok": True, **task(path, progress=progress, **kwargs)}
    except AudioError as error:
        return {"ok": False, "reason": failure_reason(error, path)}


def finish_spans(task, path, spans):
    """``task(path, spans=...)`` on the outcomes of a recording's span tasks, or the first span's failure."""
    for outcome in spans:
        if not outcome["ok"]:
            return outcome
    return attempt(task, path, spans=[{k: v for k, v in outcome.items() if k != "ok"} for outcome in spans])


def attempt_prepared(task, path, prepared):
    """``attempt(task, path)`` given the outcome of the task it waited for (None: none), passing on what that
    task returned; its failure is this task's."""
    if prepared is None:
        return attempt(task, path)
    if not prepared["ok"]:
        return prepared
    return attempt(task, path, **{k: v for k, v in prepared.items() if k != "ok"})


def _submit(client, task, path, split):
    """The future of ``path``'s outcome: one task, or (``split``) its span tasks, the task they wait for if any,
    and the task that joins them."""
    plan = None if split is None else split(path)
    if plan is None or not plan.spans:
        return client.submit(attempt, task, path, pure=False)
    prepared = None if plan.prepare is None else client.submit(attempt, plan.prepare, path, pure=False)
    spans = [client.submit(attempt_prepared, span_task, path, prepared, pure=False) for span_task in plan.spans]
    return client.submit(finish_spans, task, path, spans, pure=False)


def map_recordings(task, paths, *, client=None, progress=True, split=None):
    """Run ``task(path, progress=bar)`` on every recording; yield ``(i, path, outcome)`` as each finishes.

    Parameters
    ----------
    task : callable
        Returns a dict (a small summary of what it wrote) or raises ``AudioError``. With a client it
        must pickle (a module-level function, or a ``functools.partial`` of one).
    paths : list of Path
    client : distributed.Client or None
        None: one after another in this process, with a progress bar per recording in seconds of
        audio; else one task per recording on the cluster, yielded in the order they finish.
    split : callable or None
        With a client: ``split(path)`` gives the :class:`~dolphin_ae.field.spans.SpanPlan` of a long recording
        (:func:`dolphin_ae.field.spans.span_tasks`) or None to keep it one task. Its ``prepare`` task runs first
        if there is one, its spans as tasks of their own (given what ``prepare`` returned), then ``task(path,
        progress=None, spans=[their results])`` joins them.

    Yields
    ------
    i : int
        The recording's position in ``paths``.
    path : Path
    outcome : dict
        ``ok`` (bool), then the task's summary, or ``reason`` when it failed.
    """
    files_bar = progress_bar(len(paths), desc="recordings", unit="file", enabled=progress)
    try:
        if client is None:
            for i, path in enumerate(paths):
                bar = file_bar(path, progress)
                try:
                    outcome = attempt(task, path, progress=bar)
                finally:
                    bar.close()
                files_bar.update(1)
                yield i, path, outcome
            return
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        # pure=False: a rerun on a long-lived cluster must read the recordings again, not reuse results.
        futures = [_submit(client, task, path, split) for path in paths]
        position = {future.key: i for i, future in enumerate(futures)}
        for future in as_completed(futures):
            i = position[future.key]
            if future.status == "error" and isinstance(future.exception(), KilledWorker):
                outcome = {"ok": False, "reason": f"the worker processing it died ({future.exception()})"}
            else:
                outcome = future.result()  # any other error is the program's: raised here, stopping the batch
            future.release()
            files_bar.update(1)
            yield i, paths[i], outcome
    finally:
        files_bar.close()
