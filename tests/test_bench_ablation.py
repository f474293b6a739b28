"""bench/ablation.py --merge: a committed table's rows join a run's only when both were run alike."""

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_ablation", REPO / "bench" / "ablation.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def _row(seed, front, method, score):
    return {"set": f"seed {seed}", "front end": front, "method": method, "kind": "network",
            "silence balanced accuracy": score, "signals V-measure": score, "signal-type accuracy": score,
            "5-neighbour agreement": 0.5, "test MSE / PCA MSE": 1.0, "training windows per s": 10.0}


def test_old_rows_not_run_now_join_and_rerun_rows_are_replaced():
    old = {"per_set": [_row(101, "linear, none", "mse", 0.5), _row(101, "log, none", "mse", 0.6),
                       _row(102, "linear, none", "mse", 0.5)]}
    new = pd.DataFrame([_row(101, "linear, none", "mse", 0.9), _row(101, "linear, none", "supervised_mse", 0.7)])
    merged = bench.merged_rows(new, old)
    assert len(merged) == 4 and merged["merged"].sum() == 2
    rerun = merged[(merged["set"] == "seed 101") & (merged["front end"] == "linear, none") & (merged["method"] == "mse")]
    assert rerun["silence balanced accuracy"].tolist() == [0.9] and not rerun["merged"].any()
    assert set(merged.loc[merged["merged"], "set"]) == {"seed 101", "seed 102"}


def test_a_table_run_with_other_settings_is_refused_naming_them():
    old = {"development_seeds": [101, 102], "epochs": 4, "head_epochs": 16, "windows": {"seed 101": {"n_windows": 7}}}
    bench.check_mergeable(old, {"development_seeds": [101, 102], "epochs": 4}, "old.json")
    with pytest.raises(SystemExit, match=r"epochs: 4 there, 8 here; head_epochs: 16 there, 32 here"):
        bench.check_mergeable(old, {"development_seeds": [101, 102], "epochs": 8, "head_epochs": 32}, "old.json")
    with pytest.raises(SystemExit, match="development_seeds"):
        bench.check_mergeable(old, {"development_seeds": [101, 103]}, "old.json")
    with pytest.raises(SystemExit, match="windows"):
        bench.check_mergeable(old, {"windows": {"seed 101": {"n_windows": 8}}}, "old.json")
