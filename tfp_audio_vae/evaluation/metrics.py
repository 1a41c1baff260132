"""Honest numbers for a trained VAE: bounds, latent use, reconstructions and samples as audio.

Every figure about audio goes through the real audio path (decoder mean -> de-normalise ->
Griffin-Lim -> waveform) and is judged by the judge (`tfp_audio_vae.evaluation.judge`: a classifier
trained on the run's own labelled clips), which hears waveforms. Print `real_audio_ceiling` beside
every model figure: it is what real clips score.

- Likelihood: ``-ELBO``, its two terms and the IWAE bound, in nats per clip (of the normalised
  spectrogram, see `tfp_audio_vae.models.vae`), and in bits per dimension.
- Latent use: active units (Burda et al. 2016), mixture-component assignment.
- Reconstruction: spectral convergence and log-spectral distance of re-synthesised waveforms
  against the original clips' STFT, and what the judge hears in them; optionally PESQ and STOI
  (`tfp_audio_vae.evaluation.perceptual`), beside what Griffin-Lim from the true magnitudes
  scores (`perceptual_ceiling`).
- Generation: Inception Score, Fréchet distance in the judge's feature space, the classes the
  judge hears, and the accuracy of class-conditional samples.

`evaluate` runs all of them on the test clips and returns one JSON-ready dict.

Datasets here are batched ``tf.data.Dataset`` objects of dicts: ``{"spectrogram": [b, freq,
time, 1], "label": [b]}`` as `pipeline.spectrogram_dataset` or `spectrogram_batches` make them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from tfp_audio_vae import defaults
from tfp_audio_vae.data.spectrogram import SpectrogramConfig, waveform_to_spectrogram
from tfp_audio_vae.data.stft import fit_length, stft_magnitude
from tfp_audio_vae.deprecation import renamed_keywords
from tfp_audio_vae.evaluation.judge import Judge
from tfp_audio_vae.evaluation.perceptual import perceptual_scores, require
from tfp_audio_vae.evaluation.scores import (
    frechet_distance,
    inception_score,
    level_difference_db,
    log_spectral_distance,
    spectral_convergence,
)
from tfp_audio_vae.models.latents import ClassMeans, encode_dataset, refine_latents
from tfp_audio_vae.models.priors import MixtureOfGaussiansPrior
from tfp_audio_vae.models.vae import VAE, iwae_bound
from tfp_audio_vae.progress import Say, step
from tfp_audio_vae.synthesis.generation import generate
from tfp_audio_vae.synthesis.griffin_lim import griffin_lim
from tfp_audio_vae.synthesis.waveforms import (
    AudioStatistic,
    audible,
    spectrogram_to_waveform,
)

# --------------------------------------------------------------------------- data


@renamed_keywords(digits="labels")
def spectrogram_batches(
    waves: np.ndarray,
    labels: np.ndarray,
    config: SpectrogramConfig,
    batch_size: int = 64,
) -> tf.data.Dataset:
    """Waveforms -> batches of ``{"waveform", "spectrogram", "label"}``, both views of one clip.

    Args:
      waves: float ``[n, samples]``; trimmed or zero-padded to ``config.num_samples``.
      labels: int ``[n]``, the class of each clip (-1 where unknown).
      config: the model's config, normalisation included.
      batch_size: clips per batch.
    Returns:
      batches of ``waveform`` ``[b, num_samples]``, ``spectrogram`` ``[b, freq, time, 1]``
      (normalised log-magnitude, the model input) and ``label`` ``[b]``.
    """
    waves = fit_length(waves, config.num_samples).numpy()  # [n, num_samples]
    labels = np.asarray(labels, np.int32)  # [n]
    if len(labels) != len(waves):
        raise ValueError(f"{len(waves)} waveforms but {len(labels)} labels")

    def with_spectrogram(batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        x = waveform_to_spectrogram(batch["waveform"], config)  # [b, freq, time, 1]
        return {**batch, "spectrogram": x}

    return (
        tf.data.Dataset.from_tensor_slices({"waveform": waves, "label": labels})
        .batch(batch_size)
        .map(with_spectrogram)
    )


def active_units(model: VAE, dataset: tf.data.Dataset, threshold: float = 0.01) -> int:
    """Number of latent dimensions ``i`` with ``Cov_x(E_q[z_i | x]) > threshold`` (Burda et al.).

    A unit whose posterior mean barely moves over the data carries no information about it.
    """
    variances = encode_dataset(model, dataset)["mean"].var(axis=0)  # [latent]
    return int(np.sum(variances > threshold))


def likelihood(
    model: VAE, dataset: tf.data.Dataset, k: int = defaults.IWAE_K, *, seed: int = 0
) -> dict[str, float]:
    """Mean bounds on the log-likelihood of ``dataset``'s spectrograms.

    The bounds are on the marginal log p(x), with the prior p(z) itself (for a conditional
    mixture, the mixture over all classes), so they compare across priors. A conditional prior
    also gets ``neg_iwae_given_class``, the bound on -log p(x | class) with p(z | class), from the
    same decoded draws (`VAE.importance_weights`). Batch ``i`` draws z from the stateless seeds
    ``(seed, 2i)`` (the ELBO) and ``(seed, 2i + 1)`` (the IWAE bounds), so the same seed gives the
    same figures.

    Returns:
      ``neg_elbo``, ``nll`` and ``kl`` (nats per clip; one posterior draw per clip for ``nll``),
      ``neg_iwae`` (minus the IWAE bound with ``k`` draws, nats per clip: it is at most
      ``neg_elbo`` and the better estimate of ``-log p(x)``), ``bits_per_dim_elbo`` and
      ``bits_per_dim_iwae``, ``k`` and ``examples``. Densities are those of the normalised
      spectrogram the model sees.
    """
    conditional = model.prior.conditional
    totals = {"neg_elbo": 0.0, "nll": 0.0, "kl": 0.0, "neg_iwae": 0.0}
    if conditional:
        totals["neg_iwae_given_class"] = 0.0
    count, dims = 0, 0
    for i, (x, labels) in enumerate(_model_inputs(dataset)):
        terms = model.elbo_terms(x, seed=(seed, 2 * i))  # each [b]; no labels: the marginal prior
        for name in ("neg_elbo", "nll", "kl"):
            totals[name] += float(tf.reduce_sum(terms[name]))
        z, log_w = model.importance_weights(
            x, k=k, seed=(seed, 2 * i + 1)
        )  # [k, b, latent], [k, b]
        marginal = iwae_bound(log_w + model.prior.log_prob(z))  # [b]
        totals["neg_iwae"] -= float(tf.reduce_sum(marginal))
        if conditional:
            given = iwae_bound(log_w + model.prior.log_prob(z, labels))  # [b]
            totals["neg_iwae_given_class"] -= float(tf.reduce_sum(given))
        count += int(x.shape[0])
        dims = int(np.prod(x.shape[1:]))  # freq * time * 1
    if count == 0:
        raise ValueError("the dataset is empty")
    means = {name: total / count for name, total in totals.items()}
    to_bits = 1.0 / (dims * math.log(2.0))
    return {
        **means,
        "bits_per_dim_elbo": means["neg_elbo"] * to_bits,
        "bits_per_dim_iwae": means["neg_iwae"] * to_bits,
        "k": int(k),
        "examples": count,
    }


# --------------------------------------------------------------------------- audio


def reconstruction_metrics(
    model: VAE,
    data: tf.data.Dataset | tuple[np.ndarray, np.ndarray],
    config: SpectrogramConfig | None = None,
    judge: Judge | None = None,
    n_iter: int = defaults.GRIFFIN_LIM_ITERATIONS,
    *,
    statistic: AudioStatistic = defaults.AUDIO_STATISTIC,
    batch_size: int = 64,
    seed: int = 0,
    refine_steps: int = defaults.REFINE_STEPS,
    refine_learning_rate: float = defaults.REFINE_LEARNING_RATE,
    perceptual: bool = False,
) -> dict[str, Any]:
    """How close re-synthesised reconstructions sound to the original clips.

    Each clip goes waveform -> normalised log-STFT -> p(x | z) at the posterior mean (refined
    by ``refine_steps``) ->
    `waveforms.audible_spectrogram` (the statistic a user hears) -> Griffin-Lim (``n_iter``
    iterations) -> waveform; the STFT magnitude of that waveform is compared with the STFT
    magnitude of the ORIGINAL waveform.

    Args:
      model: a trained VAE.
      data: ``(waves [n, samples], labels [n])`` as `pipeline.load_waveforms` returns, or a
        dataset with ``"waveform"`` and ``"label"`` (`pipeline.waveform_dataset`, batched or not;
        `spectrogram_batches`).
      config: the representation; ``None`` uses ``model.spectrogram_config``.
      judge: when given, also the fraction of reconstructions heard as the right class (over
        the clips with a known class).
      n_iter: Griffin-Lim iterations.
      statistic: of p(x | z), turned into audio (`waveforms.audible_spectrogram`).
      batch_size: clips per batch (for unbatched datasets and arrays).
      seed: of Griffin-Lim's initial phase.
      refine_steps, refine_learning_rate: `latents.refine_latents`' steps from the posterior
        mean (0: the mean) and their size.
      perceptual: also score the reconstructions against the original clips with PESQ and STOI
        (needs the ``perceptual`` extra).
    Returns:
      ``spectral_convergence`` (``||S - S_hat||_F / ||S||_F``, 0 is perfect),
      ``log_spectral_distance_db`` (dB, with magnitudes floored at ``config.log_floor``: below
      it the representation holds nothing, so the silent padding does not dominate), each the
      mean over clips; ``level_db`` (`scores.level_difference_db` of the reconstructions
      against the originals: 0 dB is as loud); ``judge_accuracy`` (with a judge and labelled
      clips), ``examples`` and ``refine_steps``; with ``perceptual``, ``pesq_nb``, ``stoi``
      and, from 16 kHz up, ``pesq_wb`` (`perceptual.perceptual_scores`).
    """
    config = config or model.audio_config()
    convergence, distance, heard, originals, classes = [], [], [], [], []
    for i, (waves, labels) in enumerate(_waveform_batches(data, config.num_samples, batch_size)):
        x = waveform_to_spectrogram(waves, config)  # [b, freq, time, 1]
        rebuilt = spectrogram_to_waveform(
            audible(
                model,
                refine_latents(model, x, refine_steps, learning_rate=refine_learning_rate),
                statistic,
            ),
            config,
            n_iter=n_iter,
            seed=seed + i,
        )  # [b, num_samples]
        reference = stft_magnitude(waves, config.n_fft, config.hop_length)  # [b, frames, bins]
        estimate = stft_magnitude(rebuilt, config.n_fft, config.hop_length)
        convergence.append(spectral_convergence(reference, estimate).numpy())  # [b]
        distance.append(log_spectral_distance(reference, estimate, floor=config.log_floor).numpy())
        heard.append(rebuilt.numpy())
        originals.append(np.asarray(waves))
        classes.append(labels)
    metrics = {
        "spectral_convergence": float(np.mean(np.concatenate(convergence))),
        "log_spectral_distance_db": float(np.mean(np.concatenate(distance))),
        "level_db": level_difference_db(np.concatenate(heard), np.concatenate(originals)),
        "examples": int(sum(len(c) for c in classes)),
        "refine_steps": refine_steps,
    }
    labelled = np.concatenate(classes) >= 0  # [n]
    if judge is not None and labelled.any():
        metrics["judge_accuracy"] = judge.hearing(config.sample_rate).accuracy(
            np.concatenate(heard)[labelled], np.concatenate(classes)[labelled]
        )
    if perceptual:
        metrics |= perceptual_scores(
            np.concatenate(originals), np.concatenate(heard), config.sample_rate
        )
    return metrics


def perceptual_ceiling(
    waves: np.ndarray,
    config: SpectrogramConfig,
    n_iter: int = defaults.GRIFFIN_LIM_ITERATIONS,
    *,
    batch_size: int = 64,
    seed: int = 0,
) -> dict[str, Any]:
    """PESQ and STOI of real clips through Griffin-Lim from their TRUE STFT magnitudes.

    What a model whose spectrograms were perfect would score through the same phase
    reconstruction: the ceiling of `reconstruction_metrics`' perceptual scores.

    Args:
      waves: float ``[n, samples]`` at ``config.sample_rate``; trimmed or zero-padded to
        ``config.num_samples``.
      config: the STFT (``n_fft``, ``hop_length``) and clip length.
      n_iter: Griffin-Lim iterations (`griffin_lim.griffin_lim`'s other settings are its
        defaults).
      batch_size, seed: clips per Griffin-Lim call; batch ``i`` takes seed ``seed + i``.
    Returns:
      `perceptual.perceptual_scores` of the resynthesised clips against the originals, with
      ``n_iter``.
    """
    originals = fit_length(waves, config.num_samples).numpy()  # [n, num_samples]
    rebuilt = [
        griffin_lim(
            stft_magnitude(originals[start : start + batch_size], config.n_fft, config.hop_length),
            n_fft=config.n_fft,
            hop_length=config.hop_length,
            n_iter=n_iter,
            length=config.num_samples,
            seed=seed + i,
        ).numpy()  # [b, num_samples]
        for i, start in enumerate(range(0, len(originals), batch_size))
    ]
    scores = perceptual_scores(originals, np.concatenate(rebuilt), config.sample_rate)
    return {**scores, "n_iter": n_iter}


def _judged(
    judge: Judge, waves: np.ndarray, real_waves: np.ndarray, real_features: np.ndarray
) -> dict[str, Any]:
    """What the judge makes of clips: IS, Fréchet distance to real features, class histogram;
    and their level against the real clips (dB)."""
    probs = judge.predict_proba(waves)  # [n, classes]
    heard = np.bincount(np.argmax(probs, axis=1), minlength=judge.num_classes)  # [classes]
    return {
        "inception_score": inception_score(probs),
        "frechet_distance": frechet_distance(judge.features(waves), real_features),
        "class_histogram": (heard / len(waves)).tolist(),
        "level_db": level_difference_db(waves, real_waves),
    }


def generation_metrics(
    model: VAE,
    judge: Judge,
    real_test_waves: np.ndarray,
    n: int = defaults.GENERATED_CLIPS,
    seed: int = 0,
    *,
    class_means: ClassMeans | None = None,
    noise: float = 1.0,
    temperature: float = defaults.TEMPERATURE,
    local_temperature: float | None = None,
    statistic: AudioStatistic = defaults.AUDIO_STATISTIC,
    n_iter: int = defaults.GRIFFIN_LIM_ITERATIONS,
) -> dict[str, Any]:
    """How ``n`` generated clips sound to the judge, against the real test clips.

    Clips are generated as `generation.generate` makes them for a user, at ``temperature``
    (`defaults.TEMPERATURE` unless given), which the result records.

    - ``unconditional``: prior samples (`generation.generate`): ``inception_score`` (real test
      clips score about 9), ``frechet_distance`` of judge features to the real test clips
      (squared feature units; real clips score well under 1) and ``class_histogram`` (fraction
      of samples heard as each class).
    - ``conditional``: ``n`` clips, the judge's classes equally, from the conditional prior when the
      model's prior has ``conditional=True`` (``route: "prior"``), else from ``class_means``
      (``route: "class-mean"``, with ``noise``); ``accuracy`` (the
      judge hears the asked class), ``per_class_accuracy`` and the unconditional scores. ``None``
      when neither route is available.
    """
    judge = judge.hearing(model.audio_config().sample_rate)
    real_features = judge.features(real_test_waves)  # [m, d]
    audio = {"temperature": temperature, "statistic": statistic, "n_iter": n_iter}
    if local_temperature is not None:  # a model with local latents: u's, when not z's
        audio["local_temperature"] = local_temperature
    prior_samples = generate(model, n, seed=seed, **audio)
    unconditional = _judged(judge, prior_samples, real_test_waves, real_features)
    labels = np.arange(n) % judge.num_classes  # [n]
    if model.prior.conditional:
        route = "prior"
    elif class_means is not None:
        route = "class-mean"
    else:
        return {
            "samples": n,
            "temperature": temperature,
            "unconditional": unconditional,
            "conditional": None,
        }
    waves = generate(
        model,
        n,
        labels=labels.tolist(),
        method=route,
        class_means=class_means,
        noise=noise,
        seed=seed + 1,
        **audio,
    )
    correct = judge.predict(waves) == labels  # [n]
    conditional = {
        "route": route,
        "accuracy": float(correct.mean()),
        "per_class_accuracy": [
            float(correct[labels == c].mean()) for c in range(judge.num_classes)
        ],
        **_judged(judge, waves, real_test_waves, real_features),
    }
    return {
        "samples": n,
        "temperature": temperature,
        "unconditional": unconditional,
        "conditional": conditional,
    }


@renamed_keywords(digits="labels")
def real_audio_ceiling(
    judge: Judge,
    real_test_waves: np.ndarray,
    labels: np.ndarray,
    train_waves: np.ndarray | None = None,
) -> dict[str, Any]:
    """The judge's figures for real clips: what a perfect generator would score.

    Returns:
      ``accuracy`` on the test clips (``labels`` ``[n]``), their ``inception_score`` and
      ``class_histogram``, and a
      ``frechet_distance`` between real sets: train vs test clips when ``train_waves`` is given,
      else the even vs odd test clips (``frechet_between`` says which; halves are smaller sets,
      so their distance is biased upwards).
    """
    probs = judge.predict_proba(real_test_waves)  # [n, classes]
    features = judge.features(real_test_waves)  # [n, d]
    if train_waves is not None:
        between, distance = "train vs test", frechet_distance(judge.features(train_waves), features)
    else:
        between, distance = "test halves", frechet_distance(features[0::2], features[1::2])
    heard = np.argmax(probs, axis=1)  # [n]
    return {
        "accuracy": float(np.mean(heard == np.asarray(labels))),
        "inception_score": inception_score(probs),
        "frechet_distance": distance,
        "frechet_between": between,
        "class_histogram": (np.bincount(heard, minlength=judge.num_classes) / len(heard)).tolist(),
    }


def mixture_assignment(model: VAE, dataset: tf.data.Dataset) -> dict[str, Any]:
    """Which mixture component each clip's posterior mean belongs to, against its class.

    The component is the argmax of the responsibilities ``pi_k N(z | mu_k, s_k)`` at the
    posterior mean ``z``. Each component is then named after its majority class.

    Returns:
      ``assignment`` (component per clip), ``confusion`` (``[components][classes]`` clip counts;
      the classes are the model's ``class_names``, a conditional prior's classes, or the labels
      seen, whichever are most), ``component_class`` (majority class per component, -1 if it got
      no clip), ``accuracy`` (clustering accuracy: fraction of clips whose component's majority
      class is their own), ``components_used``; for a conditional prior also ``label_accuracy``
      (the component's class is the clip's).
    Raises:
      TypeError: if the model's prior is not a `MixtureOfGaussiansPrior`.
    """
    prior = model.prior
    if not isinstance(prior, MixtureOfGaussiansPrior):
        raise TypeError(f"mixture_assignment needs a mixture prior, got {type(prior).__name__}")
    encoded = encode_dataset(model, dataset)
    z, labels = encoded["mean"], encoded["label"]  # [n, latent], [n]
    log_resp = prior.components().log_prob(z[:, np.newaxis, :])  # [n, K]
    log_resp += prior.mixture_logits  # [n, K]
    assignment = np.argmax(log_resp.numpy(), axis=1)  # [n]
    labelled = labels >= 0
    classes = max(
        len(model.class_names or ()),
        prior.num_classes if prior.conditional else 0,
        int(labels.max()) + 1,
    )
    confusion = np.zeros((prior.num_components, classes), np.int64)  # [K, classes]
    np.add.at(confusion, (assignment[labelled], labels[labelled]), 1)
    component_class = np.where(confusion.sum(axis=1) > 0, confusion.argmax(axis=1), -1)  # [K]
    result = {
        "assignment": assignment.tolist(),
        "confusion": confusion.tolist(),
        "component_class": component_class.tolist(),
        "accuracy": float(confusion.max(axis=1).sum() / max(labelled.sum(), 1)),
        "components_used": int(np.sum(confusion.sum(axis=1) > 0)),
    }
    if prior.conditional:
        assigned = prior.component_classes.numpy()[assignment]  # [n]
        result["label_accuracy"] = float(np.mean(assigned[labelled] == labels[labelled]))
    return result


@renamed_keywords(test_digits="test_labels")
def evaluate(
    model: VAE,
    test_waves: np.ndarray,
    test_labels: np.ndarray,
    judge: Judge,
    *,
    class_means: ClassMeans | None = None,
    k: int = defaults.IWAE_K,
    n_samples: int = defaults.GENERATED_CLIPS,
    seed: int = 0,
    temperature: float = defaults.TEMPERATURE,
    statistic: AudioStatistic = defaults.AUDIO_STATISTIC,
    n_iter: int = defaults.GRIFFIN_LIM_ITERATIONS,
    batch_size: int = 64,
    say: Say | None = None,
    perceptual: bool = False,
) -> dict[str, Any]:
    """Every figure of this module for one model on the test clips, as a JSON-ready dict.

    Every random draw takes its seed from ``seed`` (z draws, prior samples, Griffin-Lim's
    phases), so a run repeats on one machine; no global generator is seeded or advanced.

    Args:
      model: a trained VAE (with its ``spectrogram_config``).
      test_waves, test_labels: ``[n, samples]`` and ``[n]``, e.g. from `pipeline.load_waveforms`
        (``test_digits=`` is a deprecated alias of ``test_labels=`` until 0.3).
      judge: the judge of the data set (`judge.get_judge`).
      class_means: `class_mean_latents` of the TRAIN clips, for conditional samples from a
        model without a conditional prior.
      k: importance samples of the IWAE bound.
      n_samples: generated clips per figure.
      seed, n_iter, batch_size: seed of every draw, Griffin-Lim iterations, clips per batch.
      temperature: of the generated clips (see `generation_metrics`).
      statistic: of p(x | z), turned into audio (`waveforms.audible_spectrogram`).
      say: where each stage says that it starts and how long it took (`progress.step`);
        ``None``: silent.
      perceptual: also PESQ and STOI of the reconstructions (``reconstruction.pesq_nb``,
        ``reconstruction.stoi``) and their ``perceptual_ceiling``; needs the ``perceptual``
        extra, checked before anything runs.
    Returns:
      ``{"likelihood", "active_units", "latent_dim", "reconstruction", "generation",
      "real_audio", "mixture", "perceptual_ceiling", "seconds"}`` (``mixture`` only for mixture
      priors, without the per-clip assignment; ``perceptual_ceiling`` only with ``perceptual``);
      see the functions of the same names. ``seconds``: the wall time of each stage
      (``likelihood``, ``reconstruction``, ``perceptual_ceiling``, ``generation``, ``rest``).
    Raises:
      ImportError: with ``perceptual`` but without the ``perceptual`` extra.
    """
    if perceptual:
        require()
    config = model.audio_config()
    judge = judge.hearing(config.sample_rate)
    test = spectrogram_batches(test_waves, test_labels, config, batch_size)
    n = len(test_waves)
    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    with step(say, f"likelihood bounds of {n} test clips (-ELBO, IWAE k={k}), active units") as t:
        results["likelihood"] = likelihood(model, test, k=k, seed=seed)
        results["active_units"] = active_units(model, test)
        results["latent_dim"] = model.latent_dim
    seconds["likelihood"] = t.seconds
    scored = ", judged, PESQ and STOI" if perceptual else ", judged"
    with step(say, f"{n} reconstructions through Griffin-Lim{scored}") as t:
        results["reconstruction"] = reconstruction_metrics(
            model,
            test,
            config,
            judge,
            n_iter,
            statistic=statistic,
            batch_size=batch_size,
            seed=seed,
            perceptual=perceptual,
        )
    seconds["reconstruction"] = t.seconds
    if perceptual:
        with step(
            say, f"PESQ and STOI of {n} test clips through Griffin-Lim from true magnitudes"
        ) as t:
            results["perceptual_ceiling"] = perceptual_ceiling(
                test_waves, config, n_iter, batch_size=batch_size, seed=seed
            )
        seconds["perceptual_ceiling"] = t.seconds
    with step(say, f"{n_samples} generated clips per figure, judged") as t:
        results["generation"] = generation_metrics(
            model,
            judge,
            test_waves,
            n_samples,
            seed,
            class_means=class_means,
            temperature=temperature,
            statistic=statistic,
            n_iter=n_iter,
        )
    seconds["generation"] = t.seconds
    with step(None, "the real clips' figures, the mixture's assignment") as t:
        results["real_audio"] = real_audio_ceiling(judge, test_waves, test_labels)
        if isinstance(model.prior, MixtureOfGaussiansPrior):
            mixture = mixture_assignment(model, test)
            del mixture["assignment"]
            results["mixture"] = mixture
    results["seconds"] = {**seconds, "rest": t.seconds}
    return results


# --------------------------------------------------------------------------- helpers


def _model_inputs(dataset: tf.data.Dataset) -> Iterator[tuple[tf.Tensor, tf.Tensor | None]]:
    """Batches of ``{"spectrogram", "label"?}`` -> (x ``[b, freq, time, 1]``, int32 ``[b]`` or None)."""
    for batch in dataset:
        labels = batch.get("label")
        yield batch["spectrogram"], None if labels is None else tf.cast(labels, tf.int32)


def _waveform_batches(
    data: tf.data.Dataset | tuple[np.ndarray, np.ndarray], num_samples: int, batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Arrays or a waveform dataset -> (waves ``[b, num_samples]``, labels ``[b]``) batches."""
    if isinstance(data, tf.data.Dataset):
        if data.element_spec["waveform"].shape.rank == 1:
            data = data.batch(batch_size)
        for batch in data:
            yield fit_length(batch["waveform"], num_samples).numpy(), batch["label"].numpy()
        return
    waves, labels = data
    waves, labels = fit_length(waves, num_samples).numpy(), np.asarray(labels)
    for start in range(0, len(waves), batch_size):
        yield waves[start : start + batch_size], labels[start : start + batch_size]
