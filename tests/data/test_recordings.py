"""Which recording a file belongs to: recording_pattern, recordings.csv, and the one-file-per-recording warning."""

import logging

import numpy as np
import pytest

from conftest import tone
from dolphin_ae.data.dataset import WindowDataset, build_window_dataset
from dolphin_ae.data.windows import extract_windows
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.data.recordings import (assign_recordings, compile_recording_pattern, one_recording_per_file_warning,
                                   recording_of)

PATTERN = r"Whis_([A-Za-z]+\d+)-"
SESSIONS = ("Apr13", "Apr14", "May02", "May03", "Jun10")


def _session_clips(tmp_path, write_wav, *, clips_per_session=2):
    """Clips named like the Wild Dolphin Project's (no ``__``): five sessions, whistles and noise."""
    rng = np.random.default_rng(0)
    for session in SESSIONS:
        for k in range(clips_per_session):
            noise = 0.01 * rng.standard_normal(12000).astype(np.float32)
            write_wav(f"data/whistle/Whis_{session}-{k:02d}.wav", noise + tone(9000.0, 0.25, amplitude=0.3))
            write_wav(f"data/noise/Whis_{session}-n{k:02d}.wav", noise)
    return tmp_path / "data"


def test_pattern_names_the_recording_by_its_first_group():
    assert recording_of("whistle/Whis_Apr13-01.wav", pattern=PATTERN) == "Apr13"
    assert recording_of("noise/Whis_Apr13-n07.wav", pattern=PATTERN) == "Apr13"
    # Files the pattern does not match fall back to the "__" rule, then to the file itself.
    assert recording_of("whistle/s3__w.wav", pattern=PATTERN) == "s3"
    assert recording_of("whistle/other.wav", pattern=PATTERN) == "whistle/other"
    recordings, rule = assign_recordings(["w/Whis_Apr13-01.wav", "w/Whis_Apr13-02.wav", "w/Whis_May02-01.wav"],
                                         "/nonexistent", pattern=PATTERN)
    assert recordings == ["Apr13", "Apr13", "May02"] and rule == "recording_pattern"


@pytest.mark.parametrize("pattern, message", [("Whis_([A-Z", "not a valid regular expression"),
                                              (r"Whis_\w+-", "has no group")])
def test_a_bad_pattern_is_refused_naming_the_parameter(pattern, message, tmp_path, write_wav):
    with pytest.raises(ParameterError, match=f"recording_pattern .*{message}"):
        compile_recording_pattern(pattern)
    data = _session_clips(tmp_path, write_wav, clips_per_session=1)
    with pytest.raises(ParameterError, match="recording_pattern"):
        build_window_dataset(data, recording_pattern=pattern)


def test_recordings_csv_assigns_and_must_list_every_file(tmp_path, write_wav):
    data = _session_clips(tmp_path, write_wav, clips_per_session=1)
    files = sorted(p.relative_to(data).as_posix() for p in data.rglob("*.wav"))
    # Sessions paired two by two, against what the names (and the pattern) would say.
    table = {f: f"pair{SESSIONS.index(f.split('_')[1].split('-')[0]) // 2}" for f in files}
    (data / "recordings.csv").write_text("file,recording\n" + "".join(f"{f},{r}\n" for f, r in table.items()))
    recordings, rule = assign_recordings(files, data, pattern=PATTERN)
    assert rule == "recordings.csv" and recordings == [table[f] for f in files]
    (data / "recordings.csv").write_text("file,recording\n" + "".join(f"{f},{table[f]}\n" for f in files[1:]))
    with pytest.raises(ParameterError, match=r"recordings\.csv: lists no recording for 1 of 10 audio files"):
        build_window_dataset(data)
    (data / "recordings.csv").write_text("file,session\n")
    with pytest.raises(ParameterError, match="lacks the column"):
        build_window_dataset(data)


def test_the_split_keeps_each_session_on_one_side(tmp_path, write_wav):
    data = _session_clips(tmp_path, write_wav, clips_per_session=3)
    dataset = build_window_dataset(data, recording_pattern=PATTERN, test_fraction=0.25, seed=0)
    index = dataset.index
    expected = index["file"].str.extract(PATTERN, expand=False)
    assert (index["recording"] == expected).all()
    assert set(index["recording"]) == set(SESSIONS)
    assert (index.groupby("recording")["split"].nunique() == 1).all()
    assert dataset.recording_rule == "recording_pattern" and dataset.recording_warning is None
    dataset.save(tmp_path / "run")
    assert WindowDataset.load(tmp_path / "run").recording_rule == "recording_pattern"


def test_every_file_its_own_recording_is_warned(tmp_path, write_wav, caplog):
    data = _session_clips(tmp_path, write_wav, clips_per_session=1)
    with caplog.at_level(logging.WARNING, logger="dolphin_ae.data.dataset"):
        dataset = build_window_dataset(data, seed=0)
    assert dataset.index["recording"].nunique() == dataset.index["file"].nunique() == 10
    assert "every one of the 10 audio files is a recording of its own" in dataset.recording_warning
    assert "recording_pattern" in dataset.recording_warning
    assert any("recording of its own" in record.message for record in caplog.records)
    dataset.save(tmp_path / "run")
    assert "recording of its own" in WindowDataset.load(tmp_path / "run").recording_warning
    # A handful of files may well be a recording each: no warning.
    assert one_recording_per_file_warning(["a", "b", "c"], ["a", "b", "c"]) is None
    assert one_recording_per_file_warning(list("abcdefg"), list("aabbccd")) is None


def test_the_pattern_is_part_of_the_cache_key(tmp_path, write_wav):
    data = _session_clips(tmp_path, write_wav, clips_per_session=1)
    cache = tmp_path / "cache"
    _, plain, _, _ = extract_windows(data, cache_dir=cache)
    _, grouped, _, _ = extract_windows(data, cache_dir=cache, recording_pattern=PATTERN)
    assert len(list(cache.iterdir())) == 2
    assert plain["recording"].nunique() == 10 and grouped["recording"].nunique() == 5
    (data / "recordings.csv").write_text("file,recording\n" + "".join(
        f"{f},one\n" for f in sorted(p.relative_to(data).as_posix() for p in data.rglob("*.wav"))))
    _, tabled, _, _ = extract_windows(data, cache_dir=cache, recording_pattern=PATTERN)
    assert set(tabled["recording"]) == {"one"} and len(list(cache.iterdir())) == 3
