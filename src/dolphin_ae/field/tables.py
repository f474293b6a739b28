"""What ``detect`` and ``embed`` write: the regions' table and audio, and tables of codes.

``detect`` writes one row per region (``REGION_COLUMNS``: file, start_s, end_s in s, score) and,
optionally, the regions' audio one after another with ``REGION_SEPARATOR_S`` of zeros between them.
``embed`` writes Parquet or CSV tables (chosen by the suffix) of codes, one column per dimension
(:func:`code_columns`), a batch of rows at a time.
"""

from pathlib import Path

import numpy as np

from dolphin_ae.audio.pipeline import iter_audio_blocks
from dolphin_ae.exceptions import ParameterError

REGION_COLUMNS = ("file", "start_s", "end_s", "score")
# The seed wrote its region audio with 0.1 s of zeros between regions.
REGION_SEPARATOR_S = 0.1


def write_regions_audio(sound_file, path, regions, *, sr, channel=0, block_s=10.0, first=True):
    """Append the samples of ``regions`` of ``path`` (at ``sr``) to an open ``soundfile.SoundFile``.

    Regions are separated by ``REGION_SEPARATOR_S`` seconds of zeros (also from the regions of
    earlier files, unless ``first``). The recording is read again, block by block.

    Returns
    -------
    first : bool
        Whether the output is still empty.
    """
    spans = [(int(round(r.start_s * sr)), int(round(r.end_s * sr))) for r in regions]
    if not spans:
        return first
    separator = np.zeros(int(round(REGION_SEPARATOR_S * sr)), dtype=np.float32)
    position, index, inside = 0, 0, False
    for block in iter_audio_blocks(path, sr=sr, channel=channel, block_s=block_s):
        block_end = position + block.shape[0]
        while index < len(spans) and spans[index][0] < block_end:
            start, stop = spans[index]
            if not inside:
                if not first:
                    sound_file.write(separator)
                first, inside = False, True
            lo, hi = max(start, position), min(stop, block_end)
            if hi > lo:
                sound_file.write(block[lo - position : hi - position])
            if stop > block_end:
                break
            index, inside = index + 1, False
        position = block_end
        if index == len(spans):
            break
    return first


def code_columns(latent_dim):
    """Column names of a code: ``code_000`` .. ``code_{latent_dim-1}``."""
    return [f"code_{k:03d}" for k in range(latent_dim)]


class TableWriter:
    """Rows appended in batches to a Parquet or CSV file (chosen by the suffix), in bounded memory."""

    def __init__(self, path, schema):
        import pyarrow.csv
        import pyarrow.parquet

        self.path = Path(path)
        self.schema = schema
        suffix = self.path.suffix.lower()
        if suffix == ".parquet":
            self._writer = pyarrow.parquet.ParquetWriter(str(self.path), schema)
        elif suffix == ".csv":
            self._writer = pyarrow.csv.CSVWriter(str(self.path), schema)
        else:
            raise ParameterError(f"the output must end in .parquet or .csv, got {self.path.name!r}")

    def write(self, table):
        if table.num_rows:
            self._writer.write_table(table.cast(self.schema))

    def close(self):
        self._writer.close()


def check_table_suffix(path):
    """Refuse an ``--out`` that is neither ``.parquet`` nor ``.csv`` (``ParameterError``), before any work."""
    if Path(path).suffix.lower() not in (".parquet", ".csv"):
        raise ParameterError(f"--out must end in .parquet or .csv, got {Path(path).name!r}")


def embedding_schema(latent_dim, *, per):
    """The columns of ``embed``'s table: file, start_s, end_s (s), then ``per="window"``: p_not_silence,
    is_signal, else score, n_windows; then the code's ``latent_dim`` columns (:func:`code_columns`)."""
    import pyarrow as pa

    fields = [pa.field("file", pa.string()), pa.field("start_s", pa.float64()), pa.field("end_s", pa.float64())]
    if per == "window":
        fields += [pa.field("p_not_silence", pa.float32()), pa.field("is_signal", pa.bool_())]
    else:
        fields += [pa.field("score", pa.float32()), pa.field("n_windows", pa.int32())]
    fields += [pa.field(name, pa.float32()) for name in code_columns(latent_dim)]
    return pa.schema(fields)


def embedding_table(schema, file, start_s, end_s, middle, codes):
    """Rows of one file as a ``pyarrow.Table`` of ``schema``.

    ``start_s``, ``end_s``: shape (n,), s; ``middle``: the columns between them and the code, by name;
    ``codes``: shape (n, latent_dim).
    """
    import pyarrow as pa

    n = len(start_s)
    columns = {"file": pa.array([file] * n, pa.string()), "start_s": np.asarray(start_s, dtype=np.float64),
               "end_s": np.asarray(end_s, dtype=np.float64), **middle}
    codes = np.asarray(codes, dtype=np.float32)
    if codes.ndim != 2:  # kept as given when 2-D: reshape(0, -1) cannot infer the width of a batch that kept no row
        codes = codes.reshape(n, -1)
    for k, name in enumerate(code_columns(codes.shape[1])):
        columns[name] = codes[:, k]
    return pa.table(columns).cast(schema)
