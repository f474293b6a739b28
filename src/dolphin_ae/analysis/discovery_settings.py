"""Settings of the tight-group discovery rule, chosen on development data sets, and the table that says so.

Chapter 6's rule (:func:`dolphin_ae.analysis.discovery.tight_groups`) has settings that can only be chosen by
looking at outcomes: how codes are scaled (``discovery_code_scaling``), how many neighbours are
linked (``group_k``), the longest link as a share of the median distance (``link_ratio``) and the
DTW gap penalty. They are chosen by ``bench/discovery_settings.py`` on synthetic development sets
made with other random seeds than any scored run, never on the recordings the book scores. That
script writes :data:`DEVELOPMENT_TABLE` (one row per setting, its mean precision and recall over
the sets, the chosen row marked) and a JSON file beside it saying how the table was made; the
chapter reads both (:func:`read_settings_table`) instead of quoting numbers in its prose.

The choice (:func:`summarise_settings`): the highest mean of precision and recall over the
development sets (a set on which a setting finds no group counts as precision 0), ties broken by
the order of the grid.
"""

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd

from dolphin_ae.analysis.clustering import scale_codes
from dolphin_ae.analysis.discovery import discovery_scores, knn_from_distances, median_pair_distance, tight_groups
from dolphin_ae.analysis.dtw import SequenceSet, pairwise_dtw
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.runio import write_chosen_table

# The repository's committed table (bench/tables/), found from this file: src/dolphin_ae/analysis/ -> repository root.
DEVELOPMENT_TABLE = Path(__file__).resolve().parents[3] / "bench" / "tables" / "discovery_settings.csv"
SETTING_COLUMNS = ["discovery_code_scaling", "group_k", "link_ratio", "unit_gap_penalty"]
DISCOVERY_SCALINGS = ("whiten_l2", "standard_l2", "l2")
DEFAULT_GRID = {
    "discovery_code_scaling": DISCOVERY_SCALINGS,
    "group_k": (3, 4, 5),
    "link_ratio": (0.5, 0.65, 0.8),
    "unit_gap_penalty": (0.3,),
}


def evaluate_settings(sequences, motifs, *, grid=None, statistics=None, min_group_size=3, min_purity=0.5):
    """Precision and recall of the tight-group rule at every setting of ``grid`` on one set of sequences.

    Parameters
    ----------
    sequences : list of np.ndarray, each (n_windows_i, latent_dim)
        Raw code sequences of one development set.
    motifs : array-like of str, shape (n_sequences,)
        Each sequence's planted motif ("" for none).
    grid : dict or None
        Lists of values for ``SETTING_COLUMNS`` (default :data:`DEFAULT_GRID`).
    statistics : dict or None
        ``{scaling: code_statistics(...)}`` for the scalings that need reference statistics
        (``whiten_l2``, ``standard_l2``); a missing one is computed from the sequences' own codes.

    Returns
    -------
    pandas.DataFrame
        One row per setting: the ``SETTING_COLUMNS``, ``precision`` (NaN when no group is found),
        ``recall``, ``n_groups``, ``n_planted``.
    """
    from dolphin_ae.analysis.clustering import code_statistics

    grid = {**DEFAULT_GRID, **(grid or {})}
    unknown = set(grid) - set(SETTING_COLUMNS)
    if unknown:
        raise ParameterError(f"grid has unknown settings {sorted(unknown)}; expected among {SETTING_COLUMNS}")
    bad = set(grid["discovery_code_scaling"]) - set(DISCOVERY_SCALINGS)
    if bad:
        raise ParameterError(f"discovery_code_scaling must be among {DISCOVERY_SCALINGS}, got {sorted(bad)}")
    motifs = np.asarray(motifs).astype(str)
    if len(motifs) != len(sequences):
        raise ParameterError(f"{len(sequences)} sequences but {len(motifs)} motif labels")
    statistics = dict(statistics or {})
    flat = np.concatenate(list(sequences))
    rows = []
    for scaling in grid["discovery_code_scaling"]:
        reference = None
        if scaling != "l2":
            reference = statistics.get(scaling) or code_statistics(flat, whiten=scaling == "whiten_l2")
        scaled = SequenceSet([scale_codes(s, scaling=scaling, statistics=reference) for s in sequences])
        for gap in grid["unit_gap_penalty"]:
            D = pairwise_dtw(scaled, gap_penalty=gap, band="seed")
            median = median_pair_distance(D)
            for k, ratio in itertools.product(grid["group_k"], grid["link_ratio"]):
                found = tight_groups(*knn_from_distances(D, min(int(k), len(sequences) - 1)),
                                     threshold=float(ratio) * median, min_group_size=min_group_size)
                scores = discovery_scores(found.groups, motifs, min_purity=min_purity)
                rows.append({"discovery_code_scaling": scaling, "group_k": int(k), "link_ratio": float(ratio),
                             "unit_gap_penalty": float(gap),
                             "precision": np.nan if scores["precision"] is None else scores["precision"],
                             "recall": np.nan if scores["recall"] is None else scores["recall"],
                             "n_groups": scores["n_groups"], "n_planted": scores["n_planted"]})
    return pd.DataFrame(rows)


def summarise_settings(per_set):
    """Mean scores of each setting over the development sets, best first, the chosen row marked.

    Parameters
    ----------
    per_set : pandas.DataFrame
        :func:`evaluate_settings`' rows of every set, with a ``set`` column naming the set.

    Returns
    -------
    pandas.DataFrame
        One row per setting: ``SETTING_COLUMNS``, ``n_sets``, ``mean_precision`` (a set without
        groups counts 0), ``mean_recall``, ``mean_groups``, ``objective`` (mean of the two),
        ``chosen`` (True for the first row only). Sorted by decreasing objective, then grid order.
    """
    if per_set.empty:
        raise ParameterError("no development results to summarise")
    table = per_set.assign(precision=per_set["precision"].fillna(0.0), recall=per_set["recall"].fillna(0.0))
    table["order"] = table.groupby(SETTING_COLUMNS, sort=False).ngroup()
    summary = table.groupby(SETTING_COLUMNS, sort=False).agg(
        order=("order", "first"), n_sets=("set", "nunique"), mean_precision=("precision", "mean"),
        mean_recall=("recall", "mean"), mean_groups=("n_groups", "mean")).reset_index()
    summary["objective"] = (summary["mean_precision"] + summary["mean_recall"]) / 2
    summary = summary.sort_values(["objective", "order"], ascending=[False, True], kind="stable")
    summary = summary.drop(columns="order").reset_index(drop=True)
    summary["chosen"] = summary.index == 0
    return summary


def write_settings_table(summary, provenance, path=DEVELOPMENT_TABLE):
    """Write the table (CSV) and, beside it, ``<name>.json``: ``provenance`` plus the chosen row."""
    return write_chosen_table(summary, provenance, path,
                              chosen_columns=SETTING_COLUMNS + ["mean_precision", "mean_recall", "objective"])


def read_settings_table(path=DEVELOPMENT_TABLE):
    """The development table and its provenance; ``(None, None)`` when the table is not there."""
    path = Path(path)
    if not path.is_file():
        return None, None
    table = pd.read_csv(path)
    missing = set(SETTING_COLUMNS + ["mean_precision", "mean_recall", "chosen"]) - set(table.columns)
    if missing:
        raise ParameterError(f"{path}: lacks columns {sorted(missing)}; rerun bench/discovery_settings.py")
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return table, meta


def chosen_settings(table):
    """The chosen row of a development table as ``{setting: value}``."""
    chosen = table[table["chosen"].astype(str).str.lower().isin(["true", "1"])]
    if len(chosen) != 1:
        raise ParameterError(f"a development table must mark exactly one chosen row, found {len(chosen)}")
    row = chosen.iloc[0]
    return {"discovery_code_scaling": str(row["discovery_code_scaling"]), "group_k": int(row["group_k"]),
            "link_ratio": float(row["link_ratio"]), "unit_gap_penalty": float(row["unit_gap_penalty"])}
