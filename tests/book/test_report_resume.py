"""Runs that never lose work: ``dolphin-ae report`` resumes from the last finished stage.

Most tests use a small project of three quick notebooks (each logs that it ran and passes an
artifact to the next), so the resume rules are checked in seconds. One test runs the real chapters
01 and 02 at the ``ci`` profile and compares their windows and metrics with the shared ``ci`` run's.
"""

import json
import subprocess
import sys
import textwrap

import pytest
from papermill.exceptions import PapermillExecutionError

from dolphin_ae.book.report import run_report, tag_for_readers
from dolphin_ae.layout import RunLayout
from conftest import notebook_project


HEADER = """\
# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---
"""

NOTEBOOKS = {
    "01_first": """
        # %% tags=["parameters"]
        run_dir: str = "."  # run directory
        seed: int = 0  # random seed
        count: int = 3  # numbers drawn

        # %%
        import json, pathlib, random
        run_dir = pathlib.Path(run_dir)
        with open(run_dir / "log.txt", "a") as log:
            log.write("01_first\\n")
        random.seed(seed)
        (run_dir / "first.json").write_text(json.dumps([random.random() for _ in range(count)]))
        """,
    "02_second": """
        # %% tags=["parameters"]
        run_dir: str = "."  # run directory
        scale: float = 1.0  # factor applied to the numbers
        fail: bool = False  # raise an error, as a broken stage would
        crash: bool = False  # kill the kernel, as an interruption would

        # %%
        import json, os, pathlib, signal
        run_dir = pathlib.Path(run_dir)
        with open(run_dir / "log.txt", "a") as log:
            log.write("02_second\\n")
        if crash:
            os.kill(os.getpid(), signal.SIGKILL)
        if fail:
            raise RuntimeError("this stage was asked to fail")
        values = json.loads((run_dir / "first.json").read_text())
        (run_dir / "second.json").write_text(json.dumps([scale * v for v in values]))
        """,
    "03_third": """
        # %% tags=["parameters"]
        run_dir: str = "."  # run directory
        offset: float = 0.0  # added to the sum

        # %%
        import json, pathlib
        run_dir = pathlib.Path(run_dir)
        with open(run_dir / "log.txt", "a") as log:
            log.write("03_third\\n")
        values = json.loads((run_dir / "second.json").read_text())
        (run_dir / "metrics.json").write_text(json.dumps({"total": sum(values) + offset}))
        """,
}


@pytest.fixture
def project(tmp_path):
    return notebook_project(tmp_path / "project", {name: HEADER + textwrap.dedent(body) for name, body in NOTEBOOKS.items()},
                            profile="seed: 1\ncount: 4\n")


def _run(project, run_dir, **overrides):
    force = overrides.pop("force", False)
    return run_report(profile="ci", project_dir=project, run_dir=run_dir, overrides=overrides, build=False, force=force)


def _log(run_dir):
    path = run_dir / "log.txt"
    return path.read_text().split() if path.exists() else []


def _report(run_dir):
    return json.loads((run_dir / "manifest.json").read_text())["report"]


def _ran(run_dir, before):
    return _log(run_dir)[len(before):]


def test_a_rerun_skips_every_finished_stage(project, tmp_path):
    run_dir = tmp_path / "run"
    _run(project, run_dir)
    assert _log(run_dir) == ["01_first", "02_second", "03_third"]
    first_total = json.loads((run_dir / "metrics.json").read_text())["total"]
    before = _log(run_dir)
    _run(project, run_dir)
    assert _ran(run_dir, before) == []
    report = _report(run_dir)
    assert report["last_run"] == {"executed": [], "skipped": ["01_first", "02_second", "03_third"], "failed": None,
                                  "finished": True}
    assert json.loads((run_dir / "metrics.json").read_text())["total"] == first_total
    # The executed notebook carries its stage key and the parameters that made it.
    metadata = json.loads((run_dir / "book" / "01_first.ipynb").read_text())["metadata"]["dolphin_ae"]
    assert metadata["stage_key"] == report["stages"]["01_first"]["key"]
    assert metadata["parameters"] == report["stages"]["01_first"]["parameters"] == {
        "run_dir": str(run_dir.resolve()), "seed": 1, "count": 4}
    # The report records every parameter of every stage: those it passed, and the notebook's defaults of the rest.
    assert report["stages"]["01_first"]["defaults"] == {}
    assert report["stages"]["02_second"]["defaults"] == {"scale": 1.0, "fail": False, "crash": False}
    assert report["stages"]["03_third"]["parameters"] == {"run_dir": str(run_dir.resolve())}
    assert report["stages"]["03_third"]["defaults"] == {"offset": 0.0}
    # The book shows results first: the default-parameters cell is removed, the code folded.
    cells = json.loads((run_dir / "book" / "01_first.ipynb").read_text())["cells"]
    tags = {tuple(c["metadata"].get("tags", [])) for c in cells if c["cell_type"] == "code"}
    assert ("parameters", "remove-cell") in tags and ("injected-parameters", "hide-input") in tags
    assert all(set(t) & {"remove-cell", "hide-input"} for t in tags)


def test_resume_after_a_failed_stage(project, tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(PapermillExecutionError, match="asked to fail"):
        _run(project, run_dir, fail=True)
    assert _log(run_dir) == ["01_first", "02_second"]
    report = _report(run_dir)
    assert report["stages"]["01_first"]["status"] == "done"
    assert report["stages"]["02_second"]["status"] == "failed"
    assert report["last_run"]["failed"] == "02_second"
    first_artifact = (run_dir / "first.json").stat().st_mtime_ns
    before = _log(run_dir)
    _run(project, run_dir)
    assert _ran(run_dir, before) == ["02_second", "03_third"]
    assert (run_dir / "first.json").stat().st_mtime_ns == first_artifact
    assert _report(run_dir)["last_run"]["skipped"] == ["01_first"]


def test_resume_after_the_kernel_is_killed(project, tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(Exception):
        _run(project, run_dir, crash=True)
    assert _report(run_dir)["stages"]["02_second"]["status"] == "failed"
    before = _log(run_dir)
    _run(project, run_dir)
    assert _ran(run_dir, before) == ["02_second", "03_third"]


def test_a_changed_parameter_reruns_its_stage_and_every_later_one(project, tmp_path):
    run_dir = tmp_path / "run"
    _run(project, run_dir)
    before = _log(run_dir)
    _run(project, run_dir, scale=2.0)
    assert _ran(run_dir, before) == ["02_second", "03_third"]
    total = json.loads((run_dir / "metrics.json").read_text())["total"]
    before = _log(run_dir)
    _run(project, run_dir, scale=2.0, offset=1.0)
    assert _ran(run_dir, before) == ["03_third"]
    assert json.loads((run_dir / "metrics.json").read_text())["total"] == pytest.approx(total + 1.0)
    before = _log(run_dir)
    _run(project, run_dir, scale=2.0, offset=1.0, force=True)
    assert _ran(run_dir, before) == ["01_first", "02_second", "03_third"]


def test_an_edited_notebook_or_a_lost_output_reruns(project, tmp_path):
    run_dir = tmp_path / "run"
    _run(project, run_dir)
    source = project / "notebooks" / "03_third.py"
    source.write_text(source.read_text() + "\n# %%\nprint('one more cell')\n")
    before = _log(run_dir)
    _run(project, run_dir)
    assert _ran(run_dir, before) == ["03_third"]
    (run_dir / "book" / "02_second.ipynb").unlink()
    before = _log(run_dir)
    _run(project, run_dir)
    assert _ran(run_dir, before) == ["02_second", "03_third"]


def test_the_command_line_resumes_and_forces(tmp_path):
    result = subprocess.run([sys.executable, "-m", "dolphin_ae", "report", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--force" in result.stdout and "resumes" in result.stdout


# The real chapters the resume test runs: the one to fail, and the one it reads (its windows).
RESUMED_CHAPTERS = ("01_data", "02_autoencoder")
# The metrics.json sections they write.
RESUMED_SECTIONS = {"reconstruction"}


@pytest.mark.slow
@pytest.mark.reads_built_run
def test_the_chapters_resume_and_repeat_their_metrics(tmp_path, chapter_project, request):
    """Real chapters at ``ci``: a failing stage, a resumed run, and the results of a fresh run with the same seed.

    The run holds chapters 01 and 02 only (``chapter_project``): 02 fails, the resumed run skips 01
    (its windows stay as they were written) and trains 02's autoencoder, and its windows and metrics
    are those of the same chapters in the shared fresh ``ci`` run.
    """
    project = chapter_project(*RESUMED_CHAPTERS)
    report = [sys.executable, "-m", "dolphin_ae", "report", "--profile", "ci", "--no-build", "--run-dir"]
    interrupted = tmp_path / "interrupted"
    result = subprocess.run(report + [str(interrupted), "--set", "epochs=0"], capture_output=True, text=True,
                            cwd=project)
    assert result.returncode == 1 and "resume" in result.stderr
    stages = _report(interrupted)["stages"]
    assert stages["01_data"]["status"] == "done" and stages["02_autoencoder"]["status"] == "failed"
    windows = RunLayout(interrupted).windows
    windows_written = windows.stat().st_mtime_ns
    result = subprocess.run(report + [str(interrupted)], capture_output=True, text=True, cwd=project)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "01_data.py: unchanged and finished earlier, skipped" in result.stdout
    assert windows.stat().st_mtime_ns == windows_written
    last_run = _report(interrupted)["last_run"]
    assert last_run["skipped"] == ["01_data"] and last_run["executed"] == ["02_autoencoder"]

    # Asked for here, not as an argument, so that the two runs above overlap the shared build's last chapters.
    fresh = request.getfixturevalue("built_run")
    assert windows.read_bytes() == RunLayout(fresh).windows.read_bytes()
    resumed_metrics = json.loads((interrupted / "metrics.json").read_text())
    fresh_metrics = json.loads((fresh / "metrics.json").read_text())
    assert set(resumed_metrics) == RESUMED_SECTIONS
    # Every number repeats exactly but the PCA's: its randomized float32 fit once gave 0.022686054 in one run
    # and 0.022686058 in the other on byte-identical windows (cause not found), so it is held to 1e-6.
    for section in RESUMED_SECTIONS:
        resumed, fresh_values = dict(resumed_metrics[section]), dict(fresh_metrics[section])
        assert resumed.pop("pca_mse") == pytest.approx(fresh_values.pop("pca_mse"), rel=1e-6)
        assert resumed == fresh_values


def test_cells_that_choose_their_own_display_keep_it():
    notebook = {"cells": [{"cell_type": "code", "metadata": {"tags": ["remove-input"]}},
                          {"cell_type": "code", "metadata": {}},
                          {"cell_type": "markdown", "metadata": {}}]}
    cells = tag_for_readers(notebook)["cells"]
    assert [c["metadata"].get("tags") for c in cells] == [["remove-input"], ["hide-input"], None]


def test_runtime_log_lines_leave_the_pages_and_other_stderr_stays():
    log = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
           "I0000 00:00:1795493768.352896   12746 port.cc:153] oneDNN custom operations are on.\n"
           "E0000 00:00:1795499074.438160   15401 meta_optimizer.cc:967] remapper failed: INVALID_ARGUMENT\n")
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [
        {"output_type": "stream", "name": "stderr", "text": log},
        {"output_type": "stream", "name": "stderr", "text": [log, "UserWarning: 3 clips were skipped\n"]},
        {"output_type": "stream", "name": "stdout", "text": "E0000 printed on purpose\n"},
        {"output_type": "display_data", "data": {"text/plain": "figure"}, "metadata": {}}]}]}
    outputs = tag_for_readers(notebook)["cells"][0]["outputs"]
    assert [o["output_type"] for o in outputs] == ["stream", "stream", "display_data"]
    assert outputs[0]["text"] == "UserWarning: 3 clips were skipped\n"
    assert outputs[1]["name"] == "stdout" and outputs[1]["text"] == "E0000 printed on purpose\n"


METRICS_NOTEBOOKS = {
    "01_rows": """
        # %% tags=["parameters"]
        run_dir: str = "."  # run directory
        n_clusters: int = 8  # clusters
        with_extra: bool = True  # also write the "extra" section

        # %%
        from dolphin_ae.runio import update_metrics
        update_metrics(run_dir, "clustering", {"rows": {f"k{n_clusters}": n_clusters / 10}, "k": n_clusters})
        if with_extra:
            update_metrics(run_dir, "extra", {"value": 1})
        """,
    "02_after": """
        # %% tags=["parameters"]
        run_dir: str = "."  # run directory
        offset: float = 0.0  # added

        # %%
        from dolphin_ae.runio import update_metrics
        update_metrics(run_dir, "after", {"offset": offset, **({"big": True} if offset > 1 else {})})
        """,
}


def test_a_rerun_leaves_no_metrics_of_earlier_settings(tmp_path):
    root = notebook_project(tmp_path / "project", {name: HEADER + textwrap.dedent(body)
                                                   for name, body in METRICS_NOTEBOOKS.items()},
                            profile="n_clusters: 8\n")
    run_dir = tmp_path / "run"

    def metrics(**overrides):
        run_report(profile="ci", project_dir=root, run_dir=run_dir, overrides=overrides, build=False)
        return json.loads((run_dir / "metrics.json").read_text())

    assert metrics(offset=2.0) == {"clustering": {"rows": {"k8": 0.8}, "k": 8}, "extra": {"value": 1},
                                   "after": {"offset": 2.0, "big": True}}
    # Only the second stage re-runs: its section is replaced, the first stage's sections stay.
    assert metrics(offset=0.5) == {"clustering": {"rows": {"k8": 0.8}, "k": 8}, "extra": {"value": 1},
                                   "after": {"offset": 0.5}}
    # The first stage re-runs with other settings: no 8-cluster row, no section it no longer writes.
    assert metrics(n_clusters=12, with_extra=False, offset=0.5) == {"clustering": {"rows": {"k12": 1.2}, "k": 12},
                                                                    "after": {"offset": 0.5}}
