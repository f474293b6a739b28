"""Labelled windows of every usable file of a data folder, cached in the run directory.

Windows come from :mod:`dolphin_ae.audio.pipeline` (each file read whole). Windows of annotated
recordings are labelled by the events they overlap (the rule is in :mod:`dolphin_ae.data.annotations`);
``noise`` is silence. Clips shorter than one window (0.18 s of audio at the seed's settings) but at
least ``min_duration_s`` long are centred in one window, padded with their own audio reflected at the
edges (see :func:`dolphin_ae.audio.loading.pad_to_length`); shorter ones, and files that cannot be
used, are skipped with their reason.

With whitening (``FrontEnd.whitening="recording_median"``) the band profile subtracted from a file's
magnitudes is that of its **recording id** (:mod:`dolphin_ae.data.recordings`): the median, per band,
over the frames of every usable file of the recording, in the order of the scan (each file padded as
its windows are). Clips cut from one session thus share one estimate of its background, which a
short clip full of its call could not give; a recording of one file gets the profile the field tool
computes for that file. Recordings of several files are read twice (a first pass for the profiles).
The profiles are returned, cached and saved with the data set (``band_profiles.npz``), so that clips
encoded later (:func:`dolphin_ae.analysis.sequences.encode_clips`) are whitened as their windows were.

The windows are written to a memory-mapped cache, ``<cache_dir>/<key>/``, where the key hashes the
front end's parameters, the reading options and every input file's path, size and modification
time: a re-run over unchanged files with unchanged parameters reads the cache instead of recomputing.
"""

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from dolphin_ae.audio.gain import BandProfile, band_profile, whiten
from dolphin_ae.audio.loading import check_audio_file, resampled_length
from dolphin_ae.audio.pipeline import load_audio, normalise, waveform_frames
from dolphin_ae.audio.spectrogram import FrontEnd, n_windows_of, spectrogram_windows, window_level_db, window_start_s
from dolphin_ae.data.annotations import window_labels
from dolphin_ae.data.clips import scan_data_folder
from dolphin_ae.exceptions import AudioError, NoUsableAudioError, ParameterError
from dolphin_ae.layout import BAND_PROFILES_FILE, DATASET_FILE, INDEX_FILE, WINDOWS_FILE
from dolphin_ae.runio import atomic_path, read_json, write_json

log = logging.getLogger(__name__)

# Bump when the way windows are computed changes, so that old caches are not trusted
# (3: PCEN, whitening and their parameters in the front end; the band profiles in the cache).
CACHE_VERSION = 3


class Extraction(NamedTuple):
    """What :func:`extract` returns: :func:`extract_windows`'s four results, the scanned clips and the band
    profiles (``{recording: (n_bins,) float32}``, None without whitening)."""

    windows: np.ndarray
    index: pd.DataFrame
    skipped: list
    layout: str
    clips: list
    profiles: dict | None = None


def write_profiles(path, profiles):
    """Save ``{recording: profile (n_bins,)}`` as ``.npz`` (arrays ``recording`` and ``profile``), atomically."""
    names = sorted(profiles)
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, recording=np.array(names, dtype=str),
                 profile=np.array([profiles[n] for n in names], dtype=np.float32).reshape(len(names), -1))


def read_profiles(path):
    """``{recording: profile (n_bins,) float32}`` from :func:`write_profiles`'s file."""
    with np.load(path, allow_pickle=False) as data:
        return {str(name): profile for name, profile in zip(data["recording"], data["profile"])}


def read_index(path):
    """A window index table; labels such as "NA" stay strings, a missing type is ""."""
    index = pd.read_csv(path, keep_default_na=False, na_values={"start_s": [""], "end_s": [""], "level_db": [""],
                                                                "event_overlap": [""]})
    for column in ("file", "recording", "label", "type", "split"):
        if column in index.columns:
            index[column] = index[column].astype(str)
    return index


def _stat_entry(path, data_dir):
    stat = Path(path).stat()
    return [Path(path).relative_to(data_dir).as_posix(), stat.st_size, stat.st_mtime_ns]


def cache_key(data_dir, clips, tables, options):
    """A hex digest of everything the windows depend on: options, front end, files' paths/sizes/mtimes."""
    data_dir = Path(data_dir)
    content = {
        "version": CACHE_VERSION,
        "options": options,
        "audio": [_stat_entry(c.path, data_dir) for c in clips],
        "tables": [_stat_entry(t, data_dir) for t in tables],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:20]


def extract_windows(data_dir, *, front_end=None, channel=0, min_duration_s=0.0, layout="auto",
                    min_event_overlap=0.5, label_column=None, pad_mode="reflect", recording_pattern=None,
                    cache_dir=None, progress=False):
    """Labelled, normalised windows of every usable file of ``data_dir`` (no split), cached.

    Parameters
    ----------
    data_dir : str or Path
    front_end : FrontEnd or None
    channel : int
        Channel of multi-channel files (0 is the first).
    min_duration_s : float
        Files shorter than this (s) are skipped; those between it and one window are padded.
    layout : {"auto", "folders", "annotations", "raven"}
    min_event_overlap : float
        Share of a window (or of a shorter event) an annotated event must cover to label it.
    label_column : str or None
        Raven tables' label column; None picks ``Annotation``, ``Label``, ``Type``, ... .
    pad_mode : {"reflect", "zeros"}
        How clips shorter than a window are padded.
    recording_pattern : str or None
        Regular expression whose first group names a file's recording (see
        :mod:`dolphin_ae.data.recordings`; a ``recordings.csv`` in ``data_dir`` takes precedence).
    cache_dir : str, Path or None
        Where the windows are cached (memory-mapped); None keeps them in memory, uncached.

    Returns
    -------
    windows : np.ndarray, shape (n_windows, window_frames, n_bins), float32
    index : pd.DataFrame, one row per window (without ``split``)
    skipped : list of dict (file, reason)
    layout : str, the layout used

    Raises
    ------
    NoUsableAudioError
        No file yields a window.
    ParameterError
        ``recording_pattern`` is not a regular expression with a group, or ``recordings.csv`` leaves
        files out.
    """
    windows, index, skipped, layout, _, _ = extract(
        data_dir, front_end=front_end, channel=channel, min_duration_s=min_duration_s, layout=layout,
        min_event_overlap=min_event_overlap, label_column=label_column, pad_mode=pad_mode,
        recording_pattern=recording_pattern, cache_dir=cache_dir, progress=progress)
    return windows, index, skipped, layout


def extract(data_dir, *, front_end=None, channel=0, min_duration_s=0.0, layout="auto", min_event_overlap=0.5,
            label_column=None, pad_mode="reflect", recording_pattern=None, cache_dir=None, progress=False):
    """:func:`extract_windows`, also returning the scanned clips (an :class:`Extraction`)."""
    fe = front_end or FrontEnd()
    data_dir = Path(data_dir)
    if min_duration_s < 0:
        raise ParameterError(f"min_duration_s must be >= 0 s, got {min_duration_s}")
    layout, clips, skipped, tables = scan_data_folder(data_dir, layout, label_column, recording_pattern)
    options = {"front_end": fe.to_dict(), "channel": channel, "min_duration_s": min_duration_s, "layout": layout,
               "min_event_overlap": min_event_overlap, "label_column": label_column, "pad_mode": pad_mode,
               "recording_pattern": recording_pattern or None}
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / cache_key(data_dir, clips, tables, options)
        meta = read_json(cache / DATASET_FILE, default=None)
        if meta:
            log.info("reading cached windows from %s", cache)
            windows = np.load(cache / WINDOWS_FILE, mmap_mode="r")
            index = read_index(cache / INDEX_FILE)
            profiles = read_profiles(cache / BAND_PROFILES_FILE) if fe.whitening != "none" else None
            return Extraction(windows, index, meta["skipped"], layout, clips, profiles)

    # First pass, headers only: which files are usable, and how many windows each gives.
    planned = []
    for clip in clips:
        try:
            info = check_audio_file(clip.path, channel=channel, fmax_hz=fe.fmax_hz, min_duration_s=min_duration_s)
        except AudioError as error:
            log.warning("skipped %s", error)
            skipped.append({"file": clip.file, "reason": str(error)})
            continue
        n_samples = max(resampled_length(info.frames, orig_sr=info.sr, target_sr=fe.sr), fe.window_samples)
        planned.append((clip, n_windows_of(n_samples, fe)))
    profiles = None
    if fe.whitening != "none":
        planned, profiles = _pooled_profiles(planned, fe, channel=channel, min_duration_s=min_duration_s,
                                             pad_mode=pad_mode, skipped=skipped)
    total = sum(n for _, n in planned)
    if total == 0:
        raise NoUsableAudioError(f"{data_dir}: none of {len(clips)} audio files could be used; "
                                 f"first reason: {skipped[0]['reason'] if skipped else 'none'}")
    shape = (total, fe.window_frames, fe.n_bins)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        partial = cache / ".windows.partial.npy"
        windows = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=shape)
    else:
        windows = np.empty(shape, dtype=np.float32)

    if progress:
        from tqdm import tqdm

        planned = tqdm(planned, desc="reading recordings", unit="file", mininterval=5)
    frames = []
    position = 0
    window_length_s = fe.window_samples / fe.sr
    for clip, n_planned in planned:
        try:
            y = load_audio(clip.path, sr=fe.sr, channel=channel, fmax_hz=fe.fmax_hz, min_duration_s=min_duration_s)
        except AudioError as error:
            log.warning("skipped %s", error)
            skipped.append({"file": clip.file, "reason": str(error)})
            continue
        S, padded = waveform_frames(y, fe, pad_mode=pad_mode)
        if profiles is not None:
            if clip.recording not in profiles:  # a recording of one file: its profile from the frames at hand
                profiles[clip.recording] = band_profile(S)
            whiten(S, profiles[clip.recording])
        clip_windows = spectrogram_windows(S, fe)[:n_planned]
        n = clip_windows.shape[0]
        levels = window_level_db(clip_windows)
        windows[position:position + n] = normalise(clip_windows, fe)
        starts = window_start_s(n, fe)
        rows = {"file": clip.file, "recording": clip.recording, "start_s": starts, "level_db": levels,
                "padded": padded}
        if clip.events is None:
            rows["label"] = clip.label
        else:
            labels, types, overlap = window_labels(starts, window_length_s, clip.events,
                                                   min_event_overlap=min_event_overlap)
            rows.update(label=labels, type=types, event_overlap=overlap)
        frames.append(pd.DataFrame(rows))
        position += n
    if position == 0:
        raise NoUsableAudioError(f"{data_dir}: none of {len(clips)} audio files could be used; "
                                 f"first reason: {skipped[0]['reason'] if skipped else 'none'}")
    index = pd.concat(frames, ignore_index=True)
    columns = ["file", "recording", "label", "start_s", "level_db", "padded"]
    index = index[columns + [c for c in ("type", "event_overlap") if c in index.columns]]
    if profiles is not None:  # only those of recordings that gave windows
        profiles = {r: profiles[r] for r in index["recording"].unique()}
    if cache is None:
        return Extraction(windows[:position], index, skipped, layout, clips, profiles)
    if position < total:
        # A file failed only when read (NaN samples, say): keep the filled rows in a smaller file.
        windows.flush()
        trimmed = np.lib.format.open_memmap(cache / ".windows.trimmed.npy", mode="w+", dtype=np.float32,
                                            shape=(position,) + shape[1:])
        for start in range(0, position, 1024):
            trimmed[start:min(start + 1024, position)] = windows[start:min(start + 1024, position)]
        trimmed.flush()
        del windows, trimmed
        os.replace(cache / ".windows.trimmed.npy", partial)
    else:
        windows.flush()
        del windows
    os.replace(partial, cache / WINDOWS_FILE)
    with atomic_path(cache / INDEX_FILE) as temporary:
        index.to_csv(temporary, index=False)
    if profiles is not None:
        write_profiles(cache / BAND_PROFILES_FILE, profiles)
    write_json(cache / DATASET_FILE, {"options": options, "skipped": skipped, "n_windows": position})
    index = read_index(cache / INDEX_FILE)
    return Extraction(np.load(cache / WINDOWS_FILE, mmap_mode="r"), index, skipped, layout, clips, profiles)


def _pooled_profiles(planned, fe, *, channel, min_duration_s, pad_mode, skipped):
    """First pass for whitening: the band profile of every recording of several files, over all of them.

    One recording at a time (its files in scan order), so that one :class:`BandProfile` is held at once.
    Returns the planned clips that could be read, in their order (a failure is logged and added to
    ``skipped``), and ``{recording: profile}`` for those recordings; a recording of one file is left to
    the second pass.
    """
    by_recording = {}
    for clip, _ in planned:
        by_recording.setdefault(clip.recording, []).append(clip)
    failed, profiles = set(), {}
    for recording, clips in by_recording.items():
        if len(clips) < 2:
            continue
        profile = BandProfile(fe.n_bins)
        for clip in clips:
            try:
                y = load_audio(clip.path, sr=fe.sr, channel=channel, fmax_hz=fe.fmax_hz,
                               min_duration_s=min_duration_s)
            except AudioError as error:
                log.warning("skipped %s", error)
                skipped.append({"file": clip.file, "reason": str(error)})
                failed.add(clip.file)
                continue
            profile.add(waveform_frames(y, fe, pad_mode=pad_mode)[0])
        if profile.n_seen:
            profiles[recording] = profile.profile()
    return [(clip, n) for clip, n in planned if clip.file not in failed], profiles


def clear_stale_caches(cache_dir, *, keep):
    """Remove every cache entry under ``cache_dir`` except ``keep`` (a key), to bound disk use."""
    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        return
    for entry in cache_dir.iterdir():
        if entry.is_dir() and entry.name != keep:
            shutil.rmtree(entry, ignore_errors=True)
