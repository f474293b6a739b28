"""Models compared side by side: every row trained on the same windows for the same epochs."""

import numpy as np
import pytest

from dolphin_ae.train.compare import Contender, compare_autoencoders
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.train.evaluation import mean_window_mse, pca_reconstruction_mse

SIZES = {"conv_filters": (4, 4), "kernel_size": 3, "latent_dim": 6, "output_activation": "linear"}


def _windows(n=48, seed=0):
    # Silence windows are faint noise; signal windows carry a loud horizontal line (a "whistle").
    rng = np.random.default_rng(seed)
    windows = 0.1 * rng.standard_normal((n, 16, 32)).astype(np.float32)
    is_silence = np.arange(n) % 2 == 0
    windows[~is_silence, :, 10] += 3.0
    return windows, is_silence


@pytest.mark.slow
def test_every_row_trains_on_the_same_windows_for_the_same_epochs(tmp_path):
    windows, is_silence = _windows()
    train, validation, test = np.arange(24), np.arange(24, 32), np.arange(32, 48)
    contenders = [Contender("conv_v5", "conv_v5"),
                  Contender("conv_v5 as the seed", "conv_v5", "seed", True, "constant"),
                  Contender("conv_v5 as in chapter 02", "conv_v5", patience=5)]
    rows, pca_mse = compare_autoencoders(windows, is_silence, contenders, train_indices=train,
                                         validation_indices=validation, test_indices=test, sizes=SIZES, epochs=2,
                                         batch_size=8, silence_epochs=3, silence_batch_size=8,
                                         checkpoint_dir=tmp_path, seed=0)
    assert list(rows) == [c.label for c in contenders]
    assert pca_mse == pytest.approx(pca_reconstruction_mse(windows, train, test, n_components=6, seed=0))
    for row in rows.values():
        assert row["training windows"] == 24 and row["epochs"] == 2
        assert row["PCA test MSE"] == pca_mse
        assert row["test MSE / PCA MSE"] == pytest.approx(row["test MSE"] / pca_mse)
        assert row["mean-window test MSE"] == pytest.approx(mean_window_mse(windows, train, test))
        assert row["test MSE / mean-window MSE"] == pytest.approx(row["test MSE"] / row["mean-window test MSE"])
    # Three trainings, each in its own checkpoint folder: the patience of chapter 02 is a run of its own.
    assert len(list(tmp_path.iterdir())) == 3
    # Patience that never triggers in 2 epochs leaves the same model as the row without it.
    assert rows["conv_v5 as in chapter 02"]["test MSE"] == pytest.approx(rows["conv_v5"]["test MSE"], rel=1e-5)
    # The seed's ConvNet batch-normalises the code (6) and the expanded layer (4 x 8 x 4), 4 numbers each.
    assert rows["conv_v5 as the seed"]["autoencoder parameters"] - rows["conv_v5"]["autoencoder parameters"] \
        == 4 * (6 + 4 * 8 * 4)
    assert rows["conv_v5 as the seed"]["settings"] == "seed activation, batch norm, constant rate"
    assert rows["conv_v5 as in chapter 02"]["settings"] == "leaky activation, no batch norm, cosine rate, patience 5"


def test_rows_need_distinct_labels_and_known_models():
    windows, is_silence = _windows(8)
    options = dict(train_indices=np.arange(4), validation_indices=np.arange(4, 6), test_indices=np.arange(6, 8),
                   sizes=SIZES, epochs=1)
    with pytest.raises(ParameterError, match="distinct labels"):
        compare_autoencoders(windows, is_silence, [Contender("a", "conv_v5"), Contender("a", "lstm_v4_1")], **options)
    with pytest.raises(ParameterError, match="'conv_v6' is not one of"):
        compare_autoencoders(windows, is_silence, [Contender("a", "conv_v6")], **options)


def test_the_chapters_rows_follow_its_parameters():
    from dolphin_ae.train.compare import chapter_contenders

    contenders = chapter_contenders(["conv_v5", "lstm_v4_1"], conv_activation="seed", conv_batch_norm=True,
                                    lr_schedule="constant", compare_seed_conv=True, model="lstm_v4_3", patience=3)
    assert contenders == [Contender("conv_v5", "conv_v5", "seed", True, "constant"),
                          Contender("lstm_v4_1", "lstm_v4_1", "seed", True, "constant"),
                          Contender("conv_v5 as the seed", "conv_v5", "seed", True, "constant"),
                          Contender("lstm_v4_3 as in chapter 02 (mse)", "lstm_v4_3", "seed", True, "constant", 3)]
    assert [c.label for c in chapter_contenders(["vae_v4_2"], compare_seed_conv=False)] == [
        "vae_v4_2", "conv_v5 as in chapter 02 (mse)"]


def test_the_chapter_02_row_alone_takes_chapter_02s_objective():
    from dolphin_ae.train.compare import chapter_contenders
    from dolphin_ae.train.objective_settings import Objective

    objective = Objective("contrastive", contrastive_temperature=0.5, projection_dim=8)
    contenders = chapter_contenders(["conv_v5", "lstm_v4_1"], objective=objective)
    assert [c.objective.name for c in contenders] == ["mse", "mse", "mse", "contrastive"]
    # The objective travels with its settings, and the label and the settings say which it is.
    assert contenders[-1].objective == objective
    assert contenders[-1].label == "conv_v5 as in chapter 02 (contrastive)"
    assert contenders[-1].settings() == "leaky activation, no batch norm, cosine rate, contrastive objective"
    assert contenders[0].settings() == "leaky activation, no batch norm, cosine rate"
    # A name stands for the objective with its default settings.
    assert chapter_contenders([], compare_seed_conv=False, objective="denoising")[-1].objective == Objective("denoising")
    with pytest.raises(ParameterError, match="objective must be one of"):
        chapter_contenders([], objective="ssim")


def test_each_row_trains_with_its_own_objective(monkeypatch):
    import dolphin_ae.train.compare as compare

    windows, is_silence = _windows(16)
    recordings = np.repeat(np.arange(8), 2)
    trained = {}

    def recording_training(model, windows, train_indices, **options):
        trained[model.name, len(trained)] = (options["objective"], options["recordings"], options["is_background"])
        return {"loss": [1.0], "epoch_seconds": [0.1]}

    monkeypatch.setattr(compare, "train_autoencoder", recording_training)
    contenders = [Contender("conv_v5", "conv_v5"),
                  Contender("conv_v5 as in chapter 02 (denoising)", "conv_v5", objective="denoising")]
    options = dict(train_indices=np.arange(8), validation_indices=np.arange(8, 10), test_indices=np.arange(10, 16),
                   sizes=SIZES, epochs=1, silence_epochs=1, silence_batch_size=8)
    rows, _ = compare_autoencoders(windows, is_silence, contenders, recordings=recordings, **options)
    assert [objective.name for objective, _, _ in trained.values()] == ["mse", "denoising"]
    for _, passed_recordings, passed_background in trained.values():
        np.testing.assert_array_equal(passed_recordings, recordings)
        np.testing.assert_array_equal(passed_background, is_silence)
    assert rows["conv_v5 as in chapter 02 (denoising)"]["settings"].endswith("denoising objective")
    # Background windows come from other recordings: without them the comparison stops before any training.
    trained.clear()
    with pytest.raises(ParameterError, match="denoising objective mixes in background"):
        compare_autoencoders(windows, is_silence, contenders, **options)
    assert not trained


def test_the_best_row_has_the_lowest_test_error():
    from dolphin_ae.train.compare import best_row

    rows = {"a": {"test MSE": 0.3, "x": 1}, "b": {"test MSE": 0.1, "x": 3}, "c": {"test MSE": 0.1, "x": 0}}
    assert best_row(rows) == "b"
    assert best_row(rows, "x") == "c"


def test_mean_window_mse_is_the_error_of_the_training_mean():
    windows = np.zeros((4, 2, 3), dtype=np.float32)
    windows[1] = 2.0  # training mean: 1 everywhere
    windows[2] = 3.0
    windows[3] = -1.0
    # Test windows 3 and -1 are 2 away from the mean 1 in every number.
    assert mean_window_mse(windows, [1, 0], [3, 2]) == pytest.approx(4.0)


def test_code_reach_is_zero_where_the_decoding_ignores_the_code():
    import keras

    from dolphin_ae.train.evaluation import code_reach

    # Frames 0-1 copy the code's two numbers; frames 2-3 are a constant.
    code = keras.Input(shape=(2,))
    first = keras.layers.Reshape((2, 1, 1))(code)
    last = keras.layers.Reshape((2, 1, 1))(keras.layers.Dense(2, kernel_initializer="zeros",
                                                              bias_initializer="ones")(code))
    decoder = keras.Model(code, keras.layers.Concatenate(axis=1)([first, last]))
    codes = np.array([[0.0, 0.0], [1.0, 3.0], [-1.0, 1.0]], dtype=np.float32)
    # |code - first code| averaged over the two later codes and the two numbers: (1 + 3 + 1 + 1) / 4.
    np.testing.assert_allclose(code_reach(decoder, codes, n_parts=2), [1.5, 0.0], atol=1e-6)
    with pytest.raises(ParameterError, match="at least two code vectors"):
        code_reach(decoder, codes[:1])
