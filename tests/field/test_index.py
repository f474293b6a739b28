"""index over recordings that change: one rewritten since it was indexed is embedded again, the others not.

The model is the session's ``trained_run`` (``tests/conftest.py``); the recordings are short synthetic
recordings (``synthesize_dataset`` in ``recordings`` mode), copied so that a test can rewrite them.
"""

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dolphin_ae.cli import main
from dolphin_ae.data.synth import synthesize_dataset
from dolphin_ae.field import index as index_module
from dolphin_ae.field.index import build_index
from dolphin_ae.field.regions import DetectionOptions
from dolphin_ae.field.search import load_index, search
from dolphin_ae.layout import IndexLayout
from dolphin_ae.runio import read_json, write_json

from conftest import count_embeddings

# Regions of two windows at least, as in test_search: the tiny detector's lone windows of background are left out.
OPTIONS = DetectionOptions(min_region_s=0.25)
# Moved this far (ns) ahead of its old time, a rewritten recording's time differs whatever the clock's resolution.
LATER_NS = 5_000_000_000


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Three different 12 s recordings with whistles in them."""
    root = tmp_path_factory.mktemp("sources")
    synthesize_dataset(root, mode="recordings", n_sessions=1, recordings_per_session=3, recording_s=12.0,
                       n_motifs=2, motif_fraction=0.5, snr_db_range=(14.0, 20.0),
                       events_per_minute={"whistle": 30.0, "burst": 2.0, "click": 2.0}, seed=11)
    found = sorted(root.glob("*.wav"))
    assert len(found) == 3
    return found


@pytest.fixture
def recordings(sources, tmp_path):
    """``a.wav`` and ``b.wav``, copies of the first two sources, in a folder of this test's own."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    copies = []
    for source, name in zip(sources, ("a.wav", "b.wav")):
        shutil.copyfile(source, folder / name)
        copies.append(folder / name)
    return copies


def rewrite(path, content):
    """Replace ``path``'s bytes (a recording's, or ``bytes``) and move its modification time ahead."""
    before = os.stat(path).st_mtime_ns
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        shutil.copyfile(content, path)
    os.utime(path, ns=(before + LATER_NS, before + LATER_NS))


def part_of(index_dir, file):
    (entry,) = [entry for entry in read_json(IndexLayout(index_dir).manifest)["parts"] if entry["file"] == str(file)]
    return entry


def part_files(layout, part):
    return [layout.part_regions(part), layout.part_sequences(part), layout.part_record(part)]


def regions_of(index, file):
    """``file``'s rows of ``index`` without ``first_window`` (an offset into the whole index's sequences), and
    its regions' window codes, one after another."""
    rows = index.regions[index.regions["file"] == str(file)]
    sequences = [index.sequence(i) for i in rows.index]
    return rows.drop(columns="first_window").reset_index(drop=True), np.concatenate(sequences)


def as_written_before(index_dir):
    """Make ``index_dir`` what dolphin-ae wrote before its manifest's entries held each recording's size and time
    (only the part records held them)."""
    layout = IndexLayout(index_dir)
    manifest = read_json(layout.manifest)
    for entry in manifest["parts"]:
        entry.pop("recording")
        record = read_json(layout.part_record(entry["part"]))
        record["entry"].pop("recording")
        write_json(layout.part_record(entry["part"]), record)
    write_json(layout.manifest, manifest)


def test_a_changed_recording_is_embedded_again_and_the_others_are_not(trained_run, recordings, sources, tmp_path,
                                                                      monkeypatch):
    a, b = recordings
    out = tmp_path / "idx"
    first = build_index(trained_run, [a, b], out, options=OPTIONS)
    assert first.succeeded == [str(a), str(b)] and first.changed == [] and first.failed == []
    assert part_of(out, a)["recording"]["size"] == os.stat(a).st_size
    as_written_before(out)  # its part records say what the recordings were: that is read too
    layout = IndexLayout(out)
    before = load_index(out)
    old_a, old_b = part_of(out, a), part_of(out, b)
    a_bytes = [path.read_bytes() for path in part_files(layout, old_a["part"])]
    a_mtimes = [os.stat(path).st_mtime_ns for path in part_files(layout, old_a["part"])]
    embedded = count_embeddings(monkeypatch)

    # Nothing changed: nothing is embedded, the index is left as it was.
    manifest = layout.manifest.read_bytes()
    unchanged = build_index(trained_run, [a, b], out, options=OPTIONS)
    assert embedded == [] and unchanged.succeeded == [] and unchanged.failed == []
    assert layout.manifest.read_bytes() == manifest

    rewrite(b, sources[2])
    result = build_index(trained_run, [a, b], out, options=OPTIONS)
    assert embedded == [str(b)]
    assert result.succeeded == [str(b)] and result.changed == [str(b)] and result.failed == []
    after = load_index(out)
    assert [entry["file"] for entry in after.manifest["parts"]] == [str(a), str(b)]
    assert after.manifest["n_regions"] == len(after)
    # a: the same part, its files not rewritten, its regions as they were.
    assert part_of(out, a) == old_a
    assert [path.read_bytes() for path in part_files(layout, old_a["part"])] == a_bytes
    assert [os.stat(path).st_mtime_ns for path in part_files(layout, old_a["part"])] == a_mtimes
    pd.testing.assert_frame_equal(regions_of(after, a)[0], regions_of(before, a)[0])
    # b: a new part, with the recording's size and time as they are now; the old part's files are gone.
    new_b = part_of(out, b)
    assert new_b["part"] != old_b["part"] and new_b["recording"]["mtime_ns"] == os.stat(b).st_mtime_ns
    assert not any(path.exists() for path in part_files(layout, old_b["part"]))
    assert sorted(layout.parts.iterdir()) == sorted(part_files(layout, old_a["part"]) +
                                                    part_files(layout, new_b["part"]))
    # b's regions are those of the new recording: what a fresh index of it holds, not what the old one gave.
    rows, sequences = regions_of(after, b)
    assert len(rows) > 0
    old_rows, _ = regions_of(before, b)
    assert len(rows) != len(old_rows) or not np.allclose(rows[["start_s", "end_s"]], old_rows[["start_s", "end_s"]])
    build_index(trained_run, [b], tmp_path / "fresh", options=OPTIONS)
    fresh_rows, fresh_sequences = regions_of(load_index(tmp_path / "fresh"), b)
    pd.testing.assert_frame_equal(rows, fresh_rows)
    np.testing.assert_array_equal(sequences, fresh_sequences)
    # Search runs over the rebuilt index: a region of the new b finds itself first.
    i = int(after.regions.index[after.regions["file"] == str(b)][0])
    hits = search(after, after.codes[i], after.sequence(i), k=3)
    assert (hits["file"].iloc[0], hits["start_s"].iloc[0]) == (str(b), after.regions["start_s"].iloc[i])
    assert hits["distance"].iloc[0] == pytest.approx(0.0, abs=1e-4)


def test_the_command_says_what_it_re_embedded_and_what_it_could_not_use(trained_run, recordings, sources, tmp_path,
                                                                         capsys):
    a, b = recordings
    out = tmp_path / "idx"
    layout = IndexLayout(out)
    command = ["index", str(trained_run), str(a), str(b), "--out", str(out), "--min-region-s", "0.25", "--no-progress"]
    assert main(command) == 0
    rewrite(a, sources[2])
    capsys.readouterr()
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "from 1 recording(s)" in printed and "(1 re-embedded: changed since they were indexed)" in printed
    # b rewritten as something that is not audio, a gone: both listed; b's old regions leave the index, a's stay.
    old_b = part_of(out, b)
    a_rows, a_sequences = regions_of(load_index(out), a)
    rewrite(b, b"not audio" * 100)
    a.unlink()
    assert main(command) == 1
    errors = capsys.readouterr().err
    assert "2 of 2 recording(s) could not be used" in errors
    assert f"{a}: missing now; its regions in the index are kept" in errors
    assert "so its old regions were removed from the index" in errors
    after = load_index(out)
    assert set(after.regions["file"]) == {str(a)} and after.manifest["n_regions"] == len(after) == len(a_rows)
    pd.testing.assert_frame_equal(regions_of(after, a)[0], a_rows)
    np.testing.assert_array_equal(regions_of(after, a)[1], a_sequences)
    assert not any(path.exists() for path in part_files(layout, old_b["part"]))


def test_a_build_interrupted_while_re_embedding_leaves_the_old_index_whole(trained_run, recordings, sources, tmp_path,
                                                                            monkeypatch):
    a, b = recordings
    out = tmp_path / "idx"
    layout = IndexLayout(out)
    build_index(trained_run, [a, b], out, options=OPTIONS)
    before = load_index(out)
    old_b = part_of(out, b)
    rewrite(b, sources[2])
    original = index_module.write_json

    def interrupted(path, data):
        if Path(path) == layout.manifest:
            raise KeyboardInterrupt
        original(path, data)

    monkeypatch.setattr(index_module, "write_json", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_index(trained_run, [a, b], out, options=OPTIONS)
    # Interrupted before index.json: the index is the old one, its old part of b still there and checked.
    pd.testing.assert_frame_equal(load_index(out).regions, before.regions)
    assert all(path.exists() for path in part_files(layout, old_b["part"]))
    monkeypatch.setattr(index_module, "write_json", original)
    embedded = count_embeddings(monkeypatch)
    result = build_index(trained_run, [a, b], out, options=OPTIONS)
    # The next build keeps the part of the new b that the interrupted one finished, and drops the old one.
    assert embedded == [] and result.changed == result.reused == result.succeeded == [str(b)]
    assert part_of(out, b)["part"] != old_b["part"]
    assert not any(path.exists() for path in part_files(layout, old_b["part"]))
    build_index(trained_run, [b], tmp_path / "fresh", options=OPTIONS)
    pd.testing.assert_frame_equal(regions_of(load_index(out), b)[0], regions_of(load_index(tmp_path / "fresh"), b)[0])
