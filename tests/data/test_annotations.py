import numpy as np
import pandas as pd
import pytest

from dolphin_ae.data.annotations import (
    find_raven_tables,
    is_raven_table,
    read_annotations_csv,
    read_raven_table,
    window_labels,
)
from dolphin_ae.exceptions import AudioError, ParameterError

WINDOW_S = 0.18


def events(*rows):
    return pd.DataFrame(rows, columns=["start_s", "end_s", "label", "type"])


def test_an_event_covering_most_of_a_window_labels_it():
    starts = np.array([0.0, 0.09, 0.18, 0.27, 0.36])
    labels, types, overlap = window_labels(starts, WINDOW_S, events((0.1, 0.3, "whistle", "upsweep")))
    # Coverage: 0.08, 0.17, 0.12, 0.03, 0.0 s of 0.18 s windows.
    assert list(labels) == ["noise", "whistle", "whistle", "noise", "noise"]
    assert list(types) == ["", "upsweep", "upsweep", "", ""]
    np.testing.assert_allclose(overlap, [0.08 / 0.18, 0.17 / 0.18, 0.12 / 0.18, 0.03 / 0.18, 0.0])


def test_min_event_overlap_moves_the_line():
    starts = np.array([0.0])
    table = events((0.0, 0.07, "burst", ""), (0.5, 0.9, "click", ""))  # 0.07 s: shorter than the window
    assert window_labels(starts, WINDOW_S, table, min_event_overlap=0.5)[0][0] == "burst"
    half_inside = events((0.15, 0.21, "click", ""))  # half of a 0.06 s event lies in the window
    assert window_labels(starts, WINDOW_S, half_inside, min_event_overlap=0.5)[0][0] == "click"
    assert window_labels(starts, WINDOW_S, half_inside, min_event_overlap=0.6)[0][0] == "noise"
    long_edge = events((0.12, 2.0, "whistle", ""))  # a long event covering a third of the window
    assert window_labels(starts, WINDOW_S, long_edge, min_event_overlap=0.3)[0][0] == "whistle"
    assert window_labels(starts, WINDOW_S, long_edge, min_event_overlap=0.5)[0][0] == "noise"
    with pytest.raises(ParameterError, match="min_event_overlap"):
        window_labels(starts, WINDOW_S, table, min_event_overlap=0.0)


def test_overlapping_events_the_label_covering_most_wins():
    table = events((0.0, 0.18, "click", "echolocation"), (0.05, 0.18, "whistle", "convex"),
                   (0.2, 0.38, "whistle", "a"), (0.18, 0.25, "burst", "b"))
    labels, types, overlap = window_labels(np.array([0.0, 0.2]), WINDOW_S, table)
    assert list(labels) == ["click", "whistle"]
    assert list(types) == ["echolocation", "a"]  # the type of the winning label's event
    assert overlap[0] == 1.0  # overlapping events count once up to the whole window


def test_noise_events_and_no_events_are_silence():
    labels, _, overlap = window_labels(np.array([0.0, 1.0]), WINDOW_S, events((0.0, 2.0, "noise", "boat")))
    assert list(labels) == ["noise", "noise"] and not overlap.any()
    assert list(window_labels(np.array([0.0]), WINDOW_S, events())[0]) == ["noise"]


def test_annotations_csv(tmp_path):
    path = tmp_path / "annotations.csv"
    path.write_text("file,start_s,end_s,label,type\nrec1.wav,0.5,1.0, Whistle ,upsweep\nsub/rec2.flac,2,2.5,click,\n"
                    "rec1.wav,3,3.2,,\n")
    table = read_annotations_csv(path)
    assert list(table.columns) == ["file", "start_s", "end_s", "label", "type"]
    assert list(table["label"]) == ["whistle", "click", "signal"]
    assert list(table["file"]) == ["rec1.wav", "sub/rec2.flac", "rec1.wav"]
    assert table["end_s"].tolist() == [1.0, 2.5, 3.2]
    path.write_text("file,start_s,end_s,label\nrec1.wav,1.0,0.5,whistle\n")
    with pytest.raises(AudioError, match="row 2 .*start_s < end_s"):
        read_annotations_csv(path)
    path.write_text("file,begin,end,label\nrec1.wav,0,1,whistle\n")
    with pytest.raises(AudioError, match="lacks column"):
        read_annotations_csv(path)


RAVEN_HEADER = "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)"


def test_raven_table_named_after_its_recording(tmp_path):
    (tmp_path / "site").mkdir()
    audio = [tmp_path / "site" / "rec01.wav", tmp_path / "site" / "rec0.wav"]
    for path in audio:
        path.write_bytes(b"")
    table = tmp_path / "site" / "rec01.Table.1.selections.txt"
    table.write_text(f"{RAVEN_HEADER}\tAnnotation\n"
                     "1\tWaveform 1\t1\t0.50\t0.90\t0\t0\tWhistle\n"
                     "1\tSpectrogram 1\t1\t0.50\t0.90\t5000\t15000\tWhistle\n"
                     "2\tSpectrogram 1\t1\t1.25\t1.40\t5000\t24000\tclick\n")
    assert is_raven_table(table) and find_raven_tables(tmp_path) == [table]
    result = read_raven_table(table, data_dir=tmp_path, audio_files=audio)
    assert list(result["file"]) == ["site/rec01.wav"] * 2  # the longest matching name, once per selection
    assert list(result["label"]) == ["whistle", "click"]
    assert result["start_s"].tolist() == [0.5, 1.25] and result["end_s"].tolist() == [0.9, 1.4]


def test_raven_table_over_several_files(tmp_path):
    audio = [tmp_path / "a.wav", tmp_path / "b.flac"]
    table = tmp_path / "survey.selections.txt"
    table.write_text(f"{RAVEN_HEADER}\tBegin File\tFile Offset (s)\tCall Type\n"
                     "1\tSpectrogram 1\t1\t10.0\t10.5\t0\t0\ta.wav\t2.0\tburst\n"
                     "2\tSpectrogram 1\t1\t65.0\t66.0\t0\t0\tb.flac\t5.0\twhistle\n")
    result = read_raven_table(table, data_dir=tmp_path, audio_files=audio)
    assert list(result["file"]) == ["a.wav", "b.flac"]
    assert result["start_s"].tolist() == [2.0, 5.0] and result["end_s"].tolist() == [2.5, 6.0]
    assert list(result["label"]) == ["burst", "whistle"]
    with pytest.raises(ParameterError, match="label_column 'Kind'"):
        read_raven_table(table, data_dir=tmp_path, audio_files=audio, label_column="Kind")
    with pytest.raises(AudioError, match="'b.flac'.*no such file"):
        read_raven_table(table, data_dir=tmp_path, audio_files=audio[:1])


def test_raven_table_without_a_recording(tmp_path):
    table = tmp_path / "orphan.Table.1.selections.txt"
    table.write_text(f"{RAVEN_HEADER}\n1\tSpectrogram 1\t1\t0.1\t0.2\t0\t0\n")
    with pytest.raises(AudioError, match="no recording in its folder"):
        read_raven_table(table, data_dir=tmp_path, audio_files=[])
    assert not is_raven_table(tmp_path / "missing.txt")
