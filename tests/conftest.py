"""Fixtures shared by every test folder.

Markers: ``slow`` marks a test that executes chapter notebooks, builds a Jupyter Book, or trains
models for longer than a few seconds; ``make check`` (``pytest -m "not slow"``) leaves them out,
``make test`` runs everything. Every test that uses one of ``SLOW_FIXTURES`` is marked ``slow``
here, whatever its module says.

The ``ci`` report that ``built_run`` shares is started in the background as soon as collection
finds a selected test that needs it, and those tests run last (just before them, those marked
``reads_built_run``, which ask for it in their body), so the build overlaps the rest of the suite
(``DOLPHIN_AE_TEST_BUILD_IN_BACKGROUND=0``: build it when first needed, nothing alongside).
``DOLPHIN_AE_TEST_BUILT_RUN=<run dir>`` reads a finished ``ci`` run of the current code instead of
building one, for iterating on the book tests (``make test`` and CI never set it).

Kept in this one root ``conftest.py``: tests import helpers from it (``from conftest import tone``),
and a second ``conftest.py`` in a sub-folder would be imported under the same module name.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The suite runs the shared ci build (its notebook kernels) beside its own tests on a few cores. OpenMP
# threads that spin while they wait (libgomp's default) then hold cores the other process needs: on a
# loaded machine chapter 03's band-profile gradient boosting took 87 s so, and 8 s with sleeping
# waiters. They sleep here, in this process and (inherited) in the build's.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# TensorFlow unless KERAS_BACKEND names another: `make test-backends` runs tests under jax and torch.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile  # noqa: E402
import yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# Fixtures that run the real chapters or train a model end to end (tens of seconds to minutes).
SLOW_FIXTURES = {"built_run", "trained_run"}
# The code size of ``trained_run``'s encoder.
FIELD_LATENT_DIM = 16
CI_REPORT = [sys.executable, "-m", "dolphin_ae", "report", "--profile", "ci"]

# The shared ci build: its run directory, its process, and the files holding its output.
_ci_build = {}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)
    # The tests that read the shared build last (a stable sort keeps each module's order), those that ask for
    # it in their body just before them: each of those does work of its own first, which then runs while
    # the build finishes, instead of waiting for it in the middle of the suite with one core idle.
    items.sort(key=_build_order)


def _build_order(item):
    """0: needs no shared build; 1: asks for it in its body (marked ``reads_built_run``); 2: takes it as argument."""
    if "built_run" in item.fixturenames:
        return 2
    return 1 if item.get_closest_marker("reads_built_run") else 0


def pytest_collection_finish(session):
    option = session.config.option
    if option.collectonly or option.setupplan or os.environ.get("DOLPHIN_AE_TEST_BUILD_IN_BACKGROUND") == "0":
        return
    if os.environ.get("DOLPHIN_AE_TEST_BUILT_RUN"):
        return
    if any("built_run" in item.fixturenames for item in session.items):
        _start_ci_build(session.config._tmp_path_factory)


def _start_ci_build(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    logs = tmp_path_factory.mktemp("run_output")
    stdout, stderr = open(logs / "stdout.txt", "w"), open(logs / "stderr.txt", "w")
    # Its own process group, so that an interrupted session can stop the report and its kernels.
    process = subprocess.Popen(CI_REPORT + ["--run-dir", str(run_dir)], stdout=stdout, stderr=stderr,
                               start_new_session=True)
    _ci_build.update(run_dir=run_dir, process=process, logs=logs, files=(stdout, stderr))


def pytest_sessionfinish(session):
    process = _ci_build.get("process")
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()
    for file in _ci_build.get("files", ()):
        file.close()


@pytest.fixture(scope="session")
def built_run(tmp_path_factory):
    """A run directory with every notebook executed at the ``ci`` profile and the HTML book built.

    Built once per test session (``dolphin-ae report --profile ci``, as a reader would run it) and
    shared by every test that only reads a built run or book: the book tests, the browser check, and
    the resume test's same-seed comparison. Tests must not write into it.
    """
    given = os.environ.get("DOLPHIN_AE_TEST_BUILT_RUN")
    if given:
        return _finished_ci_run(Path(given))
    if "process" not in _ci_build:
        _start_ci_build(tmp_path_factory)
    returncode = _ci_build["process"].wait()
    for file in _ci_build["files"]:
        file.flush()
    output = "".join((_ci_build["logs"] / name).read_text()[-4000:] for name in ("stdout.txt", "stderr.txt"))
    assert returncode == 0, output
    return _ci_build["run_dir"]


def _finished_ci_run(run_dir):
    """``run_dir`` if its manifest shows a ``ci`` report whose every stage finished, else a usage error."""
    manifest = run_dir / "manifest.json"
    report = json.loads(manifest.read_text()).get("report", {}) if manifest.is_file() else {}
    stages = report.get("stages", {})
    if report.get("profile") != "ci" or not stages or any(s.get("status") != "done" for s in stages.values()):
        raise pytest.UsageError(f"DOLPHIN_AE_TEST_BUILT_RUN={run_dir}: not a finished ci run (see its manifest.json)")
    return run_dir


def declared_parameters(notebooks, staging):
    """Names of the parameters the jupytext sources ``notebooks`` declare (converted in ``staging``)."""
    import papermill

    from dolphin_ae.book.report import _to_ipynb

    names = set()
    for source in notebooks:
        converted = _to_ipynb(source, Path(staging) / f"{Path(source).stem}.ipynb")
        names |= set(papermill.inspect_notebook(str(converted)))
    return names


@pytest.fixture
def chapter_project(tmp_path):
    """``chapter_project("01_data", "02_autoencoder")``: a project folder holding only those chapters.

    The real notebooks and book pages, and every profile of ``params/`` cut down to the values the
    chosen chapters declare (a report refuses values no notebook declares). A report run from it
    (``cwd=`` the folder, or ``run_report(project_dir=...)``) executes those chapters exactly as a
    whole report would, with the same parameters, and stops after the last of them.
    """

    def make(*stages):
        root = tmp_path / "project"
        (root / "notebooks").mkdir(parents=True)
        (root / "params").mkdir()
        shutil.copytree(REPO / "book", root / "book")
        shutil.copy2(REPO / "_config.yml", root / "_config.yml")
        sources = [REPO / "notebooks" / f"{stage}.py" for stage in stages]
        for source in sources:
            shutil.copy2(source, root / "notebooks" / source.name)
        declared = declared_parameters(sources, tmp_path / "inspected")
        for profile in sorted((REPO / "params").glob("*.yaml")):
            values = yaml.safe_load(profile.read_text()) or {}
            kept = {name: value for name, value in values.items() if name in declared}
            (root / "params" / profile.name).write_text(yaml.safe_dump(kept, sort_keys=False))
        return root

    return make


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A run directory holding a small trained silence detector, its encoder and front end (``detect``, ``embed``,
    ``index`` and ``search`` tests): an 8-filter ConvNet v5 encoder of ``FIELD_LATENT_DIM`` numbers and the
    seed's head, trained end to end for a few epochs on a small synthetic clip data set."""
    import keras

    from dolphin_ae.audio.spectrogram import FrontEnd
    from dolphin_ae.data.dataset import build_window_dataset
    from dolphin_ae.data.synth import DIFFICULTY_OFF, synthesize_dataset
    from dolphin_ae.field.run import write_detector_run
    from dolphin_ae.models.conv_v5 import build_conv_v5_encoder
    from dolphin_ae.train.silence import build_silence_detector, build_silence_head

    root = tmp_path_factory.mktemp("detector")
    # The data without the difficulty of clip-labelled recordings (DIFFICULTY_OFF): these tests are about
    # the detection and search machinery, and need a detector that a few epochs on 60 clips make good.
    synthesize_dataset(root / "data", n_sessions=4, clips_per_label={"whistle": 3, "burst": 3, "click": 3, "noise": 6},
                       snr_db_range=(6.0, 20.0), seed=1, **DIFFICULTY_OFF)
    front_end = FrontEnd()
    dataset = build_window_dataset(root / "data", front_end=front_end, seed=0)
    keras.utils.set_random_seed(0)
    encoder = build_conv_v5_encoder(filters=(8, 8, 8, 8), latent_dim=FIELD_LATENT_DIM)
    detector = build_silence_detector(encoder, build_silence_head(latent_dim=FIELD_LATENT_DIM))
    encoder.trainable = True  # trained end to end here: a detector in seconds, not an autoencoder first
    detector.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    is_silence = dataset.is_silence.astype(np.float32)
    weights = {k: len(is_silence) / (2.0 * np.sum(is_silence == k)) for k in (0, 1)}
    detector.fit(np.asarray(dataset.windows)[..., None], is_silence, epochs=8, batch_size=16, class_weight=weights,
                 verbose=0)
    return write_detector_run(root / "run", detector, front_end, encoder=encoder, threshold=0.5)


def count_embeddings(monkeypatch):
    """The recordings :mod:`dolphin_ae.field.index` embeds from now on, in order (its ``embed_regions`` counted)."""
    from dolphin_ae.field import index as index_module

    embedded = []
    original = index_module.embed_regions

    def counting(run, path, *, options):
        embedded.append(str(path))
        return original(run, path, options=options)

    monkeypatch.setattr(index_module, "embed_regions", counting)
    return embedded


@pytest.fixture
def write_wav(tmp_path):
    """Write ``y`` (n,) or (n, channels) at ``sr`` to ``tmp_path/name`` and return the path."""

    def write(name, y, sr=48000, subtype="FLOAT"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), np.asarray(y), sr, subtype=subtype)
        return path

    return write


def tone(frequency_hz, duration_s, sr=48000, amplitude=0.5):
    t = np.arange(int(duration_s * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)


def notebook_project(root, notebooks, *, profile="{}\n"):
    """A project folder ``root`` for ``run_report``: ``notebooks`` ({stem: jupytext source}), a ``ci`` profile, a page.

    Returns ``root``. The sources are written as given (dedent them first).
    """
    root = Path(root)
    for folder in ("notebooks", "params", "book"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "params" / "ci.yaml").write_text(profile)
    (root / "book" / "intro.md").write_text("# Intro\n")
    for name, source in notebooks.items():
        (root / "notebooks" / f"{name}.py").write_text(source)
    return root


class RecordingEncoder:
    """Stands in for an encoder in ``encode_clips``: keeps the windows it is given, codes them by their mean."""

    def __init__(self):
        self.seen = []

    def predict(self, x, batch_size=64, verbose=0):
        self.seen.append(np.array(x[..., 0]))
        return np.asarray(x)[..., 0].mean(axis=1)
