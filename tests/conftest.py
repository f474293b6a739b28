import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile  # noqa: E402


@pytest.fixture(scope="session")
def built_run(tmp_path_factory):
    """A run directory with every notebook executed at the ``ci`` profile and the HTML book built.

    Built once per test session and shared by the book tests and the browser check.
    """
    run_dir = tmp_path_factory.mktemp("run")
    command = [sys.executable, "-m", "dolphin_ae", "report", "--profile", "ci", "--run-dir", str(run_dir)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return run_dir


@pytest.fixture
def write_wav(tmp_path):
    """Write ``y`` (n,) or (n, channels) at ``sr`` to ``tmp_path/name`` and return the path."""

    def write(name, y, sr=48000, subtype="FLOAT"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), np.asarray(y), sr, subtype=subtype)
        return path

    return write


def tone(frequency_hz, duration_s, sr=48000, amplitude=0.5):
    t = np.arange(int(duration_s * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)
