"""``dolphin-ae report --force`` trains afresh: the run's checkpoints go before any chapter runs."""

import textwrap

from conftest import notebook_project
from dolphin_ae.book.report import run_report

NOTEBOOK = """\
# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% tags=["parameters"]
run_dir: str = "."  # run directory

# %%
import pathlib
# What the chapter finds of an earlier training, as train_autoencoder would.
folder = pathlib.Path(run_dir) / "checkpoints"
(pathlib.Path(run_dir) / "seen.txt").write_text(" ".join(sorted(p.name for p in folder.rglob("*"))))
"""


def test_force_removes_the_runs_checkpoints_before_the_chapters_run(tmp_path):
    project = notebook_project(tmp_path / "project", {"01_only": textwrap.dedent(NOTEBOOK)})
    run_dir = tmp_path / "run"
    finished = run_dir / "checkpoints" / "conv_v5-0123456789"
    finished.mkdir(parents=True)
    (finished / "state.json").write_text('{"finished": true}')

    run_report(profile="ci", project_dir=project, run_dir=run_dir, build=False)
    assert (run_dir / "seen.txt").read_text() == "conv_v5-0123456789 state.json"
    run_report(profile="ci", project_dir=project, run_dir=run_dir, build=False, force=True)
    assert (run_dir / "seen.txt").read_text() == ""
    assert not (run_dir / "checkpoints").exists()
