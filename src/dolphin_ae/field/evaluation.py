"""Detected regions against known events: recall and precision under an overlap rule."""

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

    def matches(a, b):
        return overlap_s(a[0], a[1], b[0], b[1]) >= min_overlap * max(a[1] - a[0], b[1] - b[0])

    found = sum(any(matches(event, region) for region in regions) for event in events)
    correct = sum(any(matches(region, event) for event in events) for region in regions)
    return {
        "recall": found / len(events) if len(events) else float("nan"),
        "precision": correct / len(regions) if len(regions) else float("nan"),
        "n_events": len(events),
        "n_regions": len(regions),
        "found": found,
        "correct": correct,
    }
