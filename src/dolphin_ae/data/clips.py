"""The audio files of a data folder, with their labels or annotated events and their recordings.

Input layouts (DESIGN.md), chosen by ``layout`` (``auto`` detects them in this order):

- ``annotations``: long recordings (``DIR/**/*.wav|flac``) with ``DIR/annotations.csv``
  (``file,start_s,end_s,label[,type]``);
- ``raven``: long recordings with Raven selection tables (``*.txt``) beside them;
- ``folders``: clips in ``DIR/<label>/*.wav|flac``; every window of a clip takes its folder's label.

Which recording a file belongs to is decided by :mod:`dolphin_ae.data.recordings`: a
``recordings.csv`` (``file,recording``) in the data folder, else the first group of
``recording_pattern``, else the name before ``__`` in ``<recording>__<anything>.wav``, else the file
is a recording of its own.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dolphin_ae.audio.loading import find_audio_files
from dolphin_ae.data.annotations import ANNOTATIONS_FILE, find_raven_tables, read_annotations_csv, read_raven_table
from dolphin_ae.data.recordings import RECORDINGS_FILE, assign_recordings, compile_recording_pattern, recording_of
from dolphin_ae.exceptions import AudioError, NoUsableAudioError, ParameterError

log = logging.getLogger(__name__)

LAYOUTS = ("auto", "folders", "annotations", "raven")


@dataclass(frozen=True)
class Clip:
    """One audio file of a data set: a folder-per-label clip (``label`` set) or an annotated
    recording (``events`` set, one row per event)."""

    path: Path
    file: str  # path relative to the data folder, with forward slashes
    label: str | None
    recording: str
    events: pd.DataFrame | None = field(default=None, compare=False, hash=False)


def detect_layout(data_dir):
    """``annotations`` when ``DIR/annotations.csv`` exists, else ``raven`` when a Raven selection table
    is in the folder, else ``folders``."""
    data_dir = Path(data_dir)
    if (data_dir / ANNOTATIONS_FILE).is_file():
        return "annotations"
    if find_raven_tables(data_dir):
        return "raven"
    return "folders"


def _with_recordings(clips, data_dir, recording_pattern):
    """``clips`` with the recordings :func:`dolphin_ae.data.recordings.assign_recordings` gives them."""
    recordings, _ = assign_recordings([c.file for c in clips], data_dir, pattern=recording_pattern)
    return [Clip(path=c.path, file=c.file, label=c.label, recording=r, events=c.events)
            for c, r in zip(clips, recordings)]


def scan_labelled_folder(data_dir, *, recording_pattern=None):
    """Every audio clip of ``data_dir/<label>/``, labelled by its folder, with its recording
    (:mod:`dolphin_ae.data.recordings`; ``recording_pattern`` is its rule 2).

    Raises
    ------
    NoUsableAudioError
        When the folder holds no ``.wav``/``.flac`` file in a label subfolder.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise NoUsableAudioError(f"{data_dir}: is not a folder; expected DIR/<label>/*.wav|flac")
    clips = []
    for label_dir in sorted(p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in find_audio_files(label_dir):
            relative = path.relative_to(data_dir)
            clips.append(Clip(path=path, file=relative.as_posix(), label=label_dir.name,
                              recording=recording_of(relative)))
    if not clips:
        raise NoUsableAudioError(f"{data_dir}: no .wav or .flac files in label subfolders (DIR/<label>/*.wav)")
    return _with_recordings(clips, data_dir, recording_pattern)


def scan_annotated_recordings(data_dir, *, layout="annotations", label_column=None, recording_pattern=None):
    """Every recording under ``data_dir`` with its events from ``annotations.csv`` or Raven tables.

    Every audio file is a recording; the time no event covers is background, so a recording the
    table does not mention is all ``noise``.

    Returns
    -------
    clips : list of Clip
        One per audio file, ``events`` holding its rows of the table (start_s, end_s, label, type).
    skipped : list of dict
        Table rows that name a missing recording, or Raven tables that cannot be used: file, reason.

    Raises
    ------
    NoUsableAudioError
        The folder holds no audio file.
    AudioError
        ``annotations.csv`` cannot be read or has a malformed row.
    """
    data_dir = Path(data_dir)
    if layout not in ("annotations", "raven"):
        raise ParameterError(f"layout must be 'annotations' or 'raven' here, got {layout!r}")
    audio_files = find_audio_files(data_dir) if data_dir.is_dir() else []
    if not audio_files:
        raise NoUsableAudioError(f"{data_dir}: no .wav or .flac recordings found")
    skipped = []
    if layout == "annotations":
        events = read_annotations_csv(data_dir / ANNOTATIONS_FILE)
    else:
        tables = []
        for table_path in find_raven_tables(data_dir):
            try:
                tables.append(read_raven_table(table_path, data_dir=data_dir, audio_files=audio_files,
                                               label_column=label_column))
            except AudioError as error:
                log.warning("skipped %s", error)
                skipped.append({"file": table_path.relative_to(data_dir).as_posix(), "reason": str(error)})
        events = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["file", "start_s", "end_s",
                                                                                          "label", "type"])
    known = {p.relative_to(data_dir).as_posix() for p in audio_files}
    for file in sorted(set(events["file"]) - known):
        reason = f"{data_dir / file}: named in the annotations, but no such recording in {data_dir}"
        log.warning("skipped %s", reason)
        skipped.append({"file": file, "reason": reason})
    by_file = dict(tuple(events.groupby("file", sort=False)))
    clips = []
    for path in audio_files:
        relative = path.relative_to(data_dir).as_posix()
        own = by_file.get(relative, events.iloc[0:0]).reset_index(drop=True)
        clips.append(Clip(path=path, file=relative, label=None, recording=recording_of(relative), events=own))
    return _with_recordings(clips, data_dir, recording_pattern), skipped


def scan_data_folder(data_dir, layout="auto", label_column=None, recording_pattern=None):
    """Every clip of ``data_dir`` in ``layout`` (``auto``: :func:`detect_layout`).

    Returns
    -------
    layout : str
        The layout used.
    clips : list of Clip
    skipped : list of dict
        Table rows or tables that cannot be used: file, reason.
    tables : list of Path
        The annotation tables and ``recordings.csv`` the clips depend on (for a cache key).

    Raises
    ------
    NoUsableAudioError, ParameterError, AudioError
        See :func:`scan_labelled_folder` and :func:`scan_annotated_recordings`; also an unknown
        ``layout`` or a ``recording_pattern`` that is not a regular expression with a group.
    """
    data_dir = Path(data_dir)
    if layout not in LAYOUTS:
        raise ParameterError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    compile_recording_pattern(recording_pattern)  # a bad pattern fails before any file is read
    if not data_dir.is_dir():
        raise NoUsableAudioError(f"{data_dir}: is not a folder")
    if layout == "auto":
        layout = detect_layout(data_dir)
    # recordings.csv decides the split, so it is part of the cache key like the annotation tables.
    assignment = [data_dir / RECORDINGS_FILE] if (data_dir / RECORDINGS_FILE).is_file() else []
    if layout == "folders":
        return layout, scan_labelled_folder(data_dir, recording_pattern=recording_pattern), [], assignment
    clips, skipped = scan_annotated_recordings(data_dir, layout=layout, label_column=label_column,
                                               recording_pattern=recording_pattern)
    tables = [data_dir / ANNOTATIONS_FILE] if layout == "annotations" else find_raven_tables(data_dir)
    return layout, clips, skipped, list(tables) + assignment
