import numpy as np
import pytest

from conftest import tone
from dolphin_ae.dataset import WindowDataset, build_window_dataset, recording_of, scan_labelled_folder, split_by_recording
from dolphin_ae.exceptions import NoUsableAudioError, ParameterError
from dolphin_ae.synth import synthesize_dataset


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("synthetic")
    synthesize_dataset(directory, n_sessions=8, clips_per_label={"whistle": 1, "burst": 1, "click": 1, "noise": 2},
                       clip_s_range=(0.2, 0.4), seed=0)
    return directory


def test_recording_rule():
    assert recording_of("whistle/session003__whistle_001.wav") == "session003"
    assert recording_of("whistle/lonely.wav") == "whistle/lonely"


def test_scan_labels_from_folders(synthetic_dir):
    clips = scan_labelled_folder(synthetic_dir)
    assert len(clips) == 8 * 5
    assert {c.label for c in clips} == {"whistle", "burst", "click", "noise"}
    assert all(c.file.startswith(c.label + "/") for c in clips)


def test_split_never_shares_a_recording():
    rng = np.random.default_rng(0)
    recordings = np.repeat([f"r{i}" for i in range(20)], 10)
    labels = np.where(rng.random(200) < 0.5, "noise", "whistle")
    is_test = split_by_recording(recordings, labels, test_fraction=0.25, seed=0)
    assert not set(recordings[is_test]) & set(recordings[~is_test])
    assert 0.1 < is_test.mean() < 0.4
    with pytest.raises(ParameterError, match="at least 4 recordings"):
        split_by_recording(["a", "b"], ["noise", "whistle"], test_fraction=0.25)


def test_build_save_load_round_trip(synthetic_dir, tmp_path):
    dataset = build_window_dataset(synthetic_dir, test_fraction=0.25, seed=0)
    n = len(dataset.index)
    assert dataset.windows.shape == (n, 128, 256) and dataset.windows.dtype == np.float32
    assert set(dataset.index["split"]) == {"train", "test"}
    by_split = dataset.index.groupby("recording")["split"].nunique()
    assert (by_split == 1).all()
    assert dataset.is_silence.sum() == (dataset.index["label"] == "noise").sum()
    dataset.save(tmp_path)
    assert not list(tmp_path.glob(".*tmp*"))
    loaded = WindowDataset.load(tmp_path)
    np.testing.assert_array_equal(loaded.windows, dataset.windows)
    assert loaded.front_end == dataset.front_end
    assert list(loaded.index["file"]) == list(dataset.index["file"])


def test_bad_file_is_skipped_and_named(synthetic_dir, tmp_path, write_wav):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(synthetic_dir, data)
    (data / "whistle" / "broken__clip.wav").write_bytes(b"RIFF\x00\x00garbage")
    write_wav("data/noise/tiny__clip.wav", tone(8000.0, 0.05))
    dataset = build_window_dataset(data, seed=0)
    reasons = {s["file"]: s["reason"] for s in dataset.skipped}
    assert "cannot be read" in reasons["whistle/broken__clip.wav"]
    assert "shorter than one window" in reasons["noise/tiny__clip.wav"]
    assert "whistle/broken__clip.wav" not in set(dataset.index["file"])


def test_no_usable_audio(tmp_path):
    with pytest.raises(NoUsableAudioError, match="no .wav"):
        build_window_dataset(tmp_path)
    (tmp_path / "noise").mkdir()
    (tmp_path / "noise" / "x.wav").write_text("nope")
    with pytest.raises(NoUsableAudioError, match="none of 1 audio files"):
        build_window_dataset(tmp_path)


def test_load_refuses_an_unfinished_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the data stage"):
        WindowDataset.load(tmp_path)
