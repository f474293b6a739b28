"""Run every chapter notebook with papermill into a run directory, then build the Jupyter Book.

The notebooks' jupytext sources live in ``notebooks/``; the book's pages and table of contents in
``book/``; the Jupyter Book configuration in ``_config.yml``. A run copies the pages into
``<run_dir>/book/``, executes each notebook there in order, and builds the HTML into
``<run_dir>/book/_build/html``, so runs never overwrite each other or the checkout.
"""

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.runio import update_json, MANIFEST_FILE

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
    """``auto`` becomes ``gpu`` when the Keras backend sees a GPU, else ``cpu``."""
    if profile == "auto":
        from dolphin_ae.runio import has_gpu

        return "gpu" if has_gpu() else "cpu"
    if profile not in PROFILES:
        raise ParameterError(f"profile must be one of {PROFILES} or 'auto', got {profile!r}")
    return profile


def load_profile(profile, project_dir):
    path = Path(project_dir) / "params" / f"{profile}.yaml"
    if not path.exists():
        raise ParameterError(f"{path}: no such profile")
    values = yaml.safe_load(path.read_text()) or {}
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
        overrides[key.strip()] = yaml.safe_load(value)
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


def run_report(*, profile="auto", data_dir=None, run_dir=None, overrides=None, project_dir=None, build=True):
    """Execute every chapter at ``profile`` (plus ``overrides``) into ``run_dir`` and build the book.

    Returns the path of the built book's ``index.html`` (or of the run directory when ``build`` is False).

    Raises
    ------
    ParameterError
        An unknown profile, or an override that no notebook declares.
    papermill.PapermillExecutionError
        A notebook cell failed; the run stops there.
    subprocess.CalledProcessError
        The book build failed (warnings count as errors).
    """
    import papermill

    project_dir = find_project_dir(project_dir)
    profile = choose_profile(profile)
    parameters = load_profile(profile, project_dir)
    parameters.update(overrides or {})
    run_dir = Path(run_dir or project_dir / "runs" / profile).resolve()
    parameters["run_dir"] = str(run_dir)
    parameters["data_dir"] = str(Path(data_dir).resolve()) if data_dir else ""
    parameters["profile"] = profile
    book_dir = run_dir / "book"
    book_dir.mkdir(parents=True, exist_ok=True)
    for page in (project_dir / "book").iterdir():
        if page.is_file() and page.suffix in (".md", ".yml", ".png", ".bib"):
            shutil.copy2(page, book_dir / page.name)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    sources = notebook_sources(project_dir)
    executions, declared_anywhere = [], {"run_dir", "data_dir", "profile"}
    for source in sources:
        notebook_in = _to_ipynb(source, run_dir / ".notebooks" / f"{source.stem}.ipynb")
        declared = set(papermill.inspect_notebook(str(notebook_in)))
        declared_anywhere |= declared
        executions.append((source, notebook_in, declared))
    unknown = set(overrides or {}) - declared_anywhere
    if unknown:
        raise ParameterError(f"--set names unknown parameter(s) {sorted(unknown)}; the notebooks declare "
                             f"{sorted(declared_anywhere - {'profile'})}")

    timings = {}
    update_json(run_dir / MANIFEST_FILE, {"report": {"profile": profile, "parameters": parameters,
                                                     "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}})
    for source, notebook_in, declared in executions:
        print(f"[dolphin-ae] running {source.name} ...", flush=True)
        start = time.perf_counter()
        papermill.execute_notebook(
            str(notebook_in), str(book_dir / notebook_in.name),
            parameters={k: v for k, v in parameters.items() if k in declared},
            kernel_name="python3", log_output=True, progress_bar=False, cwd=str(run_dir),
        )
        timings[source.stem] = round(time.perf_counter() - start, 1)
        print(f"[dolphin-ae] {source.name} finished in {timings[source.stem]} s", flush=True)
    update_json(run_dir / MANIFEST_FILE, {"report": {"notebook_seconds": timings}})
    if not build:
        return run_dir
    return build_book(book_dir, project_dir=project_dir)


def build_book(book_dir, *, project_dir):
    """Build the HTML book in ``book_dir`` with the project's ``_config.yml``; warnings are errors."""
    book_dir = Path(book_dir)
    print(f"[dolphin-ae] building the book in {book_dir} ...", flush=True)
    start = time.perf_counter()
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(book_dir), "--config",
               str(Path(project_dir) / "_config.yml"), "--toc", str(book_dir / "_toc.yml"), "-W", "-n", "--keep-going"]
    subprocess.run(command, check=True)
    index = book_dir / "_build" / "html" / "index.html"
    print(f"[dolphin-ae] book built in {time.perf_counter() - start:.0f} s: {index}", flush=True)
    return index
