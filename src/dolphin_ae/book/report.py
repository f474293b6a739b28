"""Run every chapter notebook with papermill into a run directory, then build the Jupyter Book.

The notebooks' jupytext sources live in ``notebooks/``; the book's pages and table of contents in
``book/``; the Jupyter Book configuration in ``_config.yml``. A run copies the pages into
``<run_dir>/book/``, executes each notebook there in order, and builds the HTML into
``<run_dir>/book/_build/html``, so runs never overwrite each other or the checkout.

Runs resume. Each chapter is a stage with a *key*: a hash of its notebook source, the parameters it
receives, the package's source code, a fingerprint of the input data folder, and the keys of every
stage before it. ``manifest.json`` (``report.stages``) records each stage's key, status and, once done,
its ``parameters`` (those passed) and ``defaults`` (the notebook's values of the others), the one record
of the stages' parameters. A stage is marked ``running`` before it starts and ``done`` only when its
notebook finished, and the executed notebook carries the same key in its metadata. A re-run skips
every leading stage that is ``done`` with an unchanged key and executes the first changed or
unfinished stage and everything after it (later stages read its artifacts). ``force`` executes
everything and first removes the run's training checkpoints (``<run_dir>/checkpoints``), so every
model trains afresh.

Each stage replaces the ``metrics.json`` sections it writes (``runio.update_metrics``). Before the
first stage of a run executes, every section that did not exist when the stage before it finished
(``report.stages.<stage>.metrics_sections``) is dropped, all of them when that stage is the first:
no number of an earlier run's later stages outlives the run.
"""

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from dolphin_ae.exceptions import DolphinAEError, ParameterError
from dolphin_ae.book.parameters import check_parameters, declarations
from dolphin_ae.layout import BOOK_HTML_DIR, BOOK_INDEX_FILE, RunLayout
from dolphin_ae.runio import keep_metrics_sections, read_json, read_metrics

log = logging.getLogger(__name__)

PROFILES = ("ci", "cpu", "gpu")


def find_project_dir(start=None):
    """The checkout holding ``notebooks/``, ``book/`` and ``params/``: from ``start``, the cwd, or this package."""
    candidates = [Path(start)] if start else [Path.cwd(), Path(__file__).resolve().parent]
    for candidate in candidates:
        for directory in (candidate, *candidate.parents):
            if (directory / "notebooks").is_dir() and (directory / "params").is_dir() and (directory / "book").is_dir():
                return directory
    raise ParameterError(f"no project folder (with notebooks/, params/ and book/) at or above {candidates[0]}")


def choose_profile(profile):
    """``auto`` becomes ``gpu`` when the Keras backend sees a GPU, else ``cpu``.

    Under JAX the look starts a GPU client here, which by default would hold most of the GPU's memory
    while the chapters' kernels run: it looks with preallocation off (unless set already).
    """
    if profile == "auto":
        from dolphin_ae.runio import has_gpu

        set_here = "XLA_PYTHON_CLIENT_PREALLOCATE" not in os.environ
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        try:
            return "gpu" if has_gpu() else "cpu"
        finally:
            if set_here:
                os.environ.pop("XLA_PYTHON_CLIENT_PREALLOCATE", None)
    if profile not in PROFILES:
        raise ParameterError(f"profile must be one of {PROFILES} or 'auto', got {profile!r}")
    return profile


def _yaml_problem(error):
    """A YAML error in one line: what is wrong, and where (line and column, counted from 1)."""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    mark = getattr(error, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def load_profile(profile, project_dir):
    path = Path(project_dir) / "params" / f"{profile}.yaml"
    if not path.exists():
        raise ParameterError(f"{path}: no such profile")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ParameterError(f"{path}: not valid YAML ({_yaml_problem(error)})") from None
    if not isinstance(values, dict):
        raise ParameterError(f"{path}: expected a mapping of parameter names to values")
    return values


def parse_overrides(pairs):
    """``["epochs=3", "conv_filters=[32,16,16,8]"]`` -> ``{"epochs": 3, "conv_filters": [32, 16, 16, 8]}``."""
    overrides = {}
    for pair in pairs or ():
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise ParameterError(f"--set expects key=value, got {pair!r}")
        try:
            overrides[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            raise ParameterError(f"--set {pair}: the value is not valid YAML ({_yaml_problem(error)})") from None
    return overrides


def notebook_sources(project_dir):
    sources = sorted((Path(project_dir) / "notebooks").glob("[0-9][0-9]_*.py"))
    if not sources:
        raise ParameterError(f"{project_dir}/notebooks: no chapter sources (NN_name.py)")
    return sources


def _to_ipynb(source, destination):
    import jupytext

    notebook = jupytext.read(source)
    Path(destination).parent.mkdir(parents=True, exist_ok=True)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(notebook, destination, fmt="ipynb")
    return destination


def _inspect_quietly(notebook):
    """``papermill.inspect_notebook`` without its INFO line naming the notebook (the run logs each one it executes)."""
    import papermill

    papermill_log = logging.getLogger("papermill")
    level = papermill_log.level
    papermill_log.setLevel(max(level, logging.WARNING))
    try:
        return papermill.inspect_notebook(str(notebook))
    finally:
        papermill_log.setLevel(level)


def _hash(*parts):
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def package_source_hash():
    """Hash of every ``.py`` file of the installed ``dolphin_ae`` package (its code, not its data)."""
    package_dir = Path(__file__).resolve().parents[1]
    files = sorted(package_dir.rglob("*.py"))
    return _hash(*[(path.relative_to(package_dir).as_posix(), path.read_bytes().hex()) for path in files])


def data_fingerprint(data_dir):
    """Names, sizes and modification times of every file under ``data_dir`` (cheap; no file is read)."""
    if not data_dir or not Path(data_dir).is_dir():
        return None
    root = Path(data_dir)
    return _hash([(p.relative_to(root).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in sorted(root.rglob("*")) if p.is_file()])


def stage_key(source, parameters, *, upstream_key, code_hash, data_hash):
    """The key of one stage: what it runs, with what, on what, after what."""
    return _hash(Path(source).read_bytes().hex(), parameters, upstream_key or "", code_hash, data_hash or "")


def _stage_is_done(record, key, executed_notebook):
    if not record or record.get("status") != "done" or record.get("key") != key:
        return False
    if not executed_notebook.exists():
        return False
    try:
        metadata = json.loads(executed_notebook.read_text()).get("metadata", {})
    except (OSError, ValueError):
        return False
    return metadata.get("dolphin_ae", {}).get("stage_key") == key


READER_TAGS = ("remove-cell", "remove-input", "hide-cell", "hide-input")


# Lines that TensorFlow's C++ runtime (absl/glog format: severity, date, time, thread, file:line])
# writes to the kernel's stderr: start-up notices and, for some layer patterns, a graph optimiser's
# report that it skipped a fusion. They say nothing about the results.
RUNTIME_LOG_LINE = re.compile(r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.]+:\d+\] .*"
                              r"|WARNING: All log messages before absl::InitializeLog\(\) is called .*)$")


def _without_runtime_log(outputs):
    kept = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            text = output.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            lines = [line for line in text.splitlines(keepends=True) if not RUNTIME_LOG_LINE.match(line.rstrip("\n"))]
            if not "".join(lines).strip():
                continue
            output = {**output, "text": "".join(lines)}
        kept.append(output)
    return kept


def tag_for_readers(notebook):
    """Tag an executed notebook's code cells so that the book shows results first.

    The ``parameters`` cell (the defaults) is removed, because papermill's ``injected-parameters``
    cell below it states the values the run used; every code cell's source is folded behind a
    "show code" toggle, unless the cell already carries one of ``READER_TAGS``. Lines of
    TensorFlow's C++ runtime log (``RUNTIME_LOG_LINE``) are dropped from the cells' stderr; the
    report's own log keeps them.
    """
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        if "outputs" in cell:
            cell["outputs"] = _without_runtime_log(cell["outputs"])
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if any(tag in READER_TAGS for tag in tags):
            continue
        tags.append("remove-cell" if "parameters" in tags else "hide-input")
    return notebook


def _stamp_notebook(path, key, parameters):
    """Write the stage key and parameters into the executed notebook's metadata, and tag its cells
    for readers (``tag_for_readers``); atomically."""
    from dolphin_ae.runio import atomic_path

    notebook = tag_for_readers(json.loads(Path(path).read_text()))
    notebook.setdefault("metadata", {})["dolphin_ae"] = {"stage_key": key, "parameters": parameters}
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(notebook, indent=1) + "\n")


def _edit_report(manifest_path, *, stages=None, notebook_seconds=None, **fields):
    """Set fields of ``manifest.json["report"]``: ``fields`` replace theirs, each of ``stages`` replaces
    that stage's record, ``notebook_seconds`` adds to the timings."""
    from dolphin_ae.runio import write_json

    manifest = read_json(manifest_path)
    report = manifest.setdefault("report", {})
    report.update(fields)
    report.setdefault("stages", {}).update(stages or {})
    report.setdefault("notebook_seconds", {}).update(notebook_seconds or {})
    write_json(manifest_path, manifest)


def run_report(*, profile="auto", data_dir=None, run_dir=None, overrides=None, project_dir=None, build=True,
               force=False):
    """Execute every chapter at ``profile`` (plus ``overrides``) into ``run_dir`` and build the book.

    Stages finished earlier in ``run_dir`` with the same key (see the module's docstring) are
    skipped unless ``force``, which also removes ``run_dir/checkpoints`` so that no model resumes
    or reloads an earlier training.

    Returns the path of the built book's ``index.html`` (or of the run directory when ``build`` is False).

    Raises
    ------
    ParameterError
        Before any chapter runs: an unknown profile, a ``--data`` folder that does not exist, or a
        profile or override value that no notebook declares, that is not of the type the notebooks
        declare, or that is not one of its choices (``dolphin_ae.book.parameters``).
    papermill.PapermillExecutionError
        A notebook cell failed; the run stops there.
    subprocess.CalledProcessError
        The book build failed (warnings count as errors).
    """
    import papermill

    project_dir = find_project_dir(project_dir)
    profile = choose_profile(profile)
    profile_values = load_profile(profile, project_dir)
    overrides = dict(overrides or {})
    if data_dir and not Path(data_dir).is_dir():
        raise ParameterError(f"--data {data_dir}: no such folder")
    run_dir = Path(run_dir or project_dir / "runs" / profile).resolve()
    layout = RunLayout(run_dir)

    # Every value is checked against the notebooks' declarations before anything is written.
    sources = notebook_sources(project_dir)
    with tempfile.TemporaryDirectory(prefix="dolphin-ae-notebooks-") as staging:
        inspected, converted = {}, {}
        for source in sources:
            converted[source.stem] = _to_ipynb(source, Path(staging) / f"{source.stem}.ipynb")
            inspected[source.stem] = _inspect_quietly(converted[source.stem])
        profile_file = (Path(project_dir) / "params" / f"{profile}.yaml").as_posix()
        origins = {**{name: profile_file for name in profile_values}, **{name: "--set" for name in overrides}}
        check_parameters({**profile_values, **overrides}, declarations(inspected), origins=origins)
        executions = []
        for source in sources:
            notebook_in = layout.notebook_input(source.stem)
            notebook_in.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(converted[source.stem], notebook_in)
            executions.append((source, notebook_in, set(inspected[source.stem])))

    parameters = {**profile_values, **overrides}
    parameters["run_dir"] = str(run_dir)
    parameters["data_dir"] = str(Path(data_dir).resolve()) if data_dir else ""
    parameters["profile"] = profile
    book_dir = layout.book
    book_dir.mkdir(parents=True, exist_ok=True)
    for page in (project_dir / "book").iterdir():
        if page.is_file() and page.suffix in (".md", ".yml", ".png", ".bib"):
            shutil.copy2(page, book_dir / page.name)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    manifest_path = layout.manifest
    records = {} if force else read_json(manifest_path).get("report", {}).get("stages", {})
    if force:
        shutil.rmtree(layout.checkpoints, ignore_errors=True)
    _edit_report(manifest_path, profile=profile, parameters=parameters, overrides=overrides,
                 started_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    code_hash, data_hash = package_source_hash(), data_fingerprint(data_dir)
    defaults = {stage: {name: found[0][2] for name, found in declarations({stage: declared}).items()
                        if name not in parameters} for stage, declared in inspected.items()}
    keys, upstream_key = {}, None
    for source, _, declared in executions:
        stage_parameters = {k: v for k, v in parameters.items() if k in declared}
        upstream_key = keys[source.stem] = stage_key(source, stage_parameters, upstream_key=upstream_key,
                                                     code_hash=code_hash, data_hash=data_hash)
    stages = [source.stem for source, _, _ in executions]
    timings, executed, skipped = {}, [], []
    resuming = True  # leading stages may be skipped; after the first one that runs, every stage runs
    for position, (source, notebook_in, declared) in enumerate(executions):
        stage, key = source.stem, keys[source.stem]
        stage_parameters = {k: v for k, v in parameters.items() if k in declared}
        executed_notebook = layout.executed_notebook(stage)
        if resuming and _stage_is_done(records.get(stage), key, executed_notebook):
            print(f"[dolphin-ae] {source.name}: unchanged and finished earlier, skipped", flush=True)
            skipped.append(stage)
            _edit_report(manifest_path, last_run={"executed": executed, "skipped": skipped, "failed": None,
                                                  "finished": False})
            continue
        if resuming:
            # This stage's artifacts are about to change, so no later stage's may be trusted either.
            resuming = False
            _edit_report(manifest_path, stages={later: {"status": "stale"} for later in stages[position + 1 :]})
            # Sections of metrics.json that this stage or a later one wrote are rewritten or gone.
            previous = records.get(stages[position - 1], {}) if position else {}
            if position == 0 or "metrics_sections" in previous:
                keep_metrics_sections(run_dir, previous.get("metrics_sections", ()))
        _edit_report(manifest_path, stages={stage: {"status": "running", "key": key}})
        print(f"[dolphin-ae] running {source.name} ...", flush=True)
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(notebook_in), str(executed_notebook),
                parameters=stage_parameters,
                kernel_name="python3", log_output=True, progress_bar=False, cwd=str(run_dir),
            )
        except BaseException:
            _edit_report(manifest_path, stages={stage: {"status": "failed", "key": key}},
                         last_run={"executed": executed, "skipped": skipped, "failed": stage, "finished": True})
            raise
        _stamp_notebook(executed_notebook, key, stage_parameters)
        timings[stage] = round(time.perf_counter() - start, 1)
        executed.append(stage)
        _edit_report(manifest_path, stages={stage: {"status": "done", "key": key, "seconds": timings[stage],
                                                    "parameters": stage_parameters,
                                                    "defaults": defaults[stage],
                                                    "metrics_sections": sorted(read_metrics(run_dir)),
                                                    "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}},
                     notebook_seconds={stage: timings[stage]},
                     last_run={"executed": executed, "skipped": skipped, "failed": None, "finished": False})
        print(f"[dolphin-ae] {source.name} finished in {timings[stage]} s", flush=True)
    _edit_report(manifest_path, last_run={"executed": executed, "skipped": skipped, "failed": None, "finished": True})
    if not build:
        return run_dir
    return build_book(book_dir, project_dir=project_dir)


def build_book(book_dir, *, project_dir):
    """Build the HTML book of ``book_dir`` into ``book_dir/_build/html`` with the project's ``_config.yml``.

    Warnings are errors. The output folder is given to Jupyter Book explicitly (``--path-output``):
    left to itself it writes ``_build/`` beside the first ``_config.yml`` at or above the source
    folder, which for a run directory inside the checkout is the checkout itself.

    Returns
    -------
    Path
        ``book_dir/_build/html/index.html``.

    Raises
    ------
    subprocess.CalledProcessError
        The build failed (warnings count as errors).
    DolphinAEError
        The build reported success but wrote no ``index.html`` where this function says it is.
    """
    book_dir = Path(book_dir).resolve()
    print(f"[dolphin-ae] building the book in {book_dir} ...", flush=True)
    start = time.perf_counter()
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(book_dir), "--path-output",
               str(book_dir), "--config", str(Path(project_dir) / "_config.yml"), "--toc", str(book_dir / "_toc.yml"),
               "-W", "-n", "--keep-going"]
    subprocess.run(command, check=True)
    index = book_dir / BOOK_HTML_DIR / BOOK_INDEX_FILE
    if not index.is_file():
        raise DolphinAEError(f"the book build finished but wrote no {index}; look for a _build/ folder the build "
                             f"wrote elsewhere")
    print(f"[dolphin-ae] book built in {time.perf_counter() - start:.0f} s: {index}", flush=True)
    return index
