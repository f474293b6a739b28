"""Whether a peer beats the network, as data and as one sentence the chapters print beside a number."""

import numpy as np

# How the book names each peer (dolphin_ae.analysis.peers).
PEER_NAMES = {
    "energy_global": "band-level threshold",
    "energy_per_recording": "level above its recording's median, threshold",
    "band_profile_gbm": "gradient boosting on the band profile",
    "avgn": "AVGN: 2-D UMAP + HDBSCAN of log spectrograms",
    "umap_kmeans": "10-D UMAP + KMeans (k true) of raw windows",
    "pooled_spectrogram": "search over pooled raw spectrograms",
}


def peers_that_beat(network_value, peer_values):
    """The peers whose score is above the network's, best first, as ``[(peer, value)]``.

    ``peer_values`` is ``{peer: value}``; a missing (None or NaN) value, or a missing network value,
    beats nothing.
    """
    if network_value is None or not np.isfinite(network_value):
        return []
    better = [(peer, float(value)) for peer, value in peer_values.items()
              if value is not None and np.isfinite(value) and value > network_value]
    return sorted(better, key=lambda item: -item[1])


def verdict(network_name, network_value, peer_values, *, measure, names=None):
    """One sentence, computed from the numbers, saying whether any peer beats the network.

    Parameters
    ----------
    network_name : str
        How the text names the network's method.
    network_value : float
    peer_values : dict
        ``{peer: value}``, with the peers' keys (named through ``names``, default :data:`PEER_NAMES`).
    measure : str
        The measure's name, e.g. "balanced accuracy".
    """
    names = PEER_NAMES if names is None else names
    if network_value is None or not np.isfinite(network_value):
        return f"The {measure} of {network_name} was not measured."
    better = peers_that_beat(network_value, peer_values)
    if not better:
        known = [v for v in peer_values.values() if v is not None and np.isfinite(v)]
        best = f" (the best peer reaches {max(known):.3f})" if known else ""
        return (f"No peer beats {network_name} on {measure}: it reaches {network_value:.3f}{best}.")
    parts = [f"{names.get(peer, peer)} ({value:.3f})" for peer, value in better]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    verb = "beats" if len(better) == 1 else "beat"
    return f"On {measure}, {listed} {verb} {network_name} ({network_value:.3f})."
