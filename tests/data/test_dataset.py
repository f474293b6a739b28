import numpy as np
import pandas as pd
import pytest

from conftest import tone
from dolphin_ae.data.clips import detect_layout, scan_labelled_folder
from dolphin_ae.data.dataset import WindowDataset, build_window_dataset, split_by_recording
from dolphin_ae.data.recordings import recording_of
from dolphin_ae.data.windows import extract_windows
from dolphin_ae.exceptions import NoUsableAudioError, ParameterError
from dolphin_ae.data.synth import synthesize_dataset


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


def test_bad_files_are_skipped_and_named_short_clips_padded(synthetic_dir, tmp_path, write_wav):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(synthetic_dir, data)
    (data / "whistle" / "broken__clip.wav").write_bytes(b"RIFF\x00\x00garbage")
    write_wav("data/noise/empty__clip.wav", np.zeros(0, dtype=np.float32))
    nan = tone(8000.0, 0.3)
    nan[100] = np.nan
    write_wav("data/noise/nan__clip.wav", nan)
    write_wav("data/click/slow__clip.wav", tone(3000.0, 0.3, sr=22050), sr=22050)
    whole = write_wav("data/burst/cut__clip.wav", tone(8000.0, 0.5), subtype="PCM_16")
    (data / "burst" / "cut__short.wav").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    whole.unlink()
    write_wav("data/whistle/crumb__clip.wav", tone(8000.0, 0.01))
    write_wav("data/whistle/catalogue__clip.wav", tone(8000.0, 0.1))  # 0.1 s: between the minimum and a window
    dataset = build_window_dataset(data, seed=0, min_duration_s=0.05)
    reasons = {s["file"]: s["reason"] for s in dataset.skipped}
    assert "cannot be read" in reasons["whistle/broken__clip.wav"]
    assert "no samples" in reasons["noise/empty__clip.wav"]
    assert "NaN" in reasons["noise/nan__clip.wav"]
    assert "at least 48000 Hz" in reasons["click/slow__clip.wav"]
    assert "truncated" in reasons["burst/cut__short.wav"]
    assert "shorter than the minimum 0.05 s" in reasons["whistle/crumb__clip.wav"]
    for file in reasons:
        assert file in reasons[file] and file not in set(dataset.index["file"])
    padded = dataset.index[dataset.index["file"] == "whistle/catalogue__clip.wav"]
    assert len(padded) == 1 and padded["padded"].all() and padded["label"].iloc[0] == "whistle"
    assert not dataset.index.loc[dataset.index["file"] != "whistle/catalogue__clip.wav", "padded"].any()
    assert np.isfinite(dataset.windows).all()


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


def _recordings(tmp_path, write_wav, *, n=4, duration_s=3.0):
    """Four long recordings: quiet noise with a 10 kHz tone from 1.0 to 2.0 s in each."""
    rng = np.random.default_rng(0)
    files = []
    for k in range(n):
        y = 0.01 * rng.standard_normal(int(duration_s * 48000)).astype(np.float32)
        y[48000:96000] += tone(10000.0, 1.0, amplitude=0.3)
        files.append(write_wav(f"data/site{k}__day1.wav", y, subtype="PCM_24"))
    return tmp_path / "data"


def test_annotated_recordings(tmp_path, write_wav):
    data = _recordings(tmp_path, write_wav)
    rows = [f"site{k}__day1.wav,1.0,2.0,whistle,flat" for k in range(4)] + ["ghost.wav,0,1,click,"]
    (data / "annotations.csv").write_text("file,start_s,end_s,label,type\n" + "\n".join(rows) + "\n")
    assert detect_layout(data) == "annotations"
    dataset = build_window_dataset(data, seed=0)
    assert dataset.layout == "annotations"
    index = dataset.index
    assert set(index["recording"]) == {f"site{k}" for k in range(4)}
    window_s = dataset.front_end.window_samples / dataset.front_end.sr
    middle = index["start_s"] + window_s / 2
    inside = (index["start_s"] + window_s * 0.5 <= 2.0) & (index["start_s"] + window_s * 0.5 >= 1.0)
    assert (index.loc[inside, "label"] == "whistle").all() and (index.loc[inside, "type"] == "flat").all()
    far = (middle < 0.8) | (middle > 2.2)
    assert (index.loc[far, "label"] == "noise").all() and (index.loc[far, "event_overlap"] == 0).all()
    assert [s["file"] for s in dataset.skipped] == ["ghost.wav"]
    # The quiet windows are quieter than the tone's: the labels line up with the audio.
    assert index.loc[inside, "level_db"].min() > index.loc[far, "level_db"].max()


def test_raven_layout(tmp_path, write_wav):
    data = _recordings(tmp_path, write_wav)
    for k in range(4):
        (data / f"site{k}__day1.Table.1.selections.txt").write_text(
            "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLabel\n1\tSpectrogram 1\t1\t1.0\t2.0\tWhistle\n")
    assert detect_layout(data) == "raven"
    index = build_window_dataset(data, seed=0).index
    assert set(index["label"]) == {"whistle", "noise"}
    assert (index.groupby("file")["label"].apply(lambda s: (s == "whistle").sum()) >= 8).all()


def test_windows_are_cached_until_an_input_or_parameter_changes(tmp_path, write_wav, monkeypatch):
    import dolphin_ae.data.windows as windows_module

    data = _recordings(tmp_path, write_wav)
    (data / "annotations.csv").write_text("file,start_s,end_s,label\nsite0__day1.wav,1,2,whistle\n")
    cache = tmp_path / "cache"
    windows, index, _, _ = extract_windows(data, cache_dir=cache)
    assert isinstance(windows, np.memmap) and len(list(cache.iterdir())) == 1

    def no_reading(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(windows_module, "load_audio", no_reading)
    again, index_again, _, _ = extract_windows(data, cache_dir=cache)
    np.testing.assert_array_equal(again, windows)
    pd.testing.assert_frame_equal(index_again, index)
    monkeypatch.undo()
    extract_windows(data, cache_dir=cache, min_event_overlap=0.9)
    (data / "annotations.csv").write_text("file,start_s,end_s,label\nsite1__day1.wav,1,2,whistle\n")
    changed, changed_index, _, _ = extract_windows(data, cache_dir=cache)
    assert len(list(cache.iterdir())) == 3
    assert set(changed_index.loc[changed_index["label"] == "whistle", "file"]) == {"site1__day1.wav"}
    # Saving a cached data set links the cache's file instead of copying it.
    dataset = build_window_dataset(data, cache_dir=cache)
    dataset.save(tmp_path / "run")
    assert (tmp_path / "run" / "windows.npy").stat().st_nlink == 2
    np.testing.assert_array_equal(WindowDataset.load(tmp_path / "run").windows, changed)


def test_unknown_layout(tmp_path):
    with pytest.raises(ParameterError, match="layout must be one of"):
        build_window_dataset(tmp_path, layout="spreadsheet")
