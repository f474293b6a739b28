"""Which recording each audio file belongs to: the unit the train/test split never cuts.

Clips cut from one session share its background, its animals and its equipment, so they must fall
on one side of the split. A file's recording is decided by the first of these rules that applies:

1. ``DIR/recordings.csv`` (columns ``file,recording``), when the data folder holds one: each file
   takes the recording its row names. The table must list every audio file of the data set; a file
   it leaves out is an error (a partial table would quietly put that file's session on both sides).
   Rows naming files that do not exist are ignored with a warning.
2. ``recording_pattern``, a regular expression searched (:func:`re.search`) in the file's path
   relative to the data folder, with forward slashes: its first group names the recording. For
   ``Whis_Apr13-01.wav`` and ``Whis_Apr13-02.wav``, ``Whis_([A-Za-z]+\\d+)-`` names both ``Apr13``.
   Files it does not match fall back to rule 3 (and are counted in the warning).
3. The name before ``__`` in the file name (``session003__whistle_001.wav`` belongs to
   ``session003``), else the file itself, without its suffix: one recording per file.

When every file is its own recording (and there are more than a handful of files),
:func:`one_recording_per_file_warning` says so: the split may then share sessions.
"""

import logging
import re
from pathlib import Path

import pandas as pd

from dolphin_ae.constants import RECORDING_SEPARATOR
from dolphin_ae.exceptions import ParameterError

log = logging.getLogger(__name__)

RECORDINGS_FILE = "recordings.csv"
# Fewer files than this may well be one recording each; more, and it is probably a naming problem.
HANDFUL = 5


def compile_recording_pattern(pattern):
    """``pattern`` compiled, or None for an empty pattern.

    Raises
    ------
    ParameterError
        The pattern is not a regular expression, or has no group to name the recording.
    """
    if pattern is None or pattern == "":
        return None
    if isinstance(pattern, re.Pattern):
        compiled = pattern
    else:
        if not isinstance(pattern, str):
            raise ParameterError(f"recording_pattern must be a regular expression (a string), got {pattern!r}")
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise ParameterError(f"recording_pattern {pattern!r} is not a valid regular expression: {error}") from None
    if compiled.groups < 1:
        raise ParameterError(f"recording_pattern {compiled.pattern!r} has no group; expected a regular expression "
                             "whose first group (...) names the recording, e.g. 'Whis_([A-Za-z]+\\d+)-'")
    return compiled


def default_recording(relative_path):
    """The name before ``__``, else the file itself (its relative path without suffix)."""
    relative_path = Path(relative_path)
    stem = relative_path.stem
    if RECORDING_SEPARATOR in stem:
        return stem.split(RECORDING_SEPARATOR, 1)[0]
    return relative_path.with_suffix("").as_posix()


def recording_of(relative_path, *, pattern=None):
    """Recording of one file by rules 2 and 3 of the module docstring (``pattern`` may be None)."""
    compiled = compile_recording_pattern(pattern)
    if compiled is not None:
        match = compiled.search(Path(relative_path).as_posix())
        if match is not None and match.group(1):
            return match.group(1)
    return default_recording(relative_path)


def read_recordings_csv(path):
    """``{file: recording}`` from a ``file,recording`` table.

    Raises
    ------
    ParameterError
        The table cannot be read, lacks a column, has an empty cell, or lists a file twice with two
        recordings.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise ParameterError(f"{path}: cannot be read as a file,recording table: {error}") from None
    missing = {"file", "recording"} - set(table.columns)
    if missing:
        raise ParameterError(f"{path}: lacks the column(s) {sorted(missing)}; expected a header 'file,recording'")
    table["file"] = table["file"].str.strip().str.replace("\\", "/", regex=False)
    table["recording"] = table["recording"].str.strip()
    empty = table[(table["file"] == "") | (table["recording"] == "")]
    if len(empty):
        raise ParameterError(f"{path}: row {int(empty.index[0]) + 2} has an empty file or recording")
    conflicting = table.groupby("file")["recording"].nunique()
    conflicting = conflicting[conflicting > 1]
    if len(conflicting):
        raise ParameterError(f"{path}: {conflicting.index[0]!r} is listed with {int(conflicting.iloc[0])} "
                             "different recordings")
    return dict(zip(table["file"], table["recording"]))


def assign_recordings(files, data_dir, *, pattern=None):
    """The recording of each file (relative paths, forward slashes) of ``data_dir``, by the rules above.

    Returns
    -------
    recordings : list of str, one per file
    rule : str
        ``"recordings.csv"``, ``"recording_pattern"`` or ``"file names"``: which rule assigned them.

    Raises
    ------
    ParameterError
        ``recordings.csv`` leaves files out (their number and the first few are named), or the
        pattern is invalid.
    """
    files = [Path(f).as_posix() for f in files]
    compiled = compile_recording_pattern(pattern)
    table_path = Path(data_dir) / RECORDINGS_FILE
    if table_path.is_file():
        table = read_recordings_csv(table_path)
        absent = [f for f in files if f not in table]
        if absent:
            raise ParameterError(
                f"{table_path}: lists no recording for {len(absent)} of {len(files)} audio files "
                f"(first: {', '.join(absent[:5])}); add a row 'file,recording' for each, or remove the table "
                "to fall back to recording_pattern and the file names")
        unknown = sorted(set(table) - set(files))
        if unknown:
            log.warning("%s: %d rows name files that are not in the data set (first: %s); ignored",
                        table_path, len(unknown), unknown[0])
        if compiled is not None:
            log.warning("%s is present: recording_pattern %r is not used", table_path, compiled.pattern)
        return [table[f] for f in files], RECORDINGS_FILE
    if compiled is not None:
        recordings = [recording_of(f, pattern=compiled) for f in files]
        unmatched = [f for f in files if not ((m := compiled.search(f)) and m.group(1))]
        if unmatched:
            log.warning("recording_pattern %r matches %d of %d files; the others (first: %s) are named by the "
                        "'__' rule or are a recording each", compiled.pattern, len(files) - len(unmatched),
                        len(files), unmatched[0])
        return recordings, "recording_pattern"
    return [default_recording(f) for f in files], "file names"


def one_recording_per_file_warning(files, recordings):
    """A warning (str) when more than a handful of files are each a recording of their own, else None."""
    files = list(files)
    n_files, n_recordings = len(set(files)), len(set(recordings))
    if n_files <= HANDFUL or n_recordings < n_files:
        return None
    return (f"every one of the {n_files} audio files is a recording of its own: clips cut from one session may "
            "fall on both sides of the train/test split, and the test scores would then be optimistic. Name "
            f"files '<recording>__<clip>.wav', set recording_pattern (a regular expression whose first group "
            f"names the recording), or put a {RECORDINGS_FILE} (file,recording) in the data folder.")
