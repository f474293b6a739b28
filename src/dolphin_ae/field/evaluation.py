"""Detected regions against known events: recall and precision under an overlap rule; and query by example
against planted signature whistles: precision at k (:func:`precision_at_k`, :func:`rendition_precision`)."""

import numpy as np

from dolphin_ae.exceptions import ParameterError


def overlap_s(a_start, a_end, b_start, b_end):
    """Length (s) of the overlap of two intervals (0 when they are apart)."""
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def region_recall_precision(regions, events, *, min_overlap=0.5):
    """Recall of true events and precision of detected regions.

    Matching rule: a region and an event match when their overlap is at least ``min_overlap`` of
    the event's duration *and* of the region's duration (at 0.5: each covers at least half of the
    other), so one long region that swallows many events matches none of them. An event is found
    when some region matches it; a region is correct when it matches some event.

    Parameters
    ----------
    regions, events : sequences of (start_s, end_s)

    Returns
    -------
    dict with ``recall``, ``precision``, ``n_events``, ``n_regions``, ``found``, ``correct``.
    """
    if not 0 < min_overlap <= 1:
        raise ParameterError(f"min_overlap must be in (0, 1], got {min_overlap}")
    found = sum(any(spans_match(event, region, min_overlap) for region in regions) for event in events)
    correct = sum(any(spans_match(region, event, min_overlap) for event in events) for region in regions)
    return {
        "recall": found / len(events) if len(events) else float("nan"),
        "precision": correct / len(regions) if len(regions) else float("nan"),
        "n_events": len(events),
        "n_regions": len(regions),
        "found": found,
        "correct": correct,
    }


def spans_match(a, b, min_overlap):
    """Whether spans ``a`` and ``b`` (start_s, end_s) overlap by ``min_overlap`` of the longer one."""
    return overlap_s(a[0], a[1], b[0], b[1]) >= min_overlap * max(a[1] - a[0], b[1] - b[0])


def precision_at_k(hits, relevant, *, k, min_overlap=0.5):
    """Share of the first ``k`` hits that are relevant events, each event counted once.

    Parameters
    ----------
    hits : sequence of (file, start_s, end_s), nearest first
    relevant : sequence of (file, start_s, end_s)
        The events a hit should find.
    k : int
        Hits judged; fewer hits than ``k`` count the missing ones as wrong.
    min_overlap : float
        A hit finds an event of the same file when their overlap covers ``min_overlap`` of each
        (the rule of :func:`region_recall_precision`).

    Returns
    -------
    float in [0, 1]
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k must be a positive integer, got {k!r}")
    if not 0 < min_overlap <= 1:
        raise ParameterError(f"min_overlap must be in (0, 1], got {min_overlap}")
    found = set()
    for file, start_s, end_s in list(hits)[:k]:
        for j, (event_file, event_start, event_end) in enumerate(relevant):
            if j not in found and event_file == file and spans_match((start_s, end_s), (event_start, event_end),
                                                                  min_overlap):
                found.add(j)
                break
    return len(found) / k


def without_query(hits, query):
    """``hits`` ((file, start_s, end_s), nearest first) less those overlapping ``query`` in its own file:
    a query that is one of the index's regions finds itself first."""
    return [hit for hit in hits if not (hit[0] == query[0] and overlap_s(hit[1], hit[2], query[1], query[2]) > 0)]


def rendition_precision(truth, search, *, max_k=10, min_overlap=0.5):
    """Query by example scored on planted signature whistles: precision at k, averaged over motifs.

    Every rendition of a motif (a row of ``truth`` with a non-empty ``motif``) is a query; its
    relevant events are the other renditions of the same motif, and ``k`` is their number (at most
    ``max_k``). Hits overlapping the query itself (same file) are dropped before the first ``k`` are
    judged. Queries are averaged within a motif, then motifs with one another; motifs heard once
    are left out.

    Parameters
    ----------
    truth : pandas.DataFrame
        Columns ``file``, ``start_s``, ``end_s`` (s), ``motif``; ``file`` named as the hits name it.
    search : callable
        ``search(file, start_s, end_s, n)`` -> hits, a sequence of (file, start_s, end_s) nearest
        first, at least ``n`` long when the index holds that many.

    Returns
    -------
    dict
        ``precision`` (mean over motifs; None when no motif is heard twice), ``per_motif``
        ({motif: mean precision}), ``n_queries``.
    """
    renditions = truth[truth["motif"].fillna("").astype(str) != ""]
    per_motif, n_queries = {}, 0
    for motif, group in renditions.groupby("motif", sort=True):
        if len(group) < 2:
            continue
        events = list(zip(group["file"], group["start_s"], group["end_s"]))
        scores = []
        for query in events:
            relevant = [event for event in events if event is not query]
            k = min(len(relevant), max_k)
            # The query's own region may come back (at distance 0): ask for a few more than k.
            hits = without_query(search(query[0], query[1], query[2], k + 3), query)
            scores.append(precision_at_k(hits, relevant, k=k, min_overlap=min_overlap))
        per_motif[str(motif)] = float(np.mean(scores))
        n_queries += len(scores)
    precision = float(np.mean(list(per_motif.values()))) if per_motif else None
    return {"precision": precision, "per_motif": per_motif, "n_queries": n_queries}


def chance_rendition_precision(regions, truth, *, min_overlap=0.5):
    """The precision at k that hits drawn at random would score in :func:`rendition_precision`, from the truth.

    Per motif heard at least twice: the share of the other regions that find another rendition of it
    (renditions found by some region, less the query's own, over the regions less one), averaged
    over motifs.

    Parameters
    ----------
    regions : pandas.DataFrame
        The index's regions (``file``, ``start_s``, ``end_s``).
    truth : pandas.DataFrame
        As for :func:`rendition_precision`.

    Returns
    -------
    float or None (no motif heard twice, or fewer than two regions)
    """
    renditions = truth[truth["motif"].fillna("").astype(str) != ""]
    spans = list(zip(regions["file"], regions["start_s"], regions["end_s"]))
    shares = []
    for _, group in renditions.groupby("motif"):
        if len(group) < 2 or len(spans) < 2:
            continue
        found = sum(any(file == event[0] and spans_match((start_s, end_s), event[1:], min_overlap)
                        for file, start_s, end_s in spans)
                    for event in zip(group["file"], group["start_s"], group["end_s"]))
        shares.append(max(found - 1, 0) / (len(spans) - 1))
    return float(np.mean(shares)) if shares else None
