"""The development grid that chooses chapter 6's settings, and the table the chapter reads."""

import numpy as np
import pandas as pd
import pytest

from dolphin_ae.analysis.discovery_settings import (chosen_settings, evaluate_settings, read_settings_table,
                                           summarise_settings, write_settings_table)
from dolphin_ae.exceptions import ParameterError
from test_discovery import planted_sequences

GRID = {"discovery_code_scaling": ["l2"], "group_k": [4], "link_ratio": [0.05, 0.5], "unit_gap_penalty": [0.3]}


def test_the_grid_scores_planted_motifs_and_picks_the_setting_that_finds_them():
    per_set = []
    for seed in (0, 1):
        sequences, motifs = planted_sequences(seed=seed)
        rows = evaluate_settings(sequences, motifs, grid=GRID)
        rows.insert(0, "set", f"seed {seed}")
        per_set.append(rows)
        assert len(rows) == 2 and (rows["n_planted"] == 3).all()
        # Clearly separated motifs: a link of half the median distance finds every one of them, purely;
        # a link of 5 % of the median links almost nothing, so finds (nearly) nothing.
        found = rows.set_index("link_ratio")
        assert found.loc[0.5, "recall"] == 1.0 and found.loc[0.5, "precision"] == 1.0
        assert found.loc[0.05, "recall"] < 1.0
    summary = summarise_settings(pd.concat(per_set, ignore_index=True))
    assert summary["chosen"].tolist() == [True, False]
    assert summary.loc[0, "link_ratio"] == 0.5 and summary.loc[0, "n_sets"] == 2
    assert summary.loc[0, "mean_precision"] == 1.0 and summary.loc[0, "objective"] == 1.0


def test_a_setting_without_groups_counts_as_precision_zero():
    per_set = pd.DataFrame({"set": ["a", "b"], "discovery_code_scaling": ["l2", "l2"], "group_k": [3, 3],
                            "link_ratio": [0.5, 0.5], "unit_gap_penalty": [0.3, 0.3],
                            "precision": [np.nan, 1.0], "recall": [0.0, 1.0], "n_groups": [0, 2]})
    summary = summarise_settings(per_set)
    assert summary.loc[0, "mean_precision"] == 0.5 and summary.loc[0, "mean_recall"] == 0.5


def test_the_table_round_trips_with_its_chosen_row(tmp_path):
    sequences, motifs = planted_sequences(seed=0)
    rows = evaluate_settings(sequences, motifs, grid=GRID)
    rows.insert(0, "set", "seed 0")
    path = write_settings_table(summarise_settings(rows), {"development_seeds": [101]}, tmp_path / "t.csv")
    table, meta = read_settings_table(path)
    assert meta["development_seeds"] == [101] and meta["chosen"]["link_ratio"] == 0.5
    assert chosen_settings(table) == {"discovery_code_scaling": "l2", "group_k": 4, "link_ratio": 0.5,
                                      "unit_gap_penalty": 0.3}
    assert read_settings_table(tmp_path / "absent.csv") == (None, None)


def test_the_grid_refuses_unknown_settings():
    sequences, motifs = planted_sequences(seed=0, n_other=2)
    with pytest.raises(ParameterError, match="discovery_code_scaling must be among"):
        evaluate_settings(sequences, motifs, grid={"discovery_code_scaling": ["standard"]})
    with pytest.raises(ParameterError, match="unknown settings"):
        evaluate_settings(sequences, motifs, grid={"code_scaling": ["l2"]})
