"""``RunLayout`` names every file of a run directory once, and the writers write where it says."""

import inspect
import json
import textwrap

import numpy as np
import pandas as pd

from dolphin_ae import layout as layout_module
from dolphin_ae.analysis.projection import PROJECTION_NAMES
from dolphin_ae.analysis.sequences import find_data_dir
from dolphin_ae.audio.spectrogram import FrontEnd
from dolphin_ae.data.dataset import WindowDataset
from dolphin_ae.layout import RunLayout
from dolphin_ae.runio import keep_metrics_sections, read_metrics, record_stage, update_metrics, write_json
from conftest import notebook_project

STAGES = ("01_data", "90_summary")

# The run directory as the chapters, the report and the field tool wrote it before RunLayout: the
# layout must not move a file.
EXPECTED = {
    "manifest": "manifest.json",
    "metrics": "metrics.json",
    "data": "data",
    "truth": "truth.csv",
    "cache": "cache",
    "windows": "windows.npy",
    "index": "windows.csv",
    "dataset": "dataset.json",
    "events": "events.csv",
    "band_profiles": "band_profiles.npz",
    "checkpoints": "checkpoints",
    "models": "models",
    "autoencoder": "models/autoencoder.keras",
    "encoder": "models/encoder.keras",
    "history": "models/autoencoder_history.json",
    "detector": "models/silence_detector.keras",
    "signal_type_classifier": "models/signal_type_classifier.keras",
    "embedding": "embedding",
    "test_codes": "embedding/test_codes.npy",
    "test_window_indices": "embedding/test_window_indices.npy",
    "sequences": "sequences",
    "sequence_codes": "sequences/codes.npy",
    "sequence_offsets": "sequences/offsets.npy",
    "dtw_seed": "sequences/dtw_seed.npy",
    "dtw_unit": "sequences/dtw_unit.npy",
    "sequence_clips": "sequences/clips.csv",
    "field": "field",
    "field_recording": "field/recording.wav",
    "field_truth": "field/truth.csv",
    "field_regions": "field/regions.csv",
    "field_regions_audio": "field/regions.wav",
    "field_embeddings": "field/regions.parquet",
    "field_archive": "field/archive",
    "field_index": "field/index",
    "field_index_peer": "field/index_peer",
    "notebooks": ".notebooks",
    "book": "book",
    "book_html": "book/_build/html",
    "book_index": "book/_build/html/index.html",
    "projection_map(t-SNE)": "embedding/map_tsne.npy",
    "projection_map(UMAP)": "embedding/map_umap.npy",
    "projection_map(PCA)": "embedding/map_pca.npy",
    "notebook_input(01_data)": ".notebooks/01_data.ipynb",
    "executed_notebook(01_data)": "book/01_data.ipynb",
}


def every_path(layout):
    """``{name: path}`` for every property of ``layout``, and every method called on sample arguments."""
    paths = {}
    for name, member in inspect.getmembers(RunLayout):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            paths[name] = getattr(layout, name)
        elif inspect.isfunction(member):
            samples = PROJECTION_NAMES.values() if name == "projection_map" else STAGES
            for sample in samples:
                paths[f"{name}({sample})"] = getattr(layout, name)(sample)
    return paths


def test_every_path_lies_under_the_run_directory(tmp_path):
    for name, path in every_path(RunLayout(tmp_path)).items():
        assert path.is_relative_to(tmp_path) and path != tmp_path, name


def test_no_two_names_give_one_path():
    paths = every_path(RunLayout("runs/ci"))
    by_path = {}
    for name, path in paths.items():
        by_path.setdefault(path, []).append(name)
    assert not [names for names in by_path.values() if len(names) > 1]
    # Nor does a file stand where another path needs a folder.
    files = {path for path in paths.values() if path.suffix}
    assert not [path for path in paths.values() if files & set(path.parents)]


def test_the_paths_are_those_the_run_always_had():
    paths = {name: path.relative_to("runs/ci").as_posix() for name, path in every_path(RunLayout("runs/ci")).items()}
    for name, expected in EXPECTED.items():
        assert paths[name] == expected, name
    # Every property is pinned above; a new one needs its path stated here too.
    properties = {name for name, member in inspect.getmembers(RunLayout) if isinstance(member, property)}
    assert properties <= set(EXPECTED)


def test_a_string_root_is_a_path():
    assert RunLayout("runs/ci") == RunLayout(layout_module.Path("runs/ci"))
    assert RunLayout("runs/ci").root.as_posix() == "runs/ci"


def test_metrics_and_the_manifest_are_written_and_read_where_the_layout_says(tmp_path, monkeypatch):
    layout = RunLayout(tmp_path)
    update_metrics(tmp_path, "silence", {"threshold": 0.4})
    assert json.loads(layout.metrics.read_text()) == {"silence": {"threshold": 0.4}}
    write_json(layout.metrics, {"silence": {"threshold": 0.6}, "clustering": {}})
    assert read_metrics(tmp_path) == {"silence": {"threshold": 0.6}, "clustering": {}}
    assert keep_metrics_sections(tmp_path, ["silence"]) == ["clustering"]
    assert json.loads(layout.metrics.read_text()) == {"silence": {"threshold": 0.6}}

    monkeypatch.setattr("dolphin_ae.runio.environment_summary", lambda: {"python": "3.11"})
    record_stage(tmp_path, "01_data", seconds=1.0, extra={"data_source": str(tmp_path / "elsewhere")})
    assert set(json.loads(layout.manifest.read_text())["stages"]) == {"01_data"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([layout.metrics.name, layout.manifest.name])


def test_the_run_data_folder_is_the_layouts_unless_the_manifest_names_another(tmp_path, monkeypatch):
    layout = RunLayout(tmp_path)
    assert find_data_dir(tmp_path) == layout.data
    recorded = tmp_path / "recordings"
    recorded.mkdir()
    monkeypatch.setattr("dolphin_ae.runio.environment_summary", lambda: {})
    record_stage(tmp_path, "01_data", seconds=0.0, extra={"data_source": str(recorded)})
    assert find_data_dir(tmp_path) == recorded


def test_a_saved_data_set_has_the_layouts_files(tmp_path):
    front_end = FrontEnd()
    index = pd.DataFrame({"file": ["a.wav", "a.wav"], "recording": ["a", "a"], "label": ["whistle", "noise"],
                          "start_s": [0.0, 0.5], "level_db": [-20.0, -40.0], "padded": [False, False],
                          "split": ["train", "test"]})
    events = pd.DataFrame({"file": ["a.wav"], "recording": ["a"], "start_s": [0.0], "end_s": [0.4],
                           "label": ["whistle"], "type": ["whistle"], "split": ["train"]})
    windows = np.zeros((2, front_end.window_frames, front_end.n_bins), dtype=np.float32)
    WindowDataset(windows, index, front_end, layout="annotations", events=events).save(tmp_path)
    layout = RunLayout(tmp_path)
    written = {p for p in tmp_path.iterdir() if not p.name.startswith(".")}
    assert written == {layout.windows, layout.index, layout.events, layout.dataset}
    assert WindowDataset.load(tmp_path).windows.shape == windows.shape


CHAPTER = """\
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
print(run_dir)
"""


def test_the_report_writes_its_records_and_notebooks_where_the_layout_says(tmp_path):
    from dolphin_ae.book.report import run_report

    project = notebook_project(tmp_path / "project", {"01_only": textwrap.dedent(CHAPTER)})
    run_dir = tmp_path / "run"
    layout = RunLayout(run_dir)
    layout.checkpoints.mkdir(parents=True)

    run_report(profile="ci", project_dir=project, run_dir=run_dir, build=False, force=True)
    assert json.loads(layout.manifest.read_text())["report"]["stages"]["01_only"]["status"] == "done"
    assert layout.notebook_input("01_only").is_file()
    assert layout.executed_notebook("01_only").is_file()
    assert (layout.book / "intro.md").is_file()
    assert not layout.checkpoints.exists(), "--force removes the layout's checkpoints"


def test_the_field_tool_writes_and_finds_a_run_where_the_layout_says(tmp_path):
    import keras

    from dolphin_ae.field.run import resolve_run_dir, write_detector_run

    inputs = keras.Input((4,))
    encoder = keras.Model(inputs, keras.layers.Dense(2)(inputs), name="encoder")
    detector = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs), name="detector")
    write_detector_run(tmp_path, detector, FrontEnd(), encoder=encoder, threshold=0.3)
    layout = RunLayout(tmp_path)
    assert layout.detector.is_file() and layout.encoder.is_file() and layout.dataset.is_file()
    assert read_metrics(tmp_path)["silence"]["threshold"] == 0.3
    assert resolve_run_dir(tmp_path) == tmp_path
    assert resolve_run_dir(layout.models) == tmp_path
