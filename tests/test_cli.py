import subprocess
import sys

import pandas as pd

from dolphin_ae.cli import main
from dolphin_ae.book.report import parse_overrides


def test_synth_writes_a_dataset(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "out"), "--sessions", "2", "--clips", "1", "--noise-clips", "1"]) == 0
    truth = pd.read_csv(tmp_path / "out" / "truth.csv")
    assert truth["file"].nunique() == 2 * 4
    assert "wrote 8 clips" in capsys.readouterr().out


def test_synth_easy_writes_the_data_without_the_difficulty(tmp_path):
    common = ["--sessions", "2", "--clips", "1", "--noise-clips", "1", "--seed", "4"]
    assert main(["synth", str(tmp_path / "easy"), "--easy", *common]) == 0
    assert main(["synth", str(tmp_path / "hard"), *common]) == 0
    easy = pd.read_csv(tmp_path / "easy" / "truth.csv", keep_default_na=False)
    hard = pd.read_csv(tmp_path / "hard" / "truth.csv", keep_default_na=False)
    # Without the knobs no click train accompanies a whistle or burst; with them, some clip gets one.
    assert len(hard) > len(easy) == 2 * 4 + int((~easy["primary"]).sum())
    assert pd.read_json(tmp_path / "easy" / "synth.json", typ="series")["parameters"]["click_overlap_probability"] == 0


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
    assert result.returncode == 2
    assert "unknown parameter(s) ['epoch']" in result.stderr
    assert "Traceback" not in result.stderr and "running" not in result.stdout


def test_report_refuses_malformed_override(tmp_path, capsys):
    assert main(["report", "--profile", "ci", "--run-dir", str(tmp_path / "run"), "--set", "epochs"]) == 2
    assert "key=value" in capsys.readouterr().err


def test_help_lists_the_commands():
    result = subprocess.run([sys.executable, "-m", "dolphin_ae", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "synth" in result.stdout and "report" in result.stdout


def _run_dir(tmp_path, *, dataset="valid", detector=b"PK\x03\x04 not a keras archive"):
    """A run directory for detect/embed whose dataset.json or models/silence_detector.keras is broken."""
    import json

    from dolphin_ae.audio.spectrogram import FrontEnd

    run_dir = tmp_path / "run"
    (run_dir / "models").mkdir(parents=True)
    (run_dir / "models" / "silence_detector.keras").write_bytes(detector)
    meta = {"front_end": FrontEnd().to_dict()} if dataset == "valid" else {"n_windows": 10}
    (run_dir / "dataset.json").write_text(json.dumps(meta))
    return run_dir


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("dolphin-ae: error: "), err
    return err


def test_detect_refuses_a_table_it_would_not_write_as_named(tmp_path, capsys):
    # detect writes CSV; a .parquet name would get CSV inside it.
    assert main(["detect", str(tmp_path / "no_run"), "a.wav", "--out", str(tmp_path / "regions.parquet")]) == 2
    err = _one_error_line(capsys)
    assert "--out" in err and "regions.parquet" in err and ".csv" in err
    assert not (tmp_path / "regions.parquet").exists()


def test_detect_refuses_a_wav_output_without_the_wav_suffix(tmp_path, capsys):
    assert main(["detect", str(tmp_path / "no_run"), "a.wav", "--out", str(tmp_path / "r.csv"),
                 "--wav", str(tmp_path / "out.txt")]) == 2
    err = _one_error_line(capsys)
    assert "--wav" in err and "out.txt" in err and ".wav" in err


def test_embed_refuses_an_unknown_table_suffix(tmp_path, capsys):
    assert main(["embed", str(tmp_path / "no_run"), "a.wav", "--out", str(tmp_path / "codes.txt")]) == 2
    assert "--out" in _one_error_line(capsys)


def test_a_corrupt_keras_file_is_named(tmp_path, capsys):
    run_dir = _run_dir(tmp_path)
    for command, out in (("detect", "r.csv"), ("embed", "c.parquet")):
        assert main([command, str(run_dir), "a.wav", "--out", str(tmp_path / out)]) == 2
        err = _one_error_line(capsys)
        assert f"{run_dir / 'models' / 'silence_detector.keras'}: cannot be read as a Keras model" in err


def test_a_dataset_json_without_its_front_end_is_named(tmp_path, capsys):
    run_dir = _run_dir(tmp_path, dataset="no front end")
    assert main(["detect", str(run_dir), "a.wav", "--out", str(tmp_path / "r.csv")]) == 2
    err = _one_error_line(capsys)
    assert f"{run_dir / 'dataset.json'}: no \"front_end\"" in err
