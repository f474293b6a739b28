import subprocess
import sys

import pandas as pd

from dolphin_ae.cli import main
from dolphin_ae.report import parse_overrides


def test_synth_writes_a_dataset(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "out"), "--sessions", "2", "--clips", "1", "--noise-clips", "1"]) == 0
    truth = pd.read_csv(tmp_path / "out" / "truth.csv")
    assert truth["file"].nunique() == 2 * 4
    assert "wrote 8 clips" in capsys.readouterr().out


def test_synth_writes_recordings(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "out"), "--mode", "recordings", "--sessions", "2", "--recordings", "1",
                 "--recording-s", "5", "--motifs", "2"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.wav")) == ["session000__rec00.wav", "session001__rec00.wav"]
    assert (tmp_path / "out" / "annotations.csv").exists()
    assert "wrote 2 recordings" in capsys.readouterr().out


def test_overrides_are_yaml():
    assert parse_overrides(["epochs=3", "conv_filters=[8, 4]", "magnitude=log", "jit_compile=true"]) == {
        "epochs": 3, "conv_filters": [8, 4], "magnitude": "log", "jit_compile": True}


def test_report_refuses_unknown_parameters(tmp_path):
    result = subprocess.run([sys.executable, "-m", "dolphin_ae", "report", "--profile", "ci", "--run-dir",
                             str(tmp_path), "--set", "epoch=3"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "unknown parameter(s) ['epoch']" in result.stderr


def test_report_refuses_malformed_override(tmp_path):
    result = subprocess.run([sys.executable, "-m", "dolphin_ae", "report", "--profile", "ci", "--run-dir",
                             str(tmp_path), "--set", "epochs"], capture_output=True, text=True)
    assert result.returncode == 1 and "key=value" in result.stderr


def test_help_lists_the_commands():
    result = subprocess.run([sys.executable, "-m", "dolphin_ae", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "synth" in result.stdout and "report" in result.stdout
