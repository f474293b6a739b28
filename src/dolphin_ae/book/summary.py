"""What a run measured and how it was made, as tables for the book's summary and reproducibility pages.

Everything here reads ``metrics.json`` and ``manifest.json`` (as dicts); nothing is typed by hand
except the 2019 study's own published numbers, each with its source.
"""

import numpy as np
import pandas as pd

from dolphin_ae.analysis.verdicts import PEER_NAMES, peers_that_beat, verdict  # noqa: F401 (the summary's names)
from dolphin_ae.constants import SEED_CONFUSION_MATRIX, SEED_SIGNAL_TYPE_ACCURACY

_SEED_RECALLS = [row[k] / sum(row) for k, row in enumerate(SEED_CONFUSION_MATRIX)]
_SEED_SILENCE = {"recall_not_silence": _SEED_RECALLS[0], "recall_silence": _SEED_RECALLS[1],
                 "balanced_accuracy": sum(_SEED_RECALLS) / 2}

# (label, metrics key, the seed's number or None, where the seed's number comes from, baseline key or None,
#  what the baseline is)
HEADLINES = (
    ("silence detector: balanced accuracy", "silence.balanced_accuracy", _SEED_SILENCE["balanced_accuracy"],
     f"ConvNet v5.1 matrix {[list(row) for row in SEED_CONFUSION_MATRIX]}, its own training windows",
     "baseline_energy.balanced_accuracy", "band-energy threshold"),
    ("silence detector: recall of signals", "silence.recall_not_silence", _SEED_SILENCE["recall_not_silence"],
     "same matrix", "baseline_energy.recall_not_silence", "band-energy threshold"),
    ("silence detector: recall of silence", "silence.recall_silence", _SEED_SILENCE["recall_silence"],
     "same matrix", "baseline_energy.recall_silence", "band-energy threshold"),
    ("autoencoder: reconstruction MSE (z-units²)", "reconstruction.mse", None, "not reported",
     "reconstruction.pca_mse", "PCA with as many components as the code"),
    ("clustering: V-measure", "clustering.v_measure", None, "no metric computed",
     "clustering.baseline_umap_hdbscan_v_measure", "UMAP + HDBSCAN"),
    ("clustering: adjusted Rand index", "clustering.ari", None, "no metric computed", None, ""),
    ("clustering: V-measure, KMeans with k = true classes", "clustering.v_measure_k_true", None, "no metric computed",
     None, ""),
    ("clustering: V-measure, signal windows only", "clustering.signals.v_measure", None, "no metric computed", None,
     ""),
    ("discovery: precision", "discovery.precision", None, "no metric computed", None, ""),
    ("discovery: recall", "discovery.recall", None, "no metric computed", None, ""),
    ("signal type: accuracy (4 classes)", "signal_type.accuracy", SEED_SIGNAL_TYPE_ACCURACY,
     "IJCNN 2020 code (tag v4.0)", None, ""),
    ("signal type: balanced accuracy", "signal_type.balanced_accuracy", None, "not reported", None, ""),
    ("field detection: region recall", "detect.region_recall", None, "not measured (no truth for its regions)",
     None, ""),
    ("field detection: region precision", "detect.region_precision", None, "not measured", None, ""),
    ("search: precision at k, signature whistles", "search.codes_codes", None, "not measured (no search)",
     "search.chance", "random hits"),
)


# Peers beside the network (dolphin_ae.analysis.peers), scored on the same test windows: the network's metrics
# key, then (peer, the peer's key) for each peer.
PEER_ROWS = {
    "silence.balanced_accuracy": [(peer, f"silence_peers.{peer}.balanced_accuracy")
                                  for peer in ("energy_global", "energy_per_recording", "band_profile_gbm")],
    "clustering.v_measure": [(peer, f"clustering_peers.{peer}.v_measure") for peer in ("avgn", "umap_kmeans")],
    "clustering.ari": [(peer, f"clustering_peers.{peer}.ari") for peer in ("avgn", "umap_kmeans")],
    "clustering.signals.v_measure": [(peer, f"clustering_peers.{peer}.signals_v_measure")
                                     for peer in ("avgn", "umap_kmeans")],
    "signal_type.accuracy": [("band_profile_gbm", "signal_type_peers.band_profile_gbm.accuracy")],
    "signal_type.balanced_accuracy": [("band_profile_gbm", "signal_type_peers.band_profile_gbm.balanced_accuracy")],
    "search.codes_codes": [("pooled_spectrogram", "search.peer_codes")],
}


def lookup(metrics, key, default=None):
    """``metrics["a"]["b"]`` for ``key="a.b"``; ``default`` when any part is missing."""
    value = metrics
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value


def headline_table(metrics):
    """The headline numbers of a run beside the 2019 study's and a baseline's.

    Parameters
    ----------
    metrics : dict
        The run's ``metrics.json``.

    Returns
    -------
    pandas.DataFrame
        Index: the measurement. Columns ``this run``, ``baseline (this run)``, ``baseline``,
        ``2019 study``, ``2019 source``; NaN where not measured. Rows whose stage did not run are left out.
        Each peer of :data:`PEER_ROWS` adds a row after its measurement's, with the network's value in
        ``this run`` and the peer's in ``baseline (this run)``.
    """
    rows = {}
    for label, key, seed_value, seed_source, baseline_key, baseline_name in HEADLINES:
        value = lookup(metrics, key)
        if value is None:
            continue
        baseline = lookup(metrics, baseline_key) if baseline_key else None
        rows[label] = {
            "this run": float(value),
            "baseline (this run)": np.nan if baseline is None else float(baseline),
            "baseline": baseline_name if baseline is not None else "",
            "2019 study": np.nan if seed_value is None else float(seed_value),
            "2019 source": seed_source,
        }
        for peer, peer_key in PEER_ROWS.get(key, []):
            peer_value = lookup(metrics, peer_key)
            if peer_value is not None:
                rows[f"{label}, peer: {PEER_NAMES[peer]}"] = {
                    "this run": float(value), "baseline (this run)": float(peer_value),
                    "baseline": f"peer: {PEER_NAMES[peer]}", "2019 study": np.nan, "2019 source": ""}
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=["this run", "baseline (this run)", "baseline", "2019 study", "2019 source"])


def discovery_note(metrics):
    """One sentence on motif discovery for the summary page: its precision and recall, or that they
    were not measured (no motif truth); "" when the discovery stage did not run."""
    section = metrics.get("discovery")
    if not isinstance(section, dict):
        return ""
    if section.get("precision") is None and section.get("recall") is None:
        note = ("Motif discovery: precision and recall not measured: this data set has no motif truth "
                "(no motif column in its truth table)")
        if section.get("measured"):
            note = ("Motif discovery: no group was found and the test calls hold no motif heard twice, so precision "
                    "and recall are not defined")
        standin = section.get("contour_family_standin")
        if isinstance(standin, dict) and standin.get("recall") is not None:
            precision = standin.get("precision")
            note += (f". A weaker check kept apart from them, the contour family standing in for a motif, gives "
                     f"precision {'none' if precision is None else f'{precision:.2f}'} and recall "
                     f"{standin['recall']:.2f}")
        return note + "."

    def number(value, missing="none (no group)"):
        return missing if value is None else f"{value:.2f}"

    no_planted = "none (no motif heard twice)"
    return (f"Motif discovery on the test recordings: our rule's groups reach precision "
            f"{number(section.get('precision'))} and recall {number(section.get('recall'), no_planted)} against "
            f"{section.get('n_planted')} planted motifs; {section.get('seed_rule') or 'the seed density rule'} "
            f"reaches precision {number(section.get('seed_precision'))} and recall "
            f"{number(section.get('seed_recall'), no_planted)}.")


def peers_beating_the_network(metrics):
    """Every peer that scores above the network on the same windows, as a table.

    Returns
    -------
    pandas.DataFrame
        Columns ``measure`` (the headline label), ``peer`` (its name), ``network``, ``peer score``;
        one row per peer that beats the network, empty when none does or no peer was measured.
    """
    labels = {key: label for label, key, *_ in HEADLINES}
    rows = []
    for key, peers in PEER_ROWS.items():
        network = lookup(metrics, key)
        values = {peer: lookup(metrics, peer_key) for peer, peer_key in peers}
        for peer, value in peers_that_beat(None if network is None else float(network), values):
            rows.append((labels[key], PEER_NAMES[peer], float(network), value))
    return pd.DataFrame(rows, columns=["measure", "peer", "network", "peer score"])


def peer_line(metrics):
    """One sentence naming each peer that beats the network, or saying that none does."""
    beating = peers_beating_the_network(metrics)
    measured = any(lookup(metrics, peer_key) is not None for peers in PEER_ROWS.values() for _, peer_key in peers)
    if not measured:
        return "No peer was measured in this run."
    if beating.empty:
        return "No peer beats the network on any measurement of this run."
    parts = [f"{row['peer']} on {row['measure']} ({row['peer score']:.3f} against the network's "
             f"{row['network']:.3f})" for row in beating.to_dict("records")]
    return "Peers that beat the network: " + "; ".join(parts) + "."


def run_table(manifest):
    """Profile, commit, backend, devices (and the one the models ran on), Python and platform of a run, one row each."""
    report = manifest.get("report", {})
    environment = manifest.get("environment", {})
    rows = [
        ("profile", report.get("profile")),
        ("started", report.get("started_at")),
        ("git commit", environment.get("git_commit") or "not in a git checkout"),
        ("Keras backend", environment.get("keras_backend")),
        ("devices", ", ".join(environment.get("devices", [])) or None),
        ("models ran on", environment.get("device")),
        ("CPU cores", environment.get("cpu_count")),
        ("Python", environment.get("python")),
        ("platform", environment.get("platform")),
        ("data", report.get("parameters", {}).get("data_dir") or "synthetic, made by the data chapter"),
    ]
    return pd.DataFrame([(name, "" if value is None else str(value)) for name, value in rows],
                        columns=["", "value"]).set_index("")


def parameter_table(manifest):
    """Every parameter of the run's chapters, with its value and the stages that used it.

    Read from what the report recorded for each stage (``manifest["report"]["stages"]``): the
    parameters it passed (the profile's, ``--set`` values and the report's own) and the defaults of
    the notebooks' parameters cells it did not pass.

    Returns
    -------
    pandas.DataFrame
        Index ``parameter``; columns ``value`` (its ``repr``), ``set on the command line`` ("yes" for
        ``--set`` values), ``notebook default`` ("yes" where the stages kept the default of their
        parameters cell) and ``stages``. A parameter whose notebooks declare different defaults has
        one row per default.
    """
    report = manifest.get("report", {})
    receivers, defaults = {}, {}
    for stage, record in sorted(report.get("stages", {}).items()):
        for name in record.get("parameters", {}) or {}:
            receivers.setdefault(name, []).append(stage)
        for name, value in (record.get("defaults", {}) or {}).items():
            defaults.setdefault((name, repr(value)), []).append(stage)
    overrides = report.get("overrides", {}) or {}
    rows = [(name, repr(value), "yes" if name in overrides else "", "", ", ".join(receivers.get(name, [])))
            for name, value in report.get("parameters", {}).items()]
    rows += [(name, value, "", "yes", ", ".join(stages)) for (name, value), stages in defaults.items()]
    return pd.DataFrame(sorted(rows), columns=["parameter", "value", "set on the command line", "notebook default",
                                               "stages"]).set_index("parameter")


def stage_table(manifest):
    """Each stage's status, duration (s) and key (shortened), in order."""
    report = manifest.get("report", {})
    seconds = report.get("notebook_seconds", {})
    last_run = report.get("last_run", {}) or {}
    rows = []
    for stage, record in sorted(report.get("stages", {}).items()):
        if stage in last_run.get("skipped", []):
            how = "kept from an earlier run"
        elif stage in last_run.get("executed", []):
            how = "executed"
        elif record.get("status") == "running":
            how = "executing now"
        else:
            how = record.get("status", "")
        rows.append((stage, how, seconds.get(stage, np.nan), (record.get("key") or "")[:12],
                     record.get("finished_at", "")))
    return pd.DataFrame(rows, columns=["stage", "in the last run", "seconds", "key", "finished"]).set_index("stage")


def package_table(manifest):
    """Versions of the packages the run used."""
    packages = manifest.get("environment", {}).get("packages", {})
    return pd.DataFrame(sorted(packages.items()), columns=["package", "version"]).set_index("package")


def skipped_files_table(manifest):
    """Input files a stage could not use, with the stage and the reason."""
    rows = []
    for stage, record in sorted(manifest.get("stages", {}).items()):
        for item in record.get("skipped_files", []) or []:
            rows.append((stage, item.get("file"), item.get("reason")))
    return pd.DataFrame(rows, columns=["stage", "file", "reason"])


def reproduce_command(manifest):
    """The command line that repeats the run (at the recorded commit)."""
    report = manifest.get("report", {})
    parts = ["dolphin-ae report", f"--profile {report.get('profile', 'auto')}"]
    data_dir = report.get("parameters", {}).get("data_dir")
    if data_dir:
        parts.append(f"--data {data_dir}")
    for name, value in sorted((report.get("overrides") or {}).items()):
        text = str(value).lower() if isinstance(value, bool) else str(value).replace(" ", "")
        parts.append(f"--set {name}={text}")
    commit = manifest.get("environment", {}).get("git_commit")
    command = " ".join(parts)
    return f"git checkout {commit}\n{command}" if commit else command
