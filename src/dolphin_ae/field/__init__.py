"""The field tool: non-silent regions and embeddings of recordings of any length (``detect``, ``embed``), and
query by example over them (``index``, ``search``).

- :mod:`~dolphin_ae.field.run`: the trained run (detector, encoder, front end, threshold);
- :mod:`~dolphin_ae.field.regions`: scoring a recording's windows and merging them into regions;
- :mod:`~dolphin_ae.field.tables`: the tables and audio ``detect`` and ``embed`` write;
- :mod:`~dolphin_ae.field.engine_run`: one task per recording, in this process or on a Dask cluster, the run
  loaded once per process;
- :mod:`~dolphin_ae.field.parts`: the resumable output folder, one Parquet part per recording with a record
  of its inputs;
- :mod:`~dolphin_ae.field.batch`: ``detect`` and ``embed`` over many recordings, to one file or to a folder of parts;
- :mod:`~dolphin_ae.field.index`: an index of region codes over recordings (``index``), extended in place;
- :mod:`~dolphin_ae.field.search`: query by example over an index (``search``), DTW re-ranking;
- :mod:`~dolphin_ae.field.evaluation`: regions against known events; precision at k of query by example.

A recording is read in blocks by :mod:`dolphin_ae.audio.pipeline`, resampled block by block to the
run's rate and windowed exactly as the whole file would be, so memory depends on the block size, not
on the recording's length.
"""
