"""Query by example over an embedding index (``dolphin-ae search``).

The query (a whole recording, or a span of it) is embedded exactly as the index embedded its
regions (:mod:`dolphin_ae.field.index`): the recording is streamed with the index's front end and
options (resampled from any rate, whitened by its own profile), and the query's code is the mean of
the codes of the windows lying wholly inside the span, its sequence those codes in time order. A
span that is one of the index's regions therefore gets that region's code exactly.

Hits are the ``k`` regions nearest to the query's code (Euclidean, through the index's
approximate-nearest-neighbour graph). With ``rerank="dtw"`` a larger set of candidates is re-ranked
by the DTW distance between code sequences (:func:`dolphin_ae.analysis.dtw.dtw_distance`), which
lets whistles of different durations match.
"""

import pickle
from dataclasses import dataclass

import numpy as np

from dolphin_ae.analysis.dtw import dtw_distance
from dolphin_ae.audio.spectrogram import FrontEnd
from dolphin_ae.exceptions import AudioError, ParameterError
from dolphin_ae.field.index import _checked, embedding_run, load_manifest, model_fingerprint, windows_inside
from dolphin_ae.field.regions import DetectionOptions, scan_recording, window_geometry
from dolphin_ae.field.run import load_detector_run
from dolphin_ae.field.tables import code_columns
from dolphin_ae.layout import IndexLayout

HIT_COLUMNS = ("file", "start_s", "end_s", "distance")
RERANKS = (None, "dtw")
# With re-ranking, candidates per hit asked for.
CANDIDATES_PER_HIT = 5


@dataclass
class SearchIndex:
    """An index read back and checked (:func:`load_index`).

    Attributes
    ----------
    manifest : dict
        ``index.json``.
    regions : pandas.DataFrame
        One row per region (file, start_s, end_s, score, n_windows, codes, first_window), in the
        order of the neighbour graph; ``first_window`` indexes ``sequences``.
    sequences : np.ndarray, shape (n_windows_total, latent_dim)
        Every region's window codes, one region after another.
    ann : pynndescent.NNDescent or None
        None for an index of fewer than 3 regions (searched exactly).
    """

    manifest: dict
    regions: object
    sequences: np.ndarray
    ann: object

    def __len__(self):
        return len(self.regions)

    @property
    def codes(self):
        return self.regions[code_columns(self.manifest["latent_dim"])].to_numpy(np.float32)

    def sequence(self, i):
        first = int(self.regions["first_window"].iloc[i])
        return self.sequences[first: first + int(self.regions["n_windows"].iloc[i])]

    @property
    def options(self):
        return DetectionOptions(**self.manifest["options"])


def load_index(index_dir):
    """Read an index folder, checking every part and the graph against the manifest's checksums.

    Raises
    ------
    ParameterError
        Naming the file: no folder or manifest, a manifest that cannot be read, a part or graph
        missing or whose checksum differs.
    """
    import pandas as pd

    layout = IndexLayout(index_dir)
    manifest = load_manifest(layout)
    tables, sequences, offset = [], [], 0
    for part in manifest["parts"]:
        table = pd.read_parquet(_checked(layout.part_regions(part["part"]), part["regions_sha256"]))
        flat = np.load(_checked(layout.part_sequences(part["part"]), part["sequences_sha256"]))
        table["first_window"] = table["first_window"] + offset
        offset += flat.shape[0]
        tables.append(table)
        sequences.append(flat)
    latent_dim = manifest["latent_dim"]
    regions = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=code_columns(latent_dim))
    try:
        ann = pickle.loads(_checked(layout.ann, manifest["ann_sha256"]).read_bytes())
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
        raise ParameterError(f"{layout.ann}: cannot be read ({type(error).__name__}); build the index again") from None
    flat = np.concatenate(sequences) if sequences else np.zeros((0, latent_dim), dtype=np.float32)
    return SearchIndex(manifest=manifest, regions=regions, sequences=flat, ann=ann)


def index_run(index, *, run_dir=None):
    """The run that made ``index`` (or the one at ``run_dir``), with the index's embedding, checked against it.

    Raises
    ------
    ParameterError
        When the run's front end is not the index's, or its models are not those the index was built with.
    """
    run_dir = index.manifest["run_dir"] if run_dir is None else run_dir
    run = load_detector_run(run_dir, threshold=index.manifest.get("threshold"))
    built_with = FrontEnd(**index.manifest["front_end"])
    if run.front_end != built_with:
        raise ParameterError(f"the index was built with another front end than the model's: the index's is "
                             f"{built_with}, the run {run.run_dir} has {run.front_end}; build the index again "
                             f"with this run")
    if model_fingerprint(run.run_dir) != index.manifest["models"]:
        raise ParameterError(f"the models of {run.run_dir} are not those the index was built with (their "
                             f"checksums differ); build the index again with this run")
    return embedding_run(run, index.manifest["embedding"])


def embed_query(run, path, *, options, start_s=None, end_s=None):
    """The query's code and code sequence, made as the index made its regions'.

    Parameters
    ----------
    run : DetectorRun
        From :func:`index_run`.
    path : str or Path
        The query recording (any rate: resampled to the run's).
    options : DetectionOptions
        The index's (``SearchIndex.options``).
    start_s, end_s : float or None
        The span of the recording to search for (s); None: from the start, to the end.

    Returns
    -------
    code : np.ndarray, shape (latent_dim,), float32
        The mean of ``sequence``.
    sequence : np.ndarray, shape (n_windows, latent_dim), float32

    Raises
    ------
    ParameterError
        When the query (or its span) holds no whole window, or the file cannot be used.
    """
    return embed_spans(run, path, [(start_s, end_s)], options=options)[0]


def embed_spans(run, path, spans, *, options):
    """:func:`embed_query` for several spans ``[(start_s, end_s), ...]`` (s, None for open ends) of one
    recording, read once; returns a list of ``(code, sequence)``."""
    checked = []
    for start_s, end_s in spans:
        start_s = 0.0 if start_s is None else float(start_s)
        end_s = np.inf if end_s is None else float(end_s)
        if not 0.0 <= start_s < end_s:
            raise ParameterError(f"--start-s and --end-s must satisfy 0 <= start_s < end_s (s), got {start_s} and "
                                 f"{end_s}")
        checked.append((start_s, end_s))
    _, window_s = window_geometry(run.front_end, options.step_frames)
    parts = [[] for _ in checked]
    try:
        for starts, _, window_codes in scan_recording(run, path, options=options, with_codes=True):
            for part, (start_s, end_s) in zip(parts, checked):
                part.append(window_codes[windows_inside(starts, window_s, start_s, end_s)])
    except AudioError as error:
        raise ParameterError(f"QUERY {error}") from None
    embedded = []
    for part, (start_s, end_s) in zip(parts, checked):
        sequence = np.concatenate(part) if part else np.zeros((0, run.latent_dim), dtype=np.float32)
        if sequence.shape[0] == 0:
            span = "the query" if np.isinf(end_s) and start_s == 0 else f"the span {start_s:g}..{end_s:g} s of the query"
            raise ParameterError(f"QUERY {path}: {span} is shorter than one window ({window_s:.3f} s) or lies "
                                 f"beyond the recording's end; nothing to search for")
        embedded.append((sequence.mean(axis=0, dtype=np.float64).astype(np.float32), sequence))
    return embedded


def nearest(index, code, *, k):
    """Indices (into ``index.regions``) and Euclidean distances of the ``k`` regions nearest to ``code``, nearest first."""
    k = min(int(k), len(index))
    if k == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    if index.ann is None:
        distances = np.linalg.norm(index.codes - code[None, :], axis=1)
        order = np.argsort(distances, kind="stable")[:k]
        return order, distances[order]
    found, distances = index.ann.query(np.asarray(code, dtype=np.float32)[None, :], k=k)
    return found[0].astype(np.int64), distances[0].astype(np.float64)


def search(index, code, sequence, *, k=20, rerank=None, n_candidates=None):
    """The ``k`` regions of ``index`` nearest to a query, as a table ``file,start_s,end_s,distance``.

    Parameters
    ----------
    code : np.ndarray, shape (latent_dim,)
    sequence : np.ndarray, shape (n_windows, latent_dim)
        From :func:`embed_query`.
    rerank : None or "dtw"
        None: distance is the Euclidean distance between codes. ``"dtw"``: the ``n_candidates``
        nearest codes (default ``CANDIDATES_PER_HIT * k``) are re-ranked by the DTW distance
        between code sequences, and ``distance`` is that (per step, code units).

    Returns
    -------
    hits : pandas.DataFrame, nearest first, at most ``k`` rows
    """
    import pandas as pd

    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k must be a positive integer, got {k!r}")
    if rerank not in RERANKS:
        raise ParameterError(f"rerank must be one of {RERANKS}, got {rerank!r}")
    n_candidates = CANDIDATES_PER_HIT * k if n_candidates is None else int(n_candidates)
    if n_candidates < k:
        raise ParameterError(f"n_candidates must be at least k = {k}, got {n_candidates}")
    found, distances = nearest(index, np.asarray(code, dtype=np.float32), k=k if rerank is None else n_candidates)
    if rerank == "dtw":
        distances = np.array([dtw_distance(sequence, index.sequence(i)) for i in found])
        order = np.argsort(distances, kind="stable")
        found, distances = found[order], distances[order]
    rows = index.regions.iloc[found[:k]]
    return pd.DataFrame({"file": rows["file"].to_numpy(), "start_s": rows["start_s"].to_numpy(),
                         "end_s": rows["end_s"].to_numpy(), "distance": distances[:k]}, columns=list(HIT_COLUMNS))


def rendition_scores(index, truth, *, run=None, reranks=RERANKS, max_k=10):
    """Precision at k of query by example on planted renditions (``evaluation.rendition_precision``).

    Every rendition in ``truth`` (rows with a ``motif``; ``file`` named as the index names its
    recordings) is embedded once (each recording read once, :func:`embed_spans`) and searched for.

    Returns
    -------
    dict
        ``{"codes" or rerank: rendition_precision(...)}`` for each of ``reranks`` (None is ``"codes"``).
    """
    from dolphin_ae.field.evaluation import rendition_precision

    run = index_run(index) if run is None else run
    renditions = truth[truth["motif"].fillna("").astype(str) != ""]
    queries = {}
    for file, group in renditions.groupby("file"):
        spans = list(zip(group["start_s"], group["end_s"]))
        for span, embedded in zip(spans, embed_spans(run, file, spans, options=index.options)):
            queries[(file, *span)] = embedded
    scores = {}
    for rerank in reranks:
        def find(file, start_s, end_s, n, rerank=rerank):
            code, sequence = queries[(file, start_s, end_s)]
            hits = search(index, code, sequence, k=n, rerank=rerank)
            return list(zip(hits["file"], hits["start_s"], hits["end_s"]))

        scores[rerank or "codes"] = rendition_precision(truth, find, max_k=max_k)
    return scores
