"""bench/train.py: its model sizes, its option checks, and one tiny measurement's table."""

import importlib.util
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "train.py"
spec = importlib.util.spec_from_file_location("bench_train", SCRIPT)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_cpu_sizes_are_the_cpu_profiles_and_seed_sizes_the_seeds():
    profile = yaml.safe_load((REPO / "params" / "cpu.yaml").read_text())
    assert bench.sizes_of(bench.parse([])) == (
        "cpu", {"conv_filters": profile["conv_filters"], "lstm_width": profile["lstm_width"]})
    assert bench.sizes_of(bench.parse(["--sizes", "seed"])) == (
        "seed", {"conv_filters": [128, 64, 32, 16], "lstm_width": 1.0})
    assert bench.sizes_of(bench.parse(["--sizes", "seed", "--lstm-width", "0.5"])) == (
        "custom", {"conv_filters": [128, 64, 32, 16], "lstm_width": 0.5})


@pytest.mark.parametrize("argv", [["--windows", "0"], ["--peak-tflops", "-1"], ["--jit", "maybe"],
                                  ["--xla-check", "--backends", "torch"]])
def test_bad_options_stop_with_status_2(argv):
    with pytest.raises(SystemExit) as stop:
        bench.parse(argv)
    assert stop.value.code == 2


@pytest.mark.slow
def test_a_tiny_measurement_prints_rates_flops_and_the_share_of_a_peak(capsys):
    import keras

    from dolphin_ae.models import build_model
    from dolphin_ae.models.flops import training_flops

    assert bench.main(["--models", "conv_v5", "--conv-filters", "2", "2", "2", "2", "--windows", "2",
                       "--batch-size", "2", "--epochs", "2", "--precisions", "float32", "--jit", "off",
                       "--peak-tflops", "0.001"]) == 0
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines() if line.startswith(keras.backend.backend())]
    assert [row[5].strip() for row in rows] == ["base float32 jit off", "ours float32 jit off"]
    flops = training_flops(build_model("conv_v5", filters=(2, 2, 2, 2)))
    for row in rows:
        rate, gflops, share = float(row[6]), float(row[7]), float(row[9])
        assert float(row[4]) == pytest.approx(flops / 1e9, abs=1e-3)
        assert gflops == pytest.approx(rate * flops / 1e9, rel=0.01, abs=0.01)
        assert share == pytest.approx(100 * gflops / (0.001 * 1e3), rel=0.01, abs=0.5)
    assert float(rows[0][8]) == 1.0
