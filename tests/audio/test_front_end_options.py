"""PCEN and whitening through the data set, its cache, its saved files and a detector run's ``dataset.json``.

Recording ``s0`` has two files (a whistle clip and a background clip), ``s1`` one: with whitening the
data set subtracts one profile from both files of ``s0``, the median over the frames of the two.
"""

import numpy as np
import pandas as pd
import pytest

from conftest import RecordingEncoder, tone
from dolphin_ae.analysis.sequences import encode_clips
from dolphin_ae.audio.gain import band_profile
from dolphin_ae.audio.pipeline import clip_windows, load_audio, waveform_frames
from dolphin_ae.audio.spectrogram import FrontEnd
from dolphin_ae.data.dataset import WindowDataset, build_window_dataset
from dolphin_ae.data.windows import extract
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.field.run import _run_front_end
from dolphin_ae.layout import RunLayout
from dolphin_ae.runio import read_json, write_json

WHITENED = FrontEnd(magnitude="pcen", whitening="recording_median")


@pytest.fixture
def sessions(write_wav):
    rng = np.random.default_rng(5)

    def noise(seconds, level):
        return (level * rng.standard_normal(int(seconds * 48000))).astype(np.float32)

    paths = {
        "whistle/s0__a.wav": noise(0.9, 0.02) + tone(9000.0, 0.9, amplitude=0.1),
        "noise/s0__b.wav": noise(0.6, 0.02),
        "whistle/s1__c.wav": noise(0.7, 0.05) + tone(12000.0, 0.7, amplitude=0.1),
    }
    written = {name: write_wav(f"data/{name}", y) for name, y in paths.items()}
    return written["whistle/s0__a.wav"].parents[1], written


def test_the_files_of_one_recording_share_its_profile(sessions):
    data, paths = sessions
    result = extract(data, front_end=WHITENED)
    assert sorted(result.profiles) == ["s0", "s1"]
    frames = {name: waveform_frames(load_audio(path), WHITENED)[0] for name, path in paths.items()}
    pooled = band_profile(np.concatenate([frames["whistle/s0__a.wav"], frames["noise/s0__b.wav"]]))
    np.testing.assert_array_equal(result.profiles["s0"], pooled)
    np.testing.assert_array_equal(result.profiles["s1"], band_profile(frames["whistle/s1__c.wav"]))
    mine = (result.index["file"] == "whistle/s0__a.wav").to_numpy()
    # The sequences whiten a clip by its recording's profile when given the data set's, as the data set did.
    np.testing.assert_array_equal(clip_windows(paths["whistle/s0__a.wav"], WHITENED, profile=pooled),
                                  result.windows[mine])
    encoder = RecordingEncoder()
    items = pd.DataFrame({"file": ["whistle/s0__a.wav", "whistle/s1__c.wav"], "recording": ["s0", "s1"]})
    encode_clips(encoder, items, data, WHITENED, step_frames=WHITENED.step_frames, profiles=result.profiles)
    np.testing.assert_array_equal(encoder.seen[0], result.windows[mine])
    # Alone, the whistle clip's own profile is another one (its tone is half its frames).
    assert not np.array_equal(clip_windows(paths["whistle/s0__a.wav"], WHITENED), result.windows[mine])


def test_the_cache_keeps_the_profiles_and_tells_the_options_apart(sessions, tmp_path):
    data, _ = sessions
    cache = tmp_path / "cache"
    first = extract(data, front_end=WHITENED, cache_dir=cache)
    again = extract(data, front_end=WHITENED, cache_dir=cache)  # read from the cache
    assert again.profiles.keys() == first.profiles.keys()
    for recording in first.profiles:
        np.testing.assert_array_equal(again.profiles[recording], first.profiles[recording])
    np.testing.assert_array_equal(np.asarray(again.windows), np.asarray(first.windows))
    plain = extract(data, front_end=FrontEnd(magnitude="pcen"), cache_dir=cache)
    assert plain.profiles is None
    assert len([entry for entry in cache.iterdir() if entry.is_dir()]) == 2
    assert not np.array_equal(np.asarray(plain.windows), np.asarray(first.windows))


def test_the_saved_data_set_and_a_detector_run_keep_the_front_end(sessions, tmp_path):
    data, _ = sessions
    dataset = build_window_dataset(data, front_end=WHITENED, test_fraction=0.5)
    run = RunLayout(tmp_path / "run")
    dataset.save(run.root)
    assert read_json(run.dataset)["front_end"]["whitening"] == "recording_median"
    assert run.band_profiles.is_file()
    loaded = WindowDataset.load(run.root)
    assert loaded.front_end == WHITENED
    for recording, profile in dataset.profiles.items():
        np.testing.assert_array_equal(loaded.profiles[recording], profile)
    # detect/embed read the front end from dataset.json, new fields included.
    assert _run_front_end(run.dataset) == WHITENED
    write_json(run.dataset, {"front_end": {**WHITENED.to_dict(), "whitening": "mean"}})
    with pytest.raises(ParameterError, match="whitening"):
        _run_front_end(run.dataset)
    # A data set without whitening writes no profiles (and removes stale ones).
    plain = build_window_dataset(data, front_end=FrontEnd(magnitude="pcen"), test_fraction=0.5)
    plain.save(run.root)
    assert not run.band_profiles.exists() and WindowDataset.load(run.root).profiles is None
