"""Reports over recordings with bad files: the run goes on and names them; no usable audio stops it."""

import json
import subprocess
import sys

import pytest

from dolphin_ae.synth import synthesize_dataset

pytestmark = pytest.mark.slow

REPORT = [sys.executable, "-m", "dolphin_ae", "report", "--profile", "ci"]


def test_a_corrupt_file_is_named_in_the_manifest_and_the_book_is_built(tmp_path):
    data = tmp_path / "data"
    synthesize_dataset(data, n_sessions=8, clips_per_label={"whistle": 2, "burst": 2, "click": 2, "noise": 4}, seed=0)
    (data / "click" / "session003__broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    run_dir = tmp_path / "run"
    result = subprocess.run(REPORT + ["--data", str(data), "--run-dir", str(run_dir)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    skipped = manifest["stages"]["01_data"]["skipped_files"]
    assert [entry["file"] for entry in skipped] == ["click/session003__broken.wav"]
    assert "cannot be read as audio" in skipped[0]["reason"]
    html = run_dir / "book" / "_build" / "html"
    assert (html / "03_silence.html").exists()
    assert "session003__broken.wav" in (html / "01_data.html").read_text()


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
