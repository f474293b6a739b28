import numpy as np
import pandas as pd

from dolphin_ae.analysis.sequences import load_truth, with_truth
from conftest import tone


def test_truth_with_motifs_takes_the_primary_event(tmp_path):
    pd.DataFrame({
        "file": ["w/a.wav", "w/a.wav", "w/b.wav", "n/c.wav"],
        "recording": ["s0"] * 4, "label": ["burst", "whistle", "whistle", "noise"],
        "type": ["burst_pulse", "upsweep", "convex", "background"],
        "motif": ["", "sig01", "", ""], "primary": [False, True, True, True],
    }).to_csv(tmp_path / "truth.csv", index=False)
    table = load_truth(tmp_path)
    assert table.attrs["has_motif"] is True
    truth = table.set_index("file")
    assert truth.loc["w/a.wav", "type"] == "upsweep" and truth.loc["w/a.wav", "motif"] == "sig01"
    assert truth.loc["w/b.wav", "motif"] == ""


def test_truth_without_motif_column_degrades(tmp_path):
    pd.DataFrame({"file": ["w/a.wav"], "recording": ["s0"], "label": ["whistle"], "type": ["convex"]}).to_csv(
        tmp_path / "truth.csv", index=False)
    truth = load_truth(tmp_path)
    assert truth.attrs["has_motif"] is False and truth["motif"].tolist() == [""]
    assert load_truth(tmp_path / "elsewhere") is None
    index = pd.DataFrame({"file": ["w/a.wav", "w/z.wav"], "label": ["whistle", "click"]})
    joined = with_truth(index, truth)
    assert joined["type"].tolist() == ["convex", "click"] and joined["motif"].tolist() == ["", ""]
    assert with_truth(index, None)["type"].tolist() == ["whistle", "click"]


class _MeanEncoder:
    """Stands in for a Keras encoder: each window's code is its mean over time, shape (n_bins,)."""

    def predict(self, x, batch_size=64, verbose=0):
        return np.asarray(x)[..., 0].mean(axis=1)


def _annotated_recordings(tmp_path, write_wav):
    """Four 4 s recordings, each a 9 kHz whistle at 0.5-1.5 s and a 15 kHz one at 2.0-3.5 s."""
    rng = np.random.default_rng(0)
    rows, truth = [], []
    for k in range(4):
        y = 0.01 * rng.standard_normal(4 * 48000).astype(np.float32)
        y[24000:72000] += tone(9000.0, 1.0, amplitude=0.3)
        y[96000:168000] += tone(15000.0, 1.5, amplitude=0.3)
        write_wav(f"data/site{k}__day1.wav", y)
        rows += [f"site{k}__day1.wav,0.5,1.5,whistle,low", f"site{k}__day1.wav,2.0,3.5,whistle,high"]
        truth += [f"site{k}__day1.wav,site{k},whistle,low,0.5,1.5,sig01",
                  f"site{k}__day1.wav,site{k},whistle,high,2.0,3.5,"]
    data = tmp_path / "data"
    (data / "annotations.csv").write_text("file,start_s,end_s,label,type\n" + "\n".join(rows) + "\n")
    (data / "truth.csv").write_text("file,recording,label,type,start_s,end_s,motif\n" + "\n".join(truth) + "\n")
    return data


def test_annotated_recordings_give_one_sequence_per_event_of_the_test_recordings(tmp_path, write_wav):
    from dolphin_ae.data.dataset import build_window_dataset
    from dolphin_ae.analysis.sequences import encode_clips, load_event_truth, sequence_items

    data = _annotated_recordings(tmp_path, write_wav)
    dataset = build_window_dataset(data, seed=0, test_fraction=0.25)
    assert len(dataset.events) == 8
    test_files = set(dataset.index.loc[dataset.index["split"] == "test", "file"])
    items = sequence_items(dataset, ["whistle"], event_truth=load_event_truth(data))
    # Two events per test recording, each with its own span, type and motif; none from training.
    assert set(items["file"]) == test_files and len(items) == 2 * len(test_files)
    assert (items["split"] == "test").all()
    for file, rows in items.groupby("file"):
        assert rows["start_s"].tolist() == [0.5, 2.0] and rows["end_s"].tolist() == [1.5, 3.5]
        assert rows["type"].tolist() == ["low", "high"] and rows["motif"].tolist() == ["sig01", ""]
    sequences, kept, skipped = encode_clips(_MeanEncoder(), items, data, dataset.front_end, step_frames=12)
    assert not skipped and len(sequences) == len(items)
    fe = dataset.front_end

    def n_windows(duration_s):
        n_frames = 1 + (int(round(duration_s * fe.sr)) - fe.n_fft) // fe.hop_length
        return 1 + (n_frames - fe.window_frames) // 12

    assert [s.shape[0] for s in sequences] == [n_windows(1.0), n_windows(1.5)] * len(test_files)
    # The codes are those of the event's own audio: the 9 kHz event peaks low in the band, the 15 kHz high.
    low, high = sequences[0].mean(axis=0), sequences[1].mean(axis=0)
    assert np.argmax(low) < np.argmax(high)


def test_folder_clips_give_sequences_of_test_recordings_only():
    from types import SimpleNamespace

    from dolphin_ae.analysis.sequences import sequence_items

    index = pd.DataFrame({
        "file": ["w/a.wav", "w/a.wav", "w/b.wav", "w/c.wav", "n/d.wav"],
        "recording": ["s0", "s0", "s1", "s2", "s2"], "label": ["whistle"] * 4 + ["noise"],
        "split": ["train", "train", "test", "test", "test"]})
    truth = pd.DataFrame({"file": ["w/b.wav"], "label": ["whistle"], "type": ["convex"], "motif": ["sig02"]})
    items = sequence_items(SimpleNamespace(index=index, events=None), ["whistle"], truth=truth)
    assert items["file"].tolist() == ["w/b.wav", "w/c.wav"]
    assert items["type"].tolist() == ["convex", "whistle"] and items["motif"].tolist() == ["sig02", ""]
    assert items["start_s"].isna().all()


def test_motif_truth_needs_a_motif_column_with_an_id(tmp_path):
    from dolphin_ae.analysis.sequences import has_motif_truth

    assert not has_motif_truth(tmp_path)
    (tmp_path / "truth.csv").write_text("file,label,type\nw/a.wav,whistle,convex\n")
    assert not has_motif_truth(tmp_path)
    (tmp_path / "truth.csv").write_text("file,label,type,motif\nw/a.wav,whistle,convex,\n")
    assert not has_motif_truth(tmp_path)
    (tmp_path / "truth.csv").write_text("file,label,type,motif\nw/a.wav,whistle,convex,sig01\n")
    assert has_motif_truth(tmp_path)


def test_seed_settings_are_labelled_as_such():
    from dolphin_ae.analysis.discovery import SEED_DENSITY_SETTINGS
    from dolphin_ae.analysis.sequences import SEED_SEQUENCE_SETTINGS, seed_settings_label

    assert seed_settings_label("density rule", {"k": 3, "percentile": 15.0, "gap_penalty": 10},
                               SEED_DENSITY_SETTINGS) == "the seed's density rule at the seed's settings"
    changed = seed_settings_label("DTW clustering", {"step_frames": 12, "gap_penalty": 10.0, "percentile": 30.0},
                                  SEED_SEQUENCE_SETTINGS)
    assert changed == "the seed's DTW clustering at changed settings: percentile 30 (seed: 20)"


def test_folder_clips_without_motif_truth_are_not_scored_as_one_motif():
    from dolphin_ae.analysis.sequences import discovery_truth

    # Folder-labelled whistles with no truth table: every type is the label. Scoring against it would make
    # one "motif" of all whistles, and any group would find it (precision 1, recall 1); nothing is scored.
    plain = pd.DataFrame({"label": ["whistle"] * 6, "type": ["whistle"] * 6, "motif": [""] * 6})
    assert discovery_truth(plain, motif_truth=False) == (None, None)
    # Known contour families but no motifs: a stand-in under its own name, not discovery precision/recall.
    families = plain.assign(type=["upsweep", "upsweep", "convex", "convex", "sine", "sine"])
    targets, kind = discovery_truth(families, motif_truth=False)
    assert kind == "contour family" and list(targets) == list(families["type"])
    motifs = families.assign(motif=["sig01", "sig01", "", "", "", ""])
    targets, kind = discovery_truth(motifs, motif_truth=True)
    assert kind == "motif" and list(targets) == ["sig01", "sig01", "", "", "", ""]
