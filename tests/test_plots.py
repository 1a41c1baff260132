"""Plots write PNGs with the expected axes; PCA and t-SNE recover structure they are known to hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.evaluation import latent_geometry, plots
from tfp_audio_vae.models.latents import encode_dataset
from tfp_audio_vae.models.priors import StandardNormalPrior
from tfp_audio_vae.models.variants import build_vae

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def model():
    return build_vae(TINY_CONFIG, "mog", latent_dim=4)


@pytest.fixture(scope="module")
def spectrograms():
    return next(iter(random_batches(n=8, batch_size=8)))["spectrogram"]  # [8, 128, 32, 1]


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert not list(path.parent.glob(".tmp-*")), "a temporary file was left behind"


def test_reconstructions_with_waveforms(model, spectrograms, tmp_path):
    x = spectrograms[:2]
    rng = np.random.default_rng(0)
    waves = [(rng.uniform(-1, 1, 2048), rng.uniform(-1, 1, 2048)) for _ in range(2)]
    path = tmp_path / "reconstructions.png"
    figure = plots.plot_reconstructions(
        x, model.reconstruct(x), TINY_CONFIG, waveforms=waves, titles=["a", "b"], path=path
    )
    assert_png(path)
    assert len(figure.axes) == 2 * 2 + 2 * 2 + 1  # spectrograms, waveforms, colour bar
    assert figure.axes[0].get_ylabel() == "frequency (Hz)"
    without_waves = plots.plot_reconstructions(x, x, TINY_CONFIG)
    assert len(without_waves.axes) == 2 * 2 + 1


def test_reconstructions_refuse_spectrograms_of_another_shape(spectrograms):
    with pytest.raises(ValueError, match="for this config"):
        plots.plot_reconstructions(spectrograms[:, :64], spectrograms[:, :64], TINY_CONFIG)


def test_sample_grid(spectrograms, tmp_path):
    path = tmp_path / "samples.png"
    titles = [f"judge: {d} (0.93)" for d in range(7)]
    figure = plots.plot_sample_grid(
        spectrograms[:7], TINY_CONFIG, titles=titles, ncols=3, path=path
    )
    assert_png(path)
    assert len(figure.axes) == 7 + 1
    assert figure.axes[6].get_title() == "judge: 6 (0.93)"


def test_encoded_latents_and_latent_space_by_digit_and_speaker(model, tmp_path):
    speakers = tf.constant(["george", "jackson", "lucas"] * 10 + ["theo", "theo"])
    data = random_batches(n=32, batch_size=16).unbatch()
    data = tf.data.Dataset.zip(data, tf.data.Dataset.from_tensor_slices(speakers))
    data = data.map(lambda e, s: {**e, "speaker": s}).batch(16)
    encoded = encode_dataset(model, data)
    means, digits, names = encoded["mean"], encoded["label"], encoded["speaker"]
    assert means.shape == (32, 4) and digits.shape == (32,) and names.shape == (32,)
    np.testing.assert_array_equal(digits, np.arange(32) % 10)
    assert names[0] == "george" and names[-1] == "theo"

    by_digit = plots.plot_latent_space(means, digits, path=tmp_path / "pca.png")
    by_speaker = plots.plot_latent_space(
        means, names, method="tsne", title="by speaker", path=tmp_path / "tsne.png"
    )
    assert_png(tmp_path / "pca.png")
    assert_png(tmp_path / "tsne.png")
    assert len(by_digit.axes) == 1 and len(by_speaker.axes) == 1
    assert len(by_digit.legends[0].get_texts()) == 10
    assert [t.get_text() for t in by_speaker.legends[0].get_texts()] == [
        "george",
        "jackson",
        "lucas",
        "theo",
    ]


def test_prior_components_of_a_mixture_and_samples_of_another_prior(model, tmp_path):
    rng = np.random.default_rng(0)
    latents, labels = rng.normal(size=(40, 4)), np.arange(40) % 10
    figure = plots.plot_prior_components(latents, labels, model.prior, path=tmp_path / "mog.png")
    assert_png(tmp_path / "mog.png")
    assert len(figure.axes) == 1
    assert len(figure.axes[0].patches) == model.prior.num_components  # one ellipse each

    other = plots.plot_prior_components(
        latents, labels, StandardNormalPrior(4), num_samples=50, path=tmp_path / "normal.png"
    )
    assert_png(tmp_path / "normal.png")
    assert len(other.axes) == 1 and not other.axes[0].patches


def test_training_curves_from_a_history_csv_and_a_dict(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.csv").write_text(
        "epoch,bits_per_dim,kl,loss,neg_elbo,nll,val_kl,val_neg_elbo,val_nll\n"
        "0,2.1,30.0,3030.0,3030.0,3000.0,31.0,2950.0,2919.0\n"
        "1,1.9,35.0,2535.0,2535.0,2500.0,NA,2600.0,2565.0\n"
    )
    figure = plots.plot_training_curves(run, path=tmp_path / "curves.png")
    assert_png(tmp_path / "curves.png")
    assert len(figure.axes) == 3
    assert all(len(ax.lines) == 2 for ax in figure.axes)  # train and validation
    np.testing.assert_array_equal(figure.axes[0].lines[0].get_xdata(), [1, 2])

    from_dict = plots.plot_training_curves({"neg_elbo": [3, 2], "nll": [2, 1], "kl": [1, 1]})
    assert [len(ax.lines) for ax in from_dict.axes] == [1, 1, 1]
    with pytest.raises(ValueError, match="no kl"):
        plots.plot_training_curves({"neg_elbo": [3, 2], "nll": [2, 1]})


def test_pca_recovers_points_on_a_known_plane():
    rng = np.random.default_rng(0)
    centred = rng.normal(size=(200, 2))
    centred -= centred.mean(axis=0)
    # Orthogonal, centred columns of distinct variance: the principal axes are the two coordinates.
    coords = np.linalg.qr(centred)[0] * [30.0, 10.0]  # [n, 2]
    basis, _ = np.linalg.qr(rng.normal(size=(6, 2)))  # [6, 2], orthonormal columns
    x = coords @ basis.T + 5.0  # [n, 6], on a plane offset from the origin
    pca = latent_geometry.fit_pca(x)
    projected = pca.transform(x)  # [n, 2]
    signs = np.sign(np.sum(projected * coords, axis=0))
    np.testing.assert_allclose(projected * signs, coords, atol=1e-8)
    np.testing.assert_allclose(pca.explained_variance_ratio_.sum(), 1.0)
    # diagonal covariances [m, 6] project to W diag(v) W^T [m, 2, 2]
    variances = rng.uniform(0.5, 2.0, size=(3, 6))
    w = pca.components_  # [2, 6]
    expected = np.stack([w @ np.diag(v) @ w.T for v in variances])
    np.testing.assert_allclose(
        latent_geometry.projected_covariances(pca, variances), expected, rtol=1e-12
    )


def two_blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(size=(60, 10)), rng.normal(size=(60, 10)) + 6.0])  # [120, 10]
    return x, np.repeat([0, 1], 60)


def _plotted_points(figure) -> tuple[np.ndarray, np.ndarray]:
    """The scatter points of a latent map, ``[n, 2]``, and the index of the collection of each."""
    collections = figure.axes[0].collections
    points = [c.get_offsets() for c in collections]
    owner = np.concatenate([np.full(len(p), i) for i, p in enumerate(points)])
    return np.concatenate(points), owner


@pytest.mark.slow  # two t-SNE fits: tens of seconds on two cores
def test_tsne_map_separates_two_blobs_and_repeats():
    x, labels = two_blobs()
    embedding, owner = _plotted_points(plots.plot_latent_space(x, labels, method="tsne", seed=0))
    assert embedding.shape == (120, 2)
    distances = np.sum((embedding[:, None] - embedding[None]) ** 2, axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert np.mean(owner[np.argmin(distances, axis=1)] == owner) > 0.95  # neighbours share a blob

    again, _ = _plotted_points(plots.plot_latent_space(x, labels, method="tsne", seed=0))
    np.testing.assert_array_equal(again, embedding)
