"""Pictures of a VAE and its data: spectrograms, latent spaces, the prior and training curves.

Small named functions, as in the keras.io VAE example: each takes the arrays (or the model and
data) it draws, returns a `matplotlib.figure.Figure` on an Agg canvas (no pyplot state) and, given
``path``, writes it as a PNG atomically. Spectrograms are shown in dB of the STFT magnitude,
``20 log10 |X|`` after de-normalising with the config's statistics, over time in seconds and
frequency in Hz; the colour scale starts at the config's ``log_floor`` (silence).

#### Examples

```python
encoded = latents.encode_dataset(model, test_data)  # "mean", "label", "speaker"
plot_latent_space(encoded["mean"], encoded["label"], method="tsne", path="latents_tsne.png")
plot_latent_space(encoded["mean"], encoded["speaker"], title="posterior means by speaker")
plot_prior_components(encoded["mean"], encoded["label"], model.prior, path="prior.png")
plot_training_curves("runs/mog", path="docs/img/training.png")
```
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import matplotlib
import matplotlib.image
import numpy as np
import tensorflow as tf
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from tfp_audio_vae.data.spectrogram import SpectrogramConfig, denormalise
from tfp_audio_vae.evaluation.latent_geometry import (
    axis_labels,
    component_ellipses,
    fit_pca,
    project_latents,
)
from tfp_audio_vae.files import atomic_output
from tfp_audio_vae.models.latents import encode_dataset
from tfp_audio_vae.models.priors import MixtureOfGaussiansPrior, Prior
from tfp_audio_vae.models.vae import VAE
from tfp_audio_vae.synthesis.generation import sample_latents

DPI = 120
PathLike = str | os.PathLike[str]

# --------------------------------------------------------------------------- shared pieces


def _figure(width: float, height: float) -> Figure:
    """A constrained-layout figure of ``width`` x ``height`` inches on its own Agg canvas."""
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _finish(figure: Figure, path: PathLike | None) -> Figure:
    """Writes ``figure`` to ``path`` as a PNG (atomically) when a path is given."""
    if path is not None:
        with atomic_output(path) as tmp:
            figure.savefig(tmp, format="png", dpi=DPI)
    return figure


def _decibels(spectrograms: ArrayLike, config: SpectrogramConfig) -> np.ndarray:
    """Model-space ``[n, freq, time, 1]`` -> STFT magnitude in dB, ``[n, freq, time]``."""
    x = tf.convert_to_tensor(spectrograms, tf.float32)
    if x.shape.rank != 4 or tuple(x.shape[1:]) != config.shape or x.shape[0] == 0:
        raise ValueError(
            f"expected spectrograms [n >= 1, {', '.join(map(str, config.shape))}] for this "
            f"config, got shape {tuple(x.shape)}"
        )
    log_magnitude = denormalise(x, config).numpy()[..., 0]  # natural log of |X|
    return (20.0 / math.log(10.0)) * log_magnitude  # 20 log10 |X|


def _colour_limits(decibels: np.ndarray, config: SpectrogramConfig) -> tuple[float, float]:
    """One colour scale for a whole figure: from the log floor (silence) to the loudest bin."""
    floor = 20.0 * math.log10(config.log_floor)
    return floor, max(float(decibels.max()), floor + 1.0)


def _draw_spectrogram(
    ax: Axes, decibels: np.ndarray, config: SpectrogramConfig, vmin: float, vmax: float
) -> AxesImage:
    """``[freq, time]`` dB on ``ax``: time in s (frame starts), frequency in Hz (bin centres)."""
    seconds = config.frames * config.hop_length / config.sample_rate
    bin_hz = config.sample_rate / config.n_fft
    return ax.imshow(
        decibels,
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=vmin,
        vmax=vmax,
        interpolation="nearest",
        extent=(0.0, seconds, -0.5 * bin_hz, (config.freq_bins - 0.5) * bin_hz),
    )


def _colours(labels: ArrayLike) -> dict[Any, Any]:
    """A colour per distinct label. Labels 0-9 always get the same tab10 colour, in every figure."""
    values = np.unique(np.asarray(labels))
    if values.dtype.kind in "iu" and values.size and values.min() >= 0 and values.max() < 10:
        palette = matplotlib.colormaps["tab10"]
        return {value.item(): palette(int(value)) for value in values}
    if len(values) <= 10:
        palette = matplotlib.colormaps["tab10"]
    elif len(values) <= 20:
        palette = matplotlib.colormaps["tab20"]
    else:
        palette = matplotlib.colormaps["turbo"].resampled(len(values))
    return {value.item(): palette(i) for i, value in enumerate(values)}


def _scatter_by_label(
    ax: Axes,
    xy: np.ndarray,
    labels: np.ndarray,
    colours: Mapping[Any, Any],
    label_names: Mapping[Any, str] | Sequence[str] | None = None,
) -> None:
    """Points ``xy`` ``[n, 2]`` coloured by ``labels`` ``[n]``, one legend entry per label."""
    for value in np.unique(labels):
        chosen = labels == value
        name = str(value if label_names is None else label_names[value.item()])
        ax.scatter(
            xy[chosen, 0],
            xy[chosen, 1],
            s=8,
            color=colours[value.item()],
            alpha=0.8,
            lw=0,
            label=name,
        )


def _legend(figure: Figure, ax: Axes) -> None:
    """The axes' legend outside the plot, on the right (two columns for many entries)."""
    count = len(ax.get_legend_handles_labels()[1])
    figure.legend(
        *ax.get_legend_handles_labels(),
        loc="outside right upper",
        fontsize="small",
        markerscale=1.5,
        frameon=False,
        ncols=1 if count <= 12 else 2,
    )


def _as_points(latents: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    latents = np.asarray(latents, dtype=np.float64)
    labels = np.asarray(labels)
    if latents.ndim != 2 or labels.shape != (len(latents),):
        raise ValueError(
            f"expected latents [n, d] and labels [n], got shapes {latents.shape} and {labels.shape}"
        )
    return latents, labels


# --------------------------------------------------------------------------- spectrograms


def plot_reconstructions(
    originals: ArrayLike,
    reconstructions: ArrayLike,
    config: SpectrogramConfig,
    *,
    waveforms: Sequence[tuple[ArrayLike, ArrayLike]] | None = None,
    titles: Sequence[str] | None = None,
    path: PathLike | None = None,
) -> Figure:
    """Originals beside their reconstructions, one row per example, on one dB colour scale.

    Args:
      originals, reconstructions: model-space spectrograms ``[n, freq, time, 1]`` (normalised with
        ``config``'s statistics), e.g. a batch and ``model.reconstruct(batch)``.
      config: the `SpectrogramConfig` that made them (normalisation, sample rate, STFT sizes).
      waveforms: optional ``n`` pairs ``(original, reconstruction)`` of waveforms ``[samples]`` at
        ``config.sample_rate``, drawn under each spectrogram (e.g. the clip and its Griffin-Lim
        resynthesis).
      titles: optional ``n`` row titles (e.g. ``"digit 3, jackson"``).
      path: where to write the PNG, if anywhere.
    Returns:
      the figure: ``2n`` spectrogram axes (``4n`` with waveforms) and one colour bar.
    """
    original_db = _decibels(originals, config)  # [n, freq, time]
    reconstruction_db = _decibels(reconstructions, config)  # [n, freq, time]
    n = len(original_db)
    for name, given in (("reconstructions", reconstruction_db), ("waveforms", waveforms)):
        if given is not None and len(given) != n:
            raise ValueError(f"{n} originals but {len(given)} {name}")
    if titles is not None and len(titles) != n:
        raise ValueError(f"{n} originals but {len(titles)} titles")
    vmin, vmax = _colour_limits(np.concatenate([original_db, reconstruction_db]), config)
    height_ratios = [3] if waveforms is None else [3, 1]
    rows = len(height_ratios)
    figure = _figure(7.0, 0.4 + n * (1.9 if waveforms is None else 2.6))
    grid = figure.add_gridspec(n * rows, 2, height_ratios=height_ratios * n)
    spectrogram_axes = []
    for i in range(n):
        for j, (decibels, column) in enumerate(
            ((original_db[i], "original"), (reconstruction_db[i], "reconstruction"))
        ):
            ax = figure.add_subplot(grid[i * rows, j])
            image = _draw_spectrogram(ax, decibels, config, vmin, vmax)
            ax.set_title(column if titles is None else f"{titles[i]}: {column}", fontsize="medium")
            if j == 0:
                ax.set_ylabel("frequency (Hz)")
            spectrogram_axes.append(ax)
            bottom = ax
            if waveforms is not None:
                ax.tick_params(labelbottom=False)
                bottom = figure.add_subplot(grid[i * rows + 1, j], sharex=ax)
                wave = np.asarray(waveforms[i][j], dtype=np.float64)
                seconds = np.arange(len(wave)) / config.sample_rate
                bottom.plot(seconds, wave, lw=0.4, color="0.2")
                peak = float(np.max(np.abs(wave))) if wave.size else 0.0
                limit = 1.05 * peak if peak > 0 else 1.0
                bottom.set_ylim(-limit, limit)
                bottom.tick_params(labelsize="small")
                if j == 0:
                    bottom.set_ylabel("amplitude")
            if i == n - 1:
                bottom.set_xlabel("time (s)")
    figure.colorbar(image, ax=spectrogram_axes, label="magnitude (dB)", aspect=40)
    return _finish(figure, path)


def spectrogram_png(spectrogram: ArrayLike, config: SpectrogramConfig) -> bytes:
    """One model-space spectrogram ``[freq, time, 1]`` as PNG bytes, one pixel per bin (low
    frequencies at the bottom), in the figures' dB colours: from the log floor to its loudest bin."""
    decibels = _decibels(np.asarray(spectrogram)[np.newaxis], config)[0]  # [freq, time]
    vmin, vmax = _colour_limits(decibels, config)
    png = io.BytesIO()
    matplotlib.image.imsave(
        png, decibels, cmap="magma", vmin=vmin, vmax=vmax, origin="lower", format="png"
    )
    return png.getvalue()


def plot_sample_grid(
    spectrograms: ArrayLike,
    config: SpectrogramConfig,
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 5,
    path: PathLike | None = None,
) -> Figure:
    """Generated spectrograms in a grid of ``ncols`` columns, on one dB colour scale.

    Args:
      spectrograms: model-space ``[n, freq, time, 1]``, e.g. ``model.sample(10)``.
      config: the `SpectrogramConfig` of the model.
      titles: optional ``n`` titles, e.g. a judge's verdicts ``"judge: 7 (0.93)"``.
      ncols: columns of the grid (fewer when there are fewer spectrograms).
      path: where to write the PNG, if anywhere.
    Returns:
      the figure: ``n`` spectrogram axes and one colour bar.
    """
    decibels = _decibels(spectrograms, config)  # [n, freq, time]
    n = len(decibels)
    if titles is not None and len(titles) != n:
        raise ValueError(f"{n} spectrograms but {len(titles)} titles")
    ncols = max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)
    vmin, vmax = _colour_limits(decibels, config)
    figure = _figure(1.0 + 1.7 * ncols, 0.5 + 1.6 * nrows)
    axes: list[Axes] = []
    for i in range(n):
        first = axes[0] if axes else None
        ax = figure.add_subplot(nrows, ncols, i + 1, sharex=first, sharey=first)
        image = _draw_spectrogram(ax, decibels[i], config, vmin, vmax)
        if titles is not None:
            ax.set_title(titles[i], fontsize="small")
        ax.tick_params(labelleft=i % ncols == 0, labelbottom=i + ncols >= n, labelsize="x-small")
        axes.append(ax)
    figure.supxlabel("time (s)", fontsize="medium")
    figure.supylabel("frequency (Hz)", fontsize="medium")
    figure.colorbar(image, ax=axes, label="magnitude (dB)", aspect=30)
    return _finish(figure, path)


# --------------------------------------------------------------------------- latent space


def plot_latent_space(
    latents: ArrayLike,
    labels: ArrayLike,
    *,
    method: Literal["pca", "tsne"] = "pca",
    title: str | None = None,
    label_names: Mapping[Any, str] | Sequence[str] | None = None,
    perplexity: float = 30.0,
    seed: int = 0,
    path: PathLike | None = None,
) -> Figure:
    """A 2-D map of latent vectors, coloured by label (class, speaker, ...), placed by
    `latent_geometry.project_latents`.

    Args:
      latents: ``[n, d]``, e.g. posterior means from `latents.encode_dataset`.
      labels: ``[n]`` ints or strings; labels 0-9 keep the same colours in every figure.
      method: ``"pca"`` (linear; axes show the share of variance they hold) or ``"tsne"``
        (scikit-learn's Barnes-Hut `TSNE`: keeps neighbourhoods, not distances; its axes have
        no units).
      title: the plot's title; by default names the method.
      label_names: names for the legend, looked up by label (a mapping, or a sequence for ints).
      perplexity: t-SNE's perplexity, capped at ``(n - 1) / 3`` for small sets.
      seed: t-SNE's seed.
      path: where to write the PNG, if anywhere.
    Returns:
      the figure, with one axes.
    """
    latents, labels = _as_points(latents, labels)
    xy, (xlabel, ylabel), _ = project_latents(latents, method, perplexity=perplexity, seed=seed)
    figure = _figure(5.6, 4.2)
    ax = figure.add_subplot()
    _scatter_by_label(ax, xy, labels, _colours(labels), label_names)
    ax.set(
        xlabel=xlabel,
        ylabel=ylabel,
        title=title or f"posterior means, {'PCA' if method == 'pca' else 't-SNE'}",
    )
    _legend(figure, ax)
    return _finish(figure, path)


def plot_prior_components(
    latents: ArrayLike,
    labels: ArrayLike,
    prior: Prior,
    *,
    num_samples: int = 500,
    seed: int = 0,
    path: PathLike | None = None,
) -> Figure:
    """Posterior means and the prior on the same 2-D PCA axes (fitted on the posterior means).

    For a `priors.MixtureOfGaussiansPrior` each component N(mu_k, diag sigma_k^2) is drawn as its
    mean and the ±2 standard-deviation ellipse of its projection onto the PCA plane,
    N(W mu_k, W diag(sigma_k^2) W^T) with W the two PCA axes ``[2, d]``. That ellipse is exact for
    the component's 2-D shadow, but only a shadow: points inside it need not be near the component
    along the ``d - 2`` directions not shown. Components are numbered (with their mixture weight
    when unconditional); a conditional prior's components take their class's colour. For any other
    prior, ``num_samples`` prior draws are projected instead.

    Args:
      latents: posterior means ``[n, d]``, e.g. from `latents.encode_dataset`.
      labels: classes ``[n]`` colouring them.
      prior: the model's prior (``model.prior``), with ``latent_dim == d``.
      num_samples, seed: prior draws for priors other than a mixture of Gaussians.
      path: where to write the PNG, if anywhere.
    Returns:
      the figure, with one axes.
    """
    latents, labels = _as_points(latents, labels)
    if latents.shape[1] != prior.latent_dim:
        raise ValueError(
            f"latents have {latents.shape[1]} dimensions, the prior {prior.latent_dim}"
        )
    pca = fit_pca(latents)
    figure = _figure(5.6, 4.2)
    ax = figure.add_subplot()
    if isinstance(prior, MixtureOfGaussiansPrior):
        classes = prior.component_classes.numpy()  # [K]: the class of each component
        colours = _colours(np.union1d(labels, classes) if prior.conditional else labels)
        _scatter_by_label(ax, pca.transform(latents), labels, colours)
        weights = tf.nn.softmax(prior.mixture_logits).numpy()  # [K]
        for component, ellipse in enumerate(component_ellipses(pca, prior)):
            colour = colours[classes[component]] if prior.conditional else "black"
            centre = (ellipse["x"], ellipse["y"])
            ax.add_patch(
                Ellipse(
                    centre,
                    width=ellipse["width"],
                    height=ellipse["height"],
                    angle=ellipse["angle"],
                    fill=False,
                    ls="--",
                    lw=1.0,
                    color=colour,
                )
            )
            ax.plot(*centre, marker="x", ms=7, mew=1.5, color=colour)
            note = (
                f"{classes[component]}"
                if prior.conditional
                else f"{component} ({weights[component]:.0%})"
            )
            ax.annotate(note, centre, xytext=(4, 4), textcoords="offset points", fontsize="x-small")
        ax.add_line(
            Line2D([], [], color="black", marker="x", ls="--", label="prior component\nmean, ±2σ")
        )
        title = "posterior means and prior components"
    else:
        samples = prior.sample(num_samples, seed=seed).numpy()  # [num_samples, d]
        sample_xy = pca.transform(samples)  # [num_samples, 2]
        ax.scatter(*sample_xy.T, s=5, color="0.82", lw=0, label="prior samples", zorder=0)
        _scatter_by_label(ax, pca.transform(latents), labels, _colours(labels))
        title = "posterior means and prior samples"
    xlabel, ylabel = axis_labels(pca, "posterior-mean")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.autoscale_view()
    _legend(figure, ax)
    return _finish(figure, path)


# --------------------------------------------------------------------------- training


CURVES: tuple[tuple[str, str], ...] = (
    ("neg_elbo", r"$-$ELBO"),
    ("nll", r"reconstruction, $-\log p(x \mid z)$"),
    ("kl", r"KL$(q(z \mid x) \,\|\, p(z))$"),
)


def _history_columns(history: PathLike | Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    """A dict of lists, or a run folder / its ``history.csv``, as float columns (NA -> NaN)."""
    if isinstance(history, Mapping):
        return {key: np.asarray(values, dtype=np.float64) for key, values in history.items()}
    path = Path(history)
    if path.is_dir():
        path = path / "history.csv"
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows:
        raise ValueError(f"{path}: no epochs recorded")
    return {
        key: np.array([float(row[key]) if row[key] not in ("", "NA") else np.nan for row in rows])
        for key in rows[0]
    }


def plot_training_curves(
    history: PathLike | Mapping[str, Sequence[float]], *, path: PathLike | None = None
) -> Figure:
    """-ELBO, reconstruction NLL and KL per epoch, in nats per example (train, and validation).

    Args:
      history: a run folder or its ``history.csv`` (written by `training.train`), or a dict of
        lists such as ``keras.callbacks.History.history``: keys ``neg_elbo``, ``nll``, ``kl``
        and, when present, ``val_neg_elbo``, ``val_nll``, ``val_kl``, ``epoch`` (0-based).
      path: where to write the PNG, if anywhere.
    Returns:
      the figure, with three axes.
    Raises:
      ValueError: when one of the three curves is missing.
    """
    columns = _history_columns(history)
    missing = [key for key, _ in CURVES if key not in columns]
    if missing:
        raise ValueError(f"the history has no {', '.join(missing)} (it has {sorted(columns)})")
    count = len(columns["neg_elbo"])
    epochs = columns["epoch"] + 1 if "epoch" in columns else np.arange(1, count + 1)
    figure = _figure(9.0, 2.8)
    axes = figure.subplots(1, len(CURVES))
    for ax, (key, name) in zip(axes, CURVES, strict=True):
        ax.plot(epochs, columns[key], marker=".", label="train")
        if f"val_{key}" in columns:
            ax.plot(epochs, columns[f"val_{key}"], marker=".", ls="--", label="validation")
        ax.set(title=name, xlabel="epoch", ylabel="nats per example")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].legend(fontsize="small")
    return _finish(figure, path)


# --------------------------------------------------------------------------- a model's figures


def plot_model(
    model: VAE,
    data: tf.data.Dataset,
    folder: PathLike,
    *,
    history: PathLike | None = None,
    prefix: str = "",
    seed: int = 0,
) -> list[Path]:
    """The standard figures of a trained model on labelled clips, as PNGs in ``folder``.

    ``{prefix}reconstructions.png`` (one clip of each of the first four labels),
    ``{prefix}samples.png`` (ten prior samples), ``{prefix}latents_pca.png`` and
    ``{prefix}latents_tsne.png`` (t-SNE) coloured by label, ``{prefix}latents_by_speaker.png``,
    ``{prefix}prior.png`` and, given a run folder or ``history.csv``, ``{prefix}training.png``.

    Args:
      model: a trained VAE with its spectrogram config.
      data: batches of ``{"spectrogram", "label", "speaker"}`` (`pipeline.spectrogram_dataset`).
      folder: where the PNGs go (created if missing).
      history: a run folder or its ``history.csv``, for the training curves.
      prefix: put before every file name (e.g. ``"mixture_"``).
      seed: of the prior samples and t-SNE.
    Returns:
      the paths written.
    """
    folder = Path(folder)
    config = model.audio_config()
    encoded = encode_dataset(model, data)
    spectrograms = np.concatenate([batch["spectrogram"].numpy() for batch in data])  # [n, f, t, 1]
    _, first = np.unique(encoded["label"], return_index=True)  # first clip of each label
    picks = np.sort(first)[:4] if len(first) >= 4 else np.arange(min(4, len(spectrograms)))
    originals = spectrograms[picks]
    paths = [folder / f"{prefix}{name}.png" for name in _MODEL_FIGURES]
    plot_reconstructions(originals, model.reconstruct(originals).numpy(), config, path=paths[0])
    samples = model.decode(sample_latents(model, 10, seed=seed)).mean().numpy()
    plot_sample_grid(samples, config, path=paths[1])
    means, labels = encoded["mean"], encoded["label"]
    plot_latent_space(means, labels, method="pca", path=paths[2])
    plot_latent_space(means, labels, method="tsne", seed=seed, path=paths[3])
    plot_latent_space(means, encoded["speaker"], title="latents by speaker", path=paths[4])
    plot_prior_components(means, labels, model.prior, seed=seed, path=paths[5])
    if history is not None:
        plot_training_curves(history, path=folder / f"{prefix}training.png")
        paths.append(folder / f"{prefix}training.png")
    return paths


_MODEL_FIGURES = (
    "reconstructions",
    "samples",
    "latents_pca",
    "latents_tsne",
    "latents_by_speaker",
    "prior",
)
