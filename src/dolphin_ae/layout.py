"""Every file and folder of a run directory, named once.

A run directory (``runs/<name>/``) is written by the report's stages and read by later stages, by the
field tool (``detect``, ``embed``) and by the book. Modules and chapters name its paths through
``RunLayout`` instead of spelling them, so that the layout can be read (and changed) in one place::

    runs/<name>/
        manifest.json, metrics.json         parameters, versions, timings / every measured number
        data/                               a synthetic data set made by chapter 01 (when no --data)
        truth.csv                           chapter 01's copy of the data set's truth table (when it has one)
        cache/                              window data sets keyed by their inputs (chapter 01)
        windows.npy, windows.csv, dataset.json, events.csv   the windows, their index, front end, events
        band_profiles.npz                   each recording's band profile (front ends that whiten)
        checkpoints/                        training state, resumable, keyed by training_key
        models/                             autoencoder.keras, encoder.keras, autoencoder_history.json,
                                            silence_detector.keras, signal_type_classifier.keras
        embedding/                          test_codes.npy, test_window_indices.npy, map_<method>.npy
        sequences/                          codes.npy, offsets.npy, dtw_seed.npy, dtw_unit.npy, clips.csv
        field/                              recording.wav, truth.csv, regions.csv, regions.wav, regions.parquet,
                                            archive/ (recordings with signature whistles), index/, index_peer/
        .notebooks/                         the chapters converted to .ipynb, as papermill's inputs
        book/                               the book's pages, the executed chapters <stage>.ipynb and
                                            the built book, _build/html/index.html
"""

from dataclasses import dataclass
from pathlib import Path

from dolphin_ae.constants import TRUTH_FILE  # the truth table: in a data set, and its copy in a run

METRICS_FILE = "metrics.json"
MANIFEST_FILE = "manifest.json"
WINDOWS_FILE = "windows.npy"
INDEX_FILE = "windows.csv"
DATASET_FILE = "dataset.json"
EVENTS_FILE = "events.csv"
BAND_PROFILES_FILE = "band_profiles.npz"
MODELS_DIR = "models"
AUTOENCODER_FILE = "autoencoder.keras"
ENCODER_FILE = "encoder.keras"
HISTORY_FILE = "autoencoder_history.json"
DETECTOR_FILE = "silence_detector.keras"
SIGNAL_TYPE_FILE = "signal_type_classifier.keras"
# An embedding index (``dolphin-ae index``): its manifest is written last, so a folder without one
# (or whose manifest's checksums do not match) is never trusted.
INDEX_MANIFEST_FILE = "index.json"
INDEX_ANN_FILE = "ann.pickle"
INDEX_PARTS_DIR = "parts"
# The built book inside a book folder (``build_book`` writes it there): ``<book>/_build/html/index.html``.
BOOK_HTML_DIR = Path("_build", "html")
BOOK_INDEX_FILE = "index.html"


@dataclass(frozen=True)
class RunLayout:
    """The paths of one run directory ``root``; nothing is created or read here.

    Examples
    --------
    >>> layout = RunLayout("runs/ci")
    >>> layout.encoder.as_posix()
    'runs/ci/models/encoder.keras'
    """

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    # Run-wide records.
    @property
    def manifest(self):
        return self.root / MANIFEST_FILE

    @property
    def metrics(self):
        return self.root / METRICS_FILE

    # Chapter 01: data and windows.
    @property
    def data(self):
        """A synthetic data set written into the run when no ``--data`` is given."""
        return self.root / "data"

    @property
    def truth(self):
        """The data set's truth table, copied into the run by chapter 01 (when the data set has one)."""
        return self.root / TRUTH_FILE

    @property
    def cache(self):
        return self.root / "cache"

    @property
    def windows(self):
        return self.root / WINDOWS_FILE

    @property
    def index(self):
        return self.root / INDEX_FILE

    @property
    def dataset(self):
        return self.root / DATASET_FILE

    @property
    def events(self):
        return self.root / EVENTS_FILE

    @property
    def band_profiles(self):
        """Each recording's band profile, subtracted by a whitening front end (absent otherwise)."""
        return self.root / BAND_PROFILES_FILE

    # Chapters 02, 03 and 07: training state and models.
    @property
    def checkpoints(self):
        return self.root / "checkpoints"

    @property
    def models(self):
        return self.root / MODELS_DIR

    @property
    def autoencoder(self):
        return self.models / AUTOENCODER_FILE

    @property
    def encoder(self):
        return self.models / ENCODER_FILE

    @property
    def history(self):
        return self.models / HISTORY_FILE

    @property
    def detector(self):
        return self.models / DETECTOR_FILE

    @property
    def signal_type_classifier(self):
        return self.models / SIGNAL_TYPE_FILE

    # Chapter 04: codes of the test windows and their maps.
    @property
    def embedding(self):
        return self.root / "embedding"

    @property
    def test_codes(self):
        return self.embedding / "test_codes.npy"

    @property
    def test_window_indices(self):
        return self.embedding / "test_window_indices.npy"

    def projection_map(self, method):
        """``embedding/map_<method>.npy`` (``method`` lower-cased, dashes dropped: ``t-SNE`` -> ``tsne``)."""
        return self.embedding / f"map_{method.lower().replace('-', '')}.npy"

    # Chapters 05 and 06: code sequences of clips and their DTW distances.
    @property
    def sequences(self):
        return self.root / "sequences"

    @property
    def sequence_codes(self):
        return self.sequences / "codes.npy"

    @property
    def sequence_offsets(self):
        return self.sequences / "offsets.npy"

    @property
    def dtw_seed(self):
        return self.sequences / "dtw_seed.npy"

    @property
    def dtw_unit(self):
        return self.sequences / "dtw_unit.npy"

    @property
    def sequence_clips(self):
        return self.sequences / "clips.csv"

    # Chapter 08: a synthetic field recording, its truth, and what detect and embed made of it.
    @property
    def field(self):
        return self.root / "field"

    @property
    def field_recording(self):
        return self.field / "recording.wav"

    @property
    def field_truth(self):
        return self.field / TRUTH_FILE

    @property
    def field_regions(self):
        """``detect``'s table of regions (CSV)."""
        return self.field / "regions.csv"

    @property
    def field_regions_audio(self):
        """``detect``'s regions joined into one WAV file."""
        return self.field / "regions.wav"

    @property
    def field_embeddings(self):
        """``embed``'s codes of the regions (Parquet)."""
        return self.field / "regions.parquet"

    @property
    def field_archive(self):
        """Synthetic long recordings with planted signature whistles, and their truth (the search section)."""
        return self.field / "archive"

    @property
    def field_index(self):
        """``index``'s folder over the archive, with the run's codes (:class:`IndexLayout`)."""
        return self.field / "index"

    @property
    def field_index_peer(self):
        """The same index with the peer's raw pooled spectrograms as codes."""
        return self.field / "index_peer"

    # The report and the book.
    @property
    def notebooks(self):
        """The chapters converted to ``.ipynb``, papermill's inputs (hidden: the book is what a reader opens)."""
        return self.root / ".notebooks"

    def notebook_input(self, stage):
        """``.notebooks/<stage>.ipynb``: chapter ``stage`` (e.g. ``01_data``) before it is executed."""
        return self.notebooks / f"{stage}.ipynb"

    @property
    def book(self):
        return self.root / "book"

    def executed_notebook(self, stage):
        """``book/<stage>.ipynb``: chapter ``stage`` executed, a page of the book."""
        return self.book / f"{stage}.ipynb"

    @property
    def book_html(self):
        return self.book / BOOK_HTML_DIR

    @property
    def book_index(self):
        """The built book's front page."""
        return self.book_html / BOOK_INDEX_FILE


@dataclass(frozen=True)
class IndexLayout:
    """The paths of one embedding index folder ``root`` (``dolphin-ae index --out``); nothing is created here::

        INDEX_DIR/
            index.json                 written last: run, front end, options, parts and their checksums
            ann.pickle                 the approximate-nearest-neighbour index over every region's code
            parts/<k>.parquet          part ``k``: one recording's regions (file, start_s, end_s, codes, ...)
            parts/<k>.sequences.npy    part ``k``: the per-window codes of its regions, one after another
            parts/<k>.json             part ``k``'s record, written after its files (an interrupted build resumes)

    Examples
    --------
    >>> IndexLayout("idx").part_regions(3).as_posix()
    'idx/parts/00003.parquet'
    """

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def manifest(self):
        return self.root / INDEX_MANIFEST_FILE

    @property
    def ann(self):
        return self.root / INDEX_ANN_FILE

    @property
    def parts(self):
        return self.root / INDEX_PARTS_DIR

    def part_regions(self, part):
        return self.parts / f"{int(part):05d}.parquet"

    def part_sequences(self, part):
        return self.parts / f"{int(part):05d}.sequences.npy"

    def part_record(self, part):
        """Part ``k``'s record (its manifest entry, the recording's size and time, the run and options), written
        after its files: an interrupted build's finished parts are taken up by the next one."""
        return self.parts / f"{int(part):05d}.json"
