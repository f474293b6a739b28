"""index and search: query by example over region codes, on recordings whose events and motifs are known.

The tests that need a model use the session's ``trained_run`` (``tests/conftest.py``). The
recordings are synthetic long recordings with planted signature whistles (``synthesize_dataset``
in ``recordings`` mode: the truth table's ``motif`` column names the renditions).
"""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile

from dolphin_ae.cli import main
from dolphin_ae.data.synth import synthesize_dataset
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.field.evaluation import chance_rendition_precision, precision_at_k, rendition_precision
from dolphin_ae.field.index import PooledSpectrogramEncoder, build_index
from dolphin_ae.field.search import embed_spans, index_run, load_index, rendition_scores, search
from dolphin_ae.layout import IndexLayout, RunLayout

from conftest import count_embeddings


# Hand-made hits and truth: the metric's rules.

def test_precision_at_k_counts_each_event_once_and_missing_hits_as_wrong():
    relevant = [("a.wav", 1.0, 2.0), ("b.wav", 5.0, 6.0)]
    hits = [("a.wav", 1.1, 2.1),   # finds event 1
            ("a.wav", 1.0, 1.9),   # event 1 again: not counted twice
            ("a.wav", 5.0, 6.0),   # right time, wrong file
            ("b.wav", 5.6, 7.0)]   # covers only 40 % of event 2
    assert precision_at_k(hits, relevant, k=2) == 0.5
    assert precision_at_k(hits, relevant, k=4) == 0.25
    assert precision_at_k(hits[:1], relevant, k=2) == 0.5  # one hit for k = 2: the missing one is wrong
    assert precision_at_k([("b.wav", 5.0, 6.2), ("a.wav", 0.9, 2.0)], relevant, k=2) == 1.0
    with pytest.raises(ParameterError, match="k must be"):
        precision_at_k(hits, relevant, k=0)


def _truth():
    rows = [("r1.wav", 1.0, 2.0, "sig01"), ("r1.wav", 4.0, 5.0, "sig01"), ("r2.wav", 1.0, 2.0, "sig01"),
            ("r2.wav", 4.0, 5.0, "sig02"), ("r3.wav", 1.0, 2.0, "sig02"),
            ("r3.wav", 4.0, 5.0, "sig03"),  # heard once: no query
            ("r3.wav", 7.0, 8.0, "")]       # a one-off whistle
    return pd.DataFrame(rows, columns=["file", "start_s", "end_s", "motif"])


def test_rendition_precision_drops_the_query_itself_and_averages_over_motifs():
    truth = _truth()
    events = list(zip(truth["file"], truth["start_s"], truth["end_s"]))
    motif_of = dict(zip(events, truth["motif"]))

    def perfect(file, start_s, end_s, n):
        # The query itself first (at distance 0), then the other renditions, then the rest.
        query = (file, start_s, end_s)
        same = [e for e in events if motif_of[e] == motif_of[query] and e != query]
        return [query] + same + [e for e in events if e not in same and e != query]

    scores = rendition_precision(truth, perfect)
    assert scores == {"precision": 1.0, "per_motif": {"sig01": 1.0, "sig02": 1.0}, "n_queries": 5}

    def one_off_first(file, start_s, end_s, n):
        return [("r3.wav", 7.0, 8.0)] + perfect(file, start_s, end_s, n)

    # sig01: k = 2 other renditions, of which the first 2 hits hold 1; sig02: k = 1, the first hit is wrong.
    scores = rendition_precision(truth, one_off_first)
    assert scores["per_motif"] == {"sig01": 0.5, "sig02": 0.0}
    assert scores["precision"] == 0.25
    assert rendition_precision(truth[truth["motif"] != "sig01"].iloc[2:], perfect)["precision"] is None


def test_chance_precision_counts_the_regions_that_find_another_rendition():
    truth = _truth()
    regions = pd.DataFrame({"file": ["r1.wav", "r1.wav", "r2.wav", "r3.wav", "r3.wav"],
                            "start_s": [1.0, 4.1, 7.0, 1.0, 7.0], "end_s": [2.0, 5.0, 8.0, 2.1, 8.0]})
    # sig01: 2 of its 3 renditions have a region, so a query's one other over 4 other regions; sig02: r3's only.
    assert chance_rendition_precision(regions, truth) == pytest.approx((1 / 4 + 0 / 4) / 2)


def test_pooled_spectrogram_is_the_mean_of_each_block():
    encoder = PooledSpectrogramEncoder(8, 6, time_blocks=2, bin_blocks=3)
    x = np.arange(2 * 8 * 6, dtype=np.float32).reshape(2, 8, 6, 1)
    codes = encoder.predict_on_batch(x)
    assert codes.shape == (2, 6) and encoder.output_shape == (None, 6)
    assert codes[1, 0] == pytest.approx(x[1, :4, :2, 0].mean())
    assert codes[0, 5] == pytest.approx(x[0, 4:, 4:, 0].mean())
    with pytest.raises(ParameterError, match="equal blocks"):
        PooledSpectrogramEncoder(8, 6, time_blocks=3)


def test_help_explains_every_option(capsys):
    for command, options in (("index", ("MODEL_DIR", "AUDIO_OR_DIR", "--out", "--embedding", "--min-region-s")),
                             ("search", ("INDEX_DIR", "QUERY", "--start-s", "--end-s", "--k", "--out", "--rerank",
                                         "--candidates", "--run"))):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        for option in options:
            assert option in text, (command, option)


# The model path: exact mechanics.

@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Four 30 s recordings (two sessions) with planted signature whistles; returns (folder, truth table)."""
    root = tmp_path_factory.mktemp("archive")
    truth = synthesize_dataset(root, mode="recordings", n_sessions=2, recordings_per_session=2, recording_s=30.0,
                               n_motifs=3, motif_fraction=0.6, snr_db_range=(12.0, 20.0),
                               events_per_minute={"whistle": 12.0, "burst": 1.0, "click": 1.0}, seed=5)
    truth["file"] = [str(root / name) for name in truth["file"]]
    return root, truth


# Regions of two windows at least: the tiny detector's lone windows of background are left out.
MIN_REGION_S = "0.25"


@pytest.fixture(scope="module")
def built_index(trained_run, archive, tmp_path_factory):
    root, _ = archive
    out = tmp_path_factory.mktemp("index") / "idx"
    files = sorted(str(p) for p in root.glob("*.wav"))
    assert main(["index", str(trained_run), *files, "--out", str(out), "--min-region-s", MIN_REGION_S,
                 "--no-progress"]) == 0
    return out


@pytest.mark.parametrize("rerank", [[], ["--rerank", "dtw"]])
def test_a_region_of_the_index_finds_itself_first(built_index, tmp_path, rerank):
    index = load_index(built_index)
    assert len(index) >= 8 and index.manifest["embedding"] == "encoder"
    region = index.regions.iloc[len(index) // 2]
    out = tmp_path / "hits.csv"
    assert main(["search", str(built_index), region["file"], "--start-s", repr(float(region["start_s"])),
                 "--end-s", repr(float(region["end_s"])), "--k", "5", "--out", str(out), *rerank]) == 0
    hits = pd.read_csv(out)
    assert list(hits.columns) == ["file", "start_s", "end_s", "distance"] and len(hits) == 5
    first = hits.iloc[0]
    assert (first["file"], first["start_s"], first["end_s"]) == \
        (region["file"], round(region["start_s"], 4), round(region["end_s"], 4))
    assert first["distance"] == pytest.approx(0.0, abs=1e-4)
    assert np.all(np.diff(hits["distance"]) >= 0)


def test_a_query_at_another_rate_is_resampled(built_index, tmp_path):
    index = load_index(built_index)
    region = index.regions.iloc[0]
    y, sr = soundfile.read(region["file"], dtype="float32")
    import soxr

    faster = tmp_path / "query_96k.flac"
    soundfile.write(str(faster), soxr.resample(y, sr, 96000), 96000, subtype="PCM_24")
    run = index_run(index)
    span = (float(region["start_s"]), float(region["end_s"]))
    (code, sequence), = embed_spans(run, faster, [span], options=index.options)
    hits = search(index, code, sequence, k=3)
    assert (hits["file"].iloc[0], hits["start_s"].iloc[0]) == (region["file"], region["start_s"])
    # Resampled to the run's rate, the query is still nearest to the region it was cut from.
    assert hits["distance"].iloc[0] < hits["distance"].iloc[1]


def test_adding_recordings_embeds_only_the_new_ones(trained_run, archive, tmp_path, monkeypatch):
    root, _ = archive
    first, second = sorted(root.glob("*.wav"))[:2]
    out = tmp_path / "idx"
    assert main(["index", str(trained_run), str(first), "--out", str(out), "--no-progress"]) == 0
    layout = IndexLayout(out)
    before = load_index(out)
    part_bytes = layout.part_regions(0).read_bytes()
    embedded = count_embeddings(monkeypatch)
    assert main(["index", str(trained_run), str(first), str(second), "--out", str(out), "--no-progress"]) == 0
    assert embedded == [str(second)]
    assert layout.part_regions(0).read_bytes() == part_bytes  # the old part is not rewritten
    after = load_index(out)
    old = after.regions[after.regions["file"] == str(first)]
    np.testing.assert_array_equal(old[before.regions.columns].to_numpy(), before.regions.to_numpy())
    assert set(after.regions["file"]) == {str(first), str(second)}
    assert after.manifest["n_regions"] == len(after) > len(before)
    # Nothing new: the index is left as it was.
    manifest = layout.manifest.read_bytes()
    assert main(["index", str(trained_run), str(second), "--out", str(out), "--no-progress"]) == 0
    assert layout.manifest.read_bytes() == manifest and embedded == [str(second)]
    # Other options than the index's: refused, not mixed in.
    assert main(["index", str(trained_run), str(first), "--out", str(out), "--min-gap-s", "0.3",
                 "--no-progress"]) == 2


def test_clear_errors(built_index, trained_run, archive, tmp_path, capsys, write_wav):
    root, _ = archive
    query = str(sorted(root.glob("*.wav"))[0])

    def error(*args):
        assert main(["search", *map(str, args)]) == 2
        return capsys.readouterr().err

    short = write_wav("short.wav", np.zeros(2400, dtype=np.float32))
    assert "shorter than one window" in error(built_index, short)
    assert "shorter than one window" in error(built_index, query, "--start-s", 1.0, "--end-s", 1.1)
    assert "no such folder" in error(tmp_path / "nowhere", query)
    assert "no index.json" in error(tmp_path, query)
    # A corrupt copy: one byte of a part changed.
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(built_index, broken)
    part = IndexLayout(broken).part_regions(0)
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    assert "corrupt" in error(broken, query)
    IndexLayout(broken).manifest.write_text("{ not json")
    assert "corrupt" in error(broken, query)
    # A run whose front end is not the one the index was built with.
    other = tmp_path / "other_run"
    shutil.copytree(trained_run, other)
    dataset = json.loads(RunLayout(other).dataset.read_text())
    dataset["front_end"]["fmin_hz"] = dataset["front_end"]["fmin_hz"] + 500.0
    RunLayout(other).dataset.write_text(json.dumps(dataset))
    assert "another front end than the model's" in error(built_index, query, "--run", other)
    with pytest.raises(ParameterError, match="k must be"):
        search(load_index(built_index), np.zeros(16), np.zeros((1, 16)), k=0)


def test_the_graph_finds_what_exact_search_finds(trained_run, archive, built_index, tmp_path):
    """With the pynndescent graph (any index size), the hits of a small index are the exact ones."""
    root, _ = archive
    out = tmp_path / "ann"
    build_index(trained_run, sorted(root.glob("*.wav")), out, min_ann_regions=0,
                options=load_index(built_index).options)
    graph, exact = load_index(out), load_index(built_index)
    assert graph.manifest["search"] == "pynndescent" and exact.manifest["search"] == "exact"
    for i in range(0, len(exact), 5):
        code = exact.codes[i]
        a = search(graph, code, exact.sequence(i), k=5)
        b = search(exact, code, exact.sequence(i), k=5)
        pd.testing.assert_frame_equal(a[["file", "start_s", "end_s"]], b[["file", "start_s", "end_s"]])
        np.testing.assert_allclose(a["distance"], b["distance"], rtol=1e-4, atol=1e-5)


# Query by example on planted signature whistles: the model beside the peer.

def test_signature_whistles_find_their_renditions(trained_run, archive, built_index, tmp_path):
    root, truth = archive
    peer = tmp_path / "peer"
    build_index(trained_run, sorted(root.glob("*.wav")), peer, embedding="pooled",
                options=load_index(built_index).options)
    model, pooled = rendition_scores(load_index(built_index), truth), rendition_scores(load_index(peer), truth)
    n_regions = len(load_index(built_index))
    renditions = truth[truth["motif"] != ""]
    table = {f"model {name}": s["precision"] for name, s in model.items()}
    table.update({f"peer {name}": s["precision"] for name, s in pooled.items()})
    print("precision at k averaged over motifs:", table, "queries:", model["codes"]["n_queries"], "regions:",
          n_regions, "renditions:", renditions.groupby("motif").size().to_dict())
    chance = chance_rendition_precision(load_index(built_index).regions, truth)
    print("chance:", chance)
    assert model["codes"]["n_queries"] == pooled["codes"]["n_queries"] >= 10
    # The floor, on the peer: renditions of one motif differ by at most about 2 % in frequency and 4 % in
    # duration (data.synth), less than one pooled block of 8 bins (about 600 Hz), while one-off whistles,
    # bursts and clicks have other contours; so a rendition's pooled spectrogram lies nearer the other
    # renditions' than chance puts them, by a margin that background and SNR (12-20 dB) cannot close.
    assert table["peer codes"] >= 1.5 * chance
