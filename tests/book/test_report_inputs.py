"""A report's inputs.

Recordings with bad files: chapter 01 goes on and names them; no usable audio stops it (slow: these
run chapter 01). Every profile and ``--set`` value is checked against the notebooks' declarations before
chapter 01 runs (fast: they stop before it).
"""

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import notebook_project
from dolphin_ae.cli import main
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.book.parameters import CHOICES, ITEM_CHOICES, check_value, declarations
from dolphin_ae.book.report import run_report
from dolphin_ae.data.synth import synthesize_dataset

REPORT = [sys.executable, "-m", "dolphin_ae", "report", "--profile", "ci"]


@pytest.mark.slow
def test_a_corrupt_file_is_named_in_the_manifest_and_on_the_data_page(tmp_path, chapter_project):
    # Chapter 01 alone: it reads the recordings; later chapters see only the windows it keeps.
    data = tmp_path / "data"
    synthesize_dataset(data, n_sessions=8, clips_per_label={"whistle": 2, "burst": 2, "click": 2, "noise": 4}, seed=0)
    (data / "click" / "session003__broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    run_dir = tmp_path / "run"
    result = subprocess.run(REPORT + ["--no-build", "--data", str(data), "--run-dir", str(run_dir)],
                            capture_output=True, text=True, cwd=chapter_project("01_data"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    skipped = manifest["stages"]["01_data"]["skipped_files"]
    assert [entry["file"] for entry in skipped] == ["click/session003__broken.wav"]
    assert "cannot be read as audio" in skipped[0]["reason"]
    assert manifest["report"]["last_run"]["executed"] == ["01_data"]
    # The executed notebook, which the book's data page shows, names the file.
    outputs = [output for cell in json.loads((run_dir / "book" / "01_data.ipynb").read_text())["cells"]
               for output in cell.get("outputs", [])]
    assert "session003__broken.wav" in json.dumps(outputs)


@pytest.mark.slow
def test_no_usable_audio_stops_the_report_with_a_clear_error(tmp_path):
    data = tmp_path / "data"
    (data / "whistle").mkdir(parents=True)
    (data / "whistle" / "a.wav").write_text("not audio")
    (data / "noise").mkdir()
    (data / "noise" / "b.wav").write_bytes(b"")
    result = subprocess.run(REPORT + ["--data", str(data), "--run-dir", str(tmp_path / "run"), "--no-build"],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "NoUsableAudioError" in result.stderr and "none of 2 audio files could be used" in result.stderr


REPO = Path(__file__).resolve().parents[2]


def _report(capsys, tmp_path, *settings):
    """``dolphin-ae report --profile ci --no-build --set ...`` in this process: (status, stdout, stderr)."""
    argv = ["report", "--profile", "ci", "--no-build", "--run-dir", str(tmp_path / "run")]
    for setting in settings:
        argv += ["--set", setting]
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("setting, expected", [
    ("epochs=abc", "--set: epochs='abc' is a string; epochs must be an integer"),
    ("epochs=2.5", "--set: epochs=2.5 is a number with a decimal point; epochs must be an integer"),
    ("epochs=true", "epochs=True is true/false; epochs must be an integer"),
    ("learning_rate=fast", "learning_rate='fast' is a string; learning_rate must be a number"),
    ("jit_compile=1", "jit_compile=1 is an integer; jit_compile must be true or false"),
    ("magnitude=db", "magnitude='db' is not allowed; magnitude must be one of linear, log, pcen"),
    ("whitening=mean", "whitening='mean' is not allowed; whitening must be one of none, recording_median"),
    ("model=conv_v6", "model='conv_v6' is not allowed; model must be one of conv_v5, lstm_v4_1, lstm_v4_3, vae_v4_2"),
    ("lr_schedule=step", "lr_schedule='step' is not allowed; lr_schedule must be one of constant, cosine"),
    ("conv_activation=relu", "conv_activation must be one of seed, leaky"),
    ("data_layout=csv", "data_layout must be one of auto, folders, annotations, raven"),
    ("code_scaling=unit", "code_scaling must be one of l2, standard"),
    ("projections=[tsne, mds]", "item 'mds' is not allowed; each item of projections must be one of tsne, umap, pca"),
    ("projections=tsne", "projections='tsne' is a string; projections must be a list"),
    ("conv_filters=[8, eight]", "item 'eight' is a string; each item of conv_filters must be an integer"),
    ("compare_models=[conv_v5, pca]", "each item of compare_models must be one of conv_v5"),
    ("objective=triplet", "objective='triplet' is not allowed; objective must be one of mse, denoising, contrastive, "
                          "contrastive_mse"),
    ("denoise_gain=[1.0, 0.5]", "--set: denoise_gain must be [low, high] with 0 <= low <= high"),
    ("ablation_objectives=[mse, triplet]", "item 'triplet' is not allowed; each item of ablation_objectives must be "
                                           "one of mse, denoising"),
    ("ablation_magnitudes=[linear, db]", "each item of ablation_magnitudes must be one of linear, log, pcen"),
    ("conv_filters=[8, 8", "--set conv_filters=[8, 8: the value is not valid YAML"),
    ("dtw_engine=spark", "dtw_engine='spark' is not allowed; dtw_engine must be one of local, dask"),
    ("dtw_workers=-1", "--set: dtw_workers must be a whole number >= 0 (0: one per core), got -1"),
    ("dtw_scheduler=tcp://h:8786", "--set: dtw_scheduler is only used with engine 'dask'"),
])
def test_a_bad_value_stops_the_report_before_chapter_01(capsys, tmp_path, setting, expected):
    status, out, err = _report(capsys, tmp_path, setting)
    assert status == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("dolphin-ae: error: ")
    assert "running" not in out
    assert not (tmp_path / "run").exists(), "nothing is written for a run that cannot start"


def test_the_exit_status_is_2_without_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "dolphin_ae", "report", "--profile", "ci", "--no-build",
                             "--run-dir", str(tmp_path / "run"), "--set", "epochs=abc"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == ("dolphin-ae: error: --set: epochs='abc' is a string; epochs must be an integer "
                                     "(declared in 02_autoencoder)")
    assert "running 01_data" not in result.stdout


def test_a_missing_data_folder_stops_the_report(capsys, tmp_path):
    status = main(["report", "--profile", "ci", "--no-build", "--run-dir", str(tmp_path / "run"),
                   "--data", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert status == 2 and f"--data {tmp_path / 'nowhere'}: no such folder" in err


def _inspected_repo_notebooks(tmp_path, project=REPO):
    import papermill

    from dolphin_ae.book.report import _to_ipynb, notebook_sources

    return {source.stem: papermill.inspect_notebook(str(_to_ipynb(source, tmp_path / f"{source.stem}.ipynb")))
            for source in notebook_sources(project)}


def test_good_values_pass_and_an_integer_may_stand_for_a_float(tmp_path):
    declared = declarations(_inspected_repo_notebooks(tmp_path))
    for name, value in {"learning_rate": 1, "epochs": 3, "magnitude": "log", "projections": ["umap"],
                        "conv_filters": [8, 4, 4, 2], "compare_models": ["conv_v5", "vae_v4_2"],
                        "jit_compile": True, "label_column": "Call"}.items():
        check_value(name, value, declared[name], origin="--set")
    with pytest.raises(ParameterError, match="epochs must be an integer"):
        check_value("epochs", 3.0, declared["epochs"], origin="--set")


def test_every_profile_passes_the_checks(tmp_path):
    from dolphin_ae.book.parameters import check_parameters
    from dolphin_ae.book.report import load_profile

    declared = declarations(_inspected_repo_notebooks(tmp_path))
    for profile in ("ci", "cpu", "gpu"):
        values = load_profile(profile, REPO)
        check_parameters(values, declared, origins={name: profile for name in values})


def test_a_project_of_some_chapters_keeps_their_profile_values(tmp_path, chapter_project):
    # The slow tests run chapters 01-03 alone with the values a whole report gives them.
    from dolphin_ae.book.parameters import check_parameters
    from dolphin_ae.book.report import load_profile, notebook_sources

    project = chapter_project("01_data", "02_autoencoder", "03_silence")
    assert [source.name for source in notebook_sources(project)] == ["01_data.py", "02_autoencoder.py", "03_silence.py"]
    whole, part = load_profile("ci", REPO), load_profile("ci", project)
    assert part == {name: value for name, value in whole.items() if name in part}
    assert "silence_epochs" in part and "synth_sessions" in part and "n_clusters" not in part
    declared = declarations(_inspected_repo_notebooks(tmp_path, project))
    assert set(part) == set(whole) & set(declared)
    check_parameters(part, declared, origins={name: "ci" for name in part})


def test_a_parameter_shared_by_notebooks_means_one_thing(tmp_path):
    declared = declarations(_inspected_repo_notebooks(tmp_path))
    disagreements = {name: found for name, found in declared.items()
                     if len({(type_name, repr(default)) for _, type_name, default in found}) > 1}
    assert not disagreements, disagreements


def test_the_objective_and_its_settings_are_chapter_parameters_with_the_objectives_defaults(tmp_path):
    # Declared, the report passes them, keys chapter 02 (chapter 07's row of it, and the ablation) on them and
    # records them in the manifest; the settings' defaults are Objective's, and the objective itself is the book's
    # default, the same in every chapter that declares it.
    from dataclasses import fields

    from dolphin_ae.train.objective_settings import OBJECTIVE_PARAMETERS, Objective

    declared = declarations(_inspected_repo_notebooks(tmp_path))
    defaults = {field.name: field.default for field in fields(Objective)}
    defaults["name"] = {default for _, _, default in declared["objective"]}.pop()
    for name in ("objective", *OBJECTIVE_PARAMETERS):
        notebooks = {notebook: default for notebook, _, default in declared[name]}
        assert set(notebooks) == {"02_autoencoder", "07_models", "09_ablation"}, name
        expected = defaults["name" if name == "objective" else name]
        for default in notebooks.values():
            assert (list(default) if isinstance(default, list) else default) == \
                (list(expected) if isinstance(expected, tuple) else expected), name


def test_the_books_default_front_end_and_objective_are_the_choosers_row(tmp_path):
    # The default is not picked on the scored split: it is the row bench/ablation.py chose on development sets.
    from dolphin_ae.analysis.ablation import front_end_label, read_chosen_table
    from dolphin_ae.audio.spectrogram import FrontEnd

    declared = declarations(_inspected_repo_notebooks(tmp_path))
    magnitude = {d for _, _, d in declared["magnitude"]}
    whitening = {d for _, _, d in declared["whitening"]}
    objective = {d for _, _, d in declared["objective"]}
    assert len(magnitude) == len(whitening) == len(objective) == 1
    table, meta = read_chosen_table()
    chosen = table[table["chosen"]]
    assert len(chosen) == 1 and meta["rule"]
    assert (chosen["front end"].iloc[0], chosen["method"].iloc[0]) == (
        front_end_label(FrontEnd(magnitude=magnitude.pop(), whitening=whitening.pop())), objective.pop())


def test_every_declared_default_is_allowed(tmp_path):
    declared = declarations(_inspected_repo_notebooks(tmp_path))
    for name, found in declared.items():
        for notebook, _, default in found:
            if name in CHOICES:
                assert default in CHOICES[name], (notebook, name, default)
            if name in ITEM_CHOICES:
                assert set(default) <= set(ITEM_CHOICES[name]), (notebook, name, default)


def test_the_choices_repeat_the_packages_own_names():
    from dolphin_ae.models import MODEL_BUILDERS
    from dolphin_ae.models.conv_v5 import ACTIVATIONS
    from dolphin_ae.book.parameters import CONV_ACTIVATIONS, LR_SCHEDULES, LSTM_DECODER_INPUTS, MODEL_NAMES
    from dolphin_ae.models.lstm_v4 import DECODER_INPUTS
    from dolphin_ae.train.training import LR_SCHEDULES as TRAINING_SCHEDULES

    assert MODEL_NAMES == tuple(MODEL_BUILDERS)
    assert set(CONV_ACTIVATIONS) == set(ACTIVATIONS)
    assert set(LR_SCHEDULES) == set(TRAINING_SCHEDULES)
    assert set(LSTM_DECODER_INPUTS) == set(DECODER_INPUTS)


def _project(tmp_path, profile_text):
    return notebook_project(tmp_path / "project", {"01_only": textwrap.dedent("""\
        # %% tags=["parameters"]
        run_dir: str = "."  # run directory
        epochs: int = 2  # epochs

        # %%
        print("ran")
        """)}, profile=profile_text)


@pytest.mark.parametrize("profile_text, expected", [
    ("epochs: [2\n", "ci.yaml: not valid YAML"),
    ("epochs: two\n", "ci.yaml: epochs='two' is a string; epochs must be an integer"),
    ("epoch: 2\n", "ci.yaml: unknown parameter(s) ['epoch']"),
])
def test_a_bad_profile_is_named_before_any_chapter(tmp_path, profile_text, expected):
    root = _project(tmp_path, profile_text)
    with pytest.raises(ParameterError, match=re.escape(expected)):
        run_report(profile="ci", project_dir=root, run_dir=tmp_path / "run", build=False)
    assert not (tmp_path / "run").exists()
    shutil.rmtree(root)
