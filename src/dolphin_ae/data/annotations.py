"""Annotated recordings: event tables (``annotations.csv``, Raven selection tables) and window labels.

Two table formats name the events of long recordings (DESIGN.md):

- ``annotations.csv`` at the top of the data folder, columns ``file,start_s,end_s,label[,type]``;
  ``file`` is the recording's path relative to the data folder, times are in seconds from its start.
- Raven selection tables (``*.txt``, tab-separated, as Raven Pro saves them), columns
  ``Begin Time (s)``, ``End Time (s)`` and a label column (``Annotation``, ``Label``, ``Type``, ...).
  A table belongs to the recording it is named after (``rec01.Table.1.selections.txt`` annotates
  ``rec01.wav`` in the same folder), unless it has a ``Begin File`` column (tables made over a list
  of files): then each selection belongs to the file named there, and starts ``File Offset (s)``
  into it. Raven writes one row per view (``Waveform 1``, ``Spectrogram 1``) of the same
  selection; a selection counts once.

Labels are stripped and lower-cased (``Whistle`` and ``whistle`` are one class); a selection with no
label is a ``signal``. Events labelled ``noise`` mark background and make nothing not-silent.

**The window rule.** A window spans ``[start_s, start_s + window_samples / sr)``. An event *claims*
the window when it covers at least ``min_event_overlap`` of the window, or, for an event shorter
than the window, when at least ``min_event_overlap`` of the event lies inside the window (a 50 ms
click train in a 180 ms window is not lost). A claimed window takes the label whose claiming events
cover most of it; a window no event claims is ``noise`` (silence). Time no event covers is
background: an unannotated recording is all ``noise``.
"""

import csv
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from dolphin_ae.constants import ANNOTATIONS_FILE, SILENCE_LABEL
from dolphin_ae.exceptions import AudioError, ParameterError

log = logging.getLogger(__name__)

EVENT_COLUMNS = ("file", "start_s", "end_s", "label", "type")
RAVEN_BEGIN = "Begin Time (s)"
RAVEN_END = "End Time (s)"
RAVEN_LABEL_COLUMNS = ("annotation", "label", "type", "class", "call type", "call", "category", "sound type", "species")
UNLABELLED = "signal"


def _clean_labels(values):
    labels = pd.Series(values, dtype="object").fillna("").astype(str).str.strip().str.lower()
    return labels.where(labels != "", UNLABELLED)


def read_annotations_csv(path):
    """Events of an ``annotations.csv`` table.

    Returns
    -------
    events : pd.DataFrame
        Columns file, start_s, end_s (s), label, type (empty when the table has none).

    Raises
    ------
    AudioError
        A missing column, a non-numeric time, or an event that ends before it starts; the message
        names the table, the row and the problem.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype={"file": str, "label": str, "type": str}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise AudioError(f"{path}: cannot be read as a CSV table ({error})") from error
    table.columns = [c.strip() for c in table.columns]
    missing = {"file", "start_s", "end_s", "label"} - set(table.columns)
    if missing:
        raise AudioError(f"{path}: lacks column(s) {sorted(missing)}; expected file,start_s,end_s,label[,type]")
    events = pd.DataFrame({
        "file": table["file"].astype(str).str.strip().str.replace("\\", "/", regex=False),
        "start_s": pd.to_numeric(table["start_s"], errors="coerce"),
        "end_s": pd.to_numeric(table["end_s"], errors="coerce"),
        "label": _clean_labels(table["label"]),
        "type": table["type"].astype(str).str.strip() if "type" in table.columns else "",
    })
    _check_times(events, path, first_row=2)
    return events


def _check_times(events, path, *, first_row):
    bad = events["start_s"].isna() | events["end_s"].isna() | (events["start_s"] < 0) | (events["end_s"] <= events["start_s"])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise AudioError(f"{path}: row {row + first_row} has start_s={events['start_s'].iloc[row]!r}, "
                         f"end_s={events['end_s'].iloc[row]!r}; expected numbers with 0 <= start_s < end_s")


def is_raven_table(path):
    """True when ``path`` is a tab-separated text file whose header has Raven's begin and end times."""
    path = Path(path)
    if path.suffix.lower() != ".txt" or not path.is_file():
        return False
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline().rstrip("\r\n").split("\t")
    except OSError:
        return False
    return RAVEN_BEGIN in header and RAVEN_END in header


def find_raven_tables(directory):
    """Every Raven selection table under ``directory``, sorted."""
    return sorted(p for p in Path(directory).rglob("*.txt") if is_raven_table(p))


def _label_column(columns, label_column):
    if label_column:
        if label_column not in columns:
            raise ParameterError(f"label_column {label_column!r} is not a column of the table; it has {list(columns)}")
        return label_column
    by_lower = {c.strip().lower(): c for c in columns}
    for name in RAVEN_LABEL_COLUMNS:
        if name in by_lower:
            return by_lower[name]
    return None


def _audio_for_table(table_path, audio_files):
    """The recording a Raven table is named after: the longest audio stem or name that prefixes it."""
    best = None
    for audio in audio_files:
        if audio.parent != table_path.parent:
            continue
        for prefix in (audio.name, audio.stem):
            if table_path.name.startswith(prefix + ".") and (best is None or len(prefix) > best[0]):
                best = (len(prefix), audio)
    return None if best is None else best[1]


def read_raven_table(path, *, data_dir, audio_files, label_column=None):
    """Events of one Raven selection table, with files relative to ``data_dir``.

    Parameters
    ----------
    path : Path
        The table (tab-separated text).
    data_dir : Path
        The data folder; ``file`` values are relative to it.
    audio_files : list of Path
        The data folder's audio files, to associate selections with recordings.
    label_column : str or None
        The column holding each selection's label; None picks the first of ``Annotation``,
        ``Label``, ``Type``, ``Class``, ... that the table has.

    Returns
    -------
    events : pd.DataFrame, columns file, start_s, end_s, label, type

    Raises
    ------
    AudioError
        The table cannot be read, or names a recording the data folder does not hold.
    """
    path, data_dir = Path(path), Path(data_dir)
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, encoding="utf-8-sig",
                            quoting=csv.QUOTE_NONE)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise AudioError(f"{path}: cannot be read as a Raven selection table ({error})") from error
    table.columns = [c.strip() for c in table.columns]
    if "Selection" in table.columns:
        if "View" in table.columns:
            # Prefer the spectrogram view's row of each selection; the others repeat its times.
            table = table.assign(_order=~table["View"].str.lower().str.startswith("spectrogram"))
            table = table.sort_values(["_order"], kind="stable").drop(columns="_order")
        table = table.drop_duplicates("Selection", keep="first").sort_index()
    begin = pd.to_numeric(table[RAVEN_BEGIN], errors="coerce")
    end = pd.to_numeric(table[RAVEN_END], errors="coerce")
    by_name = {}
    for audio in audio_files:
        by_name.setdefault(audio.name, []).append(audio)
    file_column = next((c for c in ("Begin File", "Begin Path") if c in table.columns), None)
    if file_column:
        names = table[file_column].str.replace("\\", "/", regex=False).map(lambda p: Path(p.strip()).name)
        files = []
        for name in names:
            matches = by_name.get(name, [])
            if not matches:
                raise AudioError(f"{path}: names recording {name!r} in its {file_column!r} column; "
                                 f"no such file in {data_dir}")
            files.append(matches[0].relative_to(data_dir).as_posix())
        if "File Offset (s)" in table.columns:
            offset = pd.to_numeric(table["File Offset (s)"], errors="coerce")
            begin, end = offset, offset + (end - begin)
    else:
        audio = _audio_for_table(path, audio_files)
        if audio is None:
            raise AudioError(f"{path}: no recording in its folder is named like it (expected e.g. "
                             f"{path.name.split('.')[0]}.wav), and it has no 'Begin File' column")
        files = [audio.relative_to(data_dir).as_posix()] * len(table)
    column = _label_column(table.columns, label_column)
    labels = _clean_labels(table[column]) if column else _clean_labels([""] * len(table))
    types = table["Type"].astype(str).str.strip() if column and column != "Type" and "Type" in table.columns else ""
    events = pd.DataFrame({"file": files, "start_s": begin.to_numpy(), "end_s": end.to_numpy(),
                           "label": labels.to_numpy(), "type": types if isinstance(types, str) else types.to_numpy()})
    _check_times(events, path, first_row=2)
    return events


def window_labels(window_start_s, window_length_s, events, *, min_event_overlap=0.5):
    """Label each window of one recording from the events that overlap it (the rule in the module doc).

    Parameters
    ----------
    window_start_s : np.ndarray, shape (n_windows,)
        Start of each window in the recording (s).
    window_length_s : float
        Duration of audio each window spans (s).
    events : pd.DataFrame
        This recording's events: start_s, end_s (s), label, and optionally type.
    min_event_overlap : float
        Share (0-1] of the window, or of a shorter event, that an event must cover to claim it.

    Returns
    -------
    labels : np.ndarray of str, shape (n_windows,)
    types : np.ndarray of str, shape (n_windows,)
        The type of the claiming event that covers most of the window ("" for noise).
    event_overlap : np.ndarray of float, shape (n_windows,)
        Share of the window covered by signal events (clipped to 1), whether they claim it or not;
        windows with a small nonzero share are the ambiguous ones.
    """
    if not 0 < min_event_overlap <= 1:
        raise ParameterError(f"min_event_overlap must be in (0, 1], got {min_event_overlap}")
    if window_length_s <= 0:
        raise ParameterError(f"window_length_s must be positive, got {window_length_s}")
    starts = np.asarray(window_start_s, dtype=float)
    stops = starts + window_length_s
    n = starts.shape[0]
    labels = np.full(n, SILENCE_LABEL, dtype=object)
    types = np.full(n, "", dtype=object)
    covered = np.zeros(n)
    best = np.zeros(n)  # the winning label's claimed coverage so far
    claims = {}  # label -> claimed coverage per window (s)
    best_event = {}  # label -> (index of the claiming event covering most of each window, its overlap)
    signal = events[events["label"] != SILENCE_LABEL].reset_index(drop=True)
    for k, event in enumerate(signal.itertuples(index=False)):
        overlap = np.clip(np.minimum(stops, event.end_s) - np.maximum(starts, event.start_s), 0.0, None)
        touched = overlap > 0
        if not touched.any():
            continue
        covered += overlap
        duration = event.end_s - event.start_s
        claim = touched & ((overlap >= min_event_overlap * window_length_s)
                           | ((duration < window_length_s) & (overlap >= min_event_overlap * duration)))
        if not claim.any():
            continue
        claims.setdefault(event.label, np.zeros(n))[claim] += overlap[claim]
        event_index, event_overlap = best_event.setdefault(event.label, (np.full(n, -1), np.zeros(n)))
        better = claim & (overlap > event_overlap)
        event_index[better], event_overlap[better] = k, overlap[better]
    for label, coverage in claims.items():
        wins = coverage > best
        labels[wins], best[wins] = label, coverage[wins]
    if "type" in signal.columns:
        event_types = signal["type"].fillna("").astype(str).to_numpy()
        for label, (event_index, _) in best_event.items():
            mine = (labels == label) & (event_index >= 0)
            types[mine] = event_types[event_index[mine]]
    return labels.astype(str), types.astype(str), np.minimum(covered / window_length_s, 1.0)
