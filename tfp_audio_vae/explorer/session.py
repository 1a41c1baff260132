"""What the explorer page asks of a model, with no web code: clips and their latents, the 2-D map,
and sounds (WAV bytes and a spectrogram PNG) decoded from any latent.

An `Explorer` holds one loaded model, the clips it has encoded (FSDD test clips, then uploads)
and, when one is cached, the judge. Every sound comes from the package's own functions:
`generation.sample_latents`, `generation.interpolate_latents`, `generation.encode_files`,
`waveforms.audible` and `waveforms.to_audio` (Griffin-Lim).
"""

from __future__ import annotations

import base64
import dataclasses
import re
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_audio_vae.data import pipeline
from tfp_audio_vae.data.audio_files import AudioFileError
from tfp_audio_vae.data.pipeline import AudioRecord
from tfp_audio_vae.evaluation import latent_geometry, perceptual, plots
from tfp_audio_vae.evaluation.judge import Judge
from tfp_audio_vae.models.priors import MixtureOfGaussiansPrior
from tfp_audio_vae.models.vae import VAE
from tfp_audio_vae.runs import Run, judge_for
from tfp_audio_vae.synthesis import generation
from tfp_audio_vae.synthesis.waveforms import audible, to_audio, wav_bytes

tfd = tfp.distributions

MAX_UPLOAD_BYTES = 10 * 2**20
"""The largest upload accepted, in bytes (10 MiB: a minute of 44.1 kHz stereo 16-bit WAV)."""
MAX_UPLOADS = 32
"""The most uploads held on the map; beyond it (or `MAX_UPLOADS_HELD_BYTES`) the oldest goes."""
MAX_UPLOADS_HELD_BYTES = 64 * 2**20
"""The most bytes the held uploads' arrays may take (each is a model-length clip: 96 KiB at the
default 8192 samples, so `MAX_UPLOADS` binds first unless clips are long)."""
ACTIVE_KL = 0.01
"""Nats of mean KL above which a latent dimension is active (gets a slider)."""
MAX_SAMPLES = 16
"""The most clips one request may sample or interpolate."""
PRIOR_DRAWS = 4096
"""Prior draws that estimate each dimension's marginal mean and spread (slider ranges, KL)."""


@dataclasses.dataclass(frozen=True)
class Clip:
    """An encoded clip: its model-rate waveform ``[num_samples]``, model-space spectrogram
    ``[freq, time, 1]``, posterior mean and standard deviation of z ``[latent]``, where it came
    from (digit -1 and speaker ``""`` for an upload), and the posterior mean of its local latents
    ``[frames * local_dim]`` (empty for a model without them)."""

    name: str
    wave: np.ndarray
    spectrogram: np.ndarray
    mean: np.ndarray
    stddev: np.ndarray
    label: int = -1
    speaker: str = ""
    local: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.float32))

    def code(self, z: np.ndarray | None = None) -> np.ndarray:
        """The whole code ``[code_dim]`` of z (its own posterior mean unless given) and the
        clip's local latents: the map moves z, the clip keeps its own local detail."""
        return np.concatenate([self.mean if z is None else z, self.local])


class Explorer:
    """A model and its encoded clips, answering the explorer page's questions.

    Args:
      model: a trained `VAE`.
      clips: the clips on the map (e.g. `record_clips`); uploads are added after them.
      judge: the judge, or ``None`` (then ``judge_problem`` says why).
      n_iter: Griffin-Lim iterations for every sound.
      seed: Griffin-Lim's and the samplers' base seed.
    Thread-safe: one model call at a time.
    """

    def __init__(
        self,
        model: VAE,
        clips: Sequence[Clip],
        *,
        judge: Judge | None = None,
        judge_problem: str = "",
        n_iter: int = 32,
        seed: int = 0,
    ) -> None:
        if len(clips) < 2:
            raise ValueError(
                f"the explorer needs at least two clips to draw a map, got {len(clips)}"
            )
        self.model = model
        self.config = model.audio_config()
        self.clips: list[Clip] = list(clips)
        self.num_fixed = len(self.clips)
        self.judge = None if judge is None else judge.hearing(self.config.sample_rate)
        self.judge_problem = judge_problem
        self.n_iter = int(n_iter)
        self.seed = int(seed)
        self._lock = threading.Lock()
        self._held = threading.Lock()  # guards clips, _ids and _next_id (never held while decoding)
        self._ids = list(range(len(self.clips)))  # each clip's index; uploads keep theirs
        self._next_id = len(self.clips)  # the next upload's index (and temporary file's number)
        self._maps: dict[str, tuple[np.ndarray, tuple[str, str], Any]] = {}
        self._uploads = tempfile.TemporaryDirectory(prefix="tfp-audio-vae-uploads-")
        draws = model.prior.sample(PRIOR_DRAWS, seed=(self.seed, 1)).numpy()  # [draws, latent]
        self.prior_mean = draws.mean(axis=0)  # [latent]
        self.prior_std = draws.std(axis=0)  # [latent]

    @classmethod
    def from_run(
        cls,
        run_or_model: str | Path,
        *,
        fsdd_root: str | Path | None = None,
        limit: int | None = None,
        use_judge: bool = True,
        **kwargs: Any,
    ) -> Explorer:
        """Loads a run folder (its ``model.keras``) or a ``.keras`` file, encodes ``limit`` test
        clips (all by default) of the data it was trained on (`runs.Run.data`: its train.json;
        FSDD at ``fsdd_root`` when given), and takes that data's cached judge if there is one;
        the judge is never trained here (``train_if_missing=False``)."""
        run = Run.at(run_or_model)
        model = run.load_model()
        data = run.data(fsdd_root)
        splits = data.splits()
        records = pipeline.evenly_spaced(splits.test, limit)
        judge, problem = None, "the judge is switched off"
        if use_judge:
            try:
                judge = judge_for(data, splits, train_if_missing=False)
            except (FileNotFoundError, ValueError) as error:
                problem = str(error)
        return cls(
            model, record_clips(model, records), judge=judge, judge_problem=problem, **kwargs
        )

    def warm_up(self) -> None:
        """Decodes (and judges) one clip, so TensorFlow traces its functions before the first
        click rather than on it."""
        self.decode(self.clips[0].code()[np.newaxis])

    def close(self) -> None:
        """Deletes the uploads' temporary folder."""
        self._uploads.cleanup()

    # ------------------------------------------------------------------ what the page shows

    def info(self) -> dict[str, Any]:
        """The model's shape and what the page can offer."""
        prior = self.model.prior
        return {
            "latent_dim": self.model.latent_dim,
            "prior": type(prior).__name__,
            "conditional": bool(prior.conditional),
            "sample_rate": self.config.sample_rate,
            "num_samples": self.config.num_samples,
            "judge": self.judge is not None,
            "judge_problem": "" if self.judge is not None else self.judge_problem,
            "clips": [self._describe(i, clip) for i, clip in self._held_clips()],
            "max_upload_bytes": MAX_UPLOAD_BYTES,
            "max_uploads": MAX_UPLOADS,
        }

    def latent_map(self, method: Literal["pca", "tsne"] = "pca") -> dict[str, Any]:
        """Every clip's posterior mean in 2-D, and the prior on the same axes (PCA only).

        Returns:
          ``{"method", "axes": [x label, y label], "points": [{"x", "y", "index", "label",
          "speaker", "name"}], "components": [{"x", "y", "width", "height", "angle", "label"}],
          "prior_samples": [[x, y], ...]}``: a mixture prior's components as ±2σ ellipses (see
          `latent_geometry.component_ellipses`), any other prior as draws; both empty for t-SNE.
        """
        xy, axes, pca = self._projection(method)
        held = self._held_clips()
        uploads = [clip for _, clip in held[self.num_fixed :]]
        points = [
            {**self._describe(i, clip), "x": float(x), "y": float(y)}
            for (i, clip), (x, y) in zip(held, self._place(xy, pca, uploads), strict=True)
        ]
        components: list[dict[str, Any]] = []
        prior_samples: list[list[float]] = []
        prior = self.model.prior
        if pca is not None and isinstance(prior, MixtureOfGaussiansPrior):
            classes = prior.component_classes.numpy()  # [K]
            components = [
                {**ellipse, "label": int(classes[k]) if prior.conditional else -1}
                for k, ellipse in enumerate(latent_geometry.component_ellipses(pca, prior))
            ]
        elif pca is not None:
            draws = prior.sample(200, seed=(self.seed, 2)).numpy()  # [200, latent]
            prior_samples = pca.transform(draws).tolist()
        return {
            "method": method,
            "axes": list(axes),
            "points": points,
            "components": components,
            "prior_samples": prior_samples,
        }

    def clip(self, index: int) -> dict[str, Any]:
        """A clip as heard (``"original"``) and its reconstruction from its posterior mean, with
        the reconstruction's ``"scores"`` against the clip (`_scores`: PESQ-NB and STOI, when the
        ``perceptual`` extra is installed)."""
        return self._heard(int(index), self._clip(index))

    def _heard(self, index: int, clip: Clip) -> dict[str, Any]:
        original = self._sound(clip.wave, clip.spectrogram, judged=False)
        waves, spectrograms = self._decoded(clip.code()[np.newaxis])
        reconstruction = self._sound(waves[0], spectrograms[0])
        return {
            **self._describe(index, clip),
            "original": original,
            "reconstruction": {**reconstruction, "scores": self._scores(clip.wave, waves[0])},
        }

    def _scores(self, original: np.ndarray, rebuilt: np.ndarray) -> dict[str, Any] | None:
        """PESQ-NB and STOI of a reconstruction ``[num_samples]`` against its ``original``
        (`perceptual.perceptual_scores`; ``None`` for a clip a measure cannot score), or
        ``None`` without the ``perceptual`` extra."""
        try:
            perceptual.require()
        except ImportError:
            return None
        scores = perceptual.perceptual_scores(
            original[np.newaxis], rebuilt[np.newaxis], self.config.sample_rate
        )
        return {name: scores[name]["mean"] for name in ("pesq_nb", "stoi")}

    def sample(
        self, n: int, *, temperature: float, digit: int | None = None, seed: int = 0
    ) -> list[dict[str, Any]]:
        """``n`` prior samples at ``temperature``, or, with a conditional prior, of ``digit``."""
        _check_count(n)
        with self._lock:
            z = generation.sample_latents(
                self.model,
                n,
                labels=None if digit is None else [int(digit)] * n,
                method="prior",
                temperature=temperature,
                seed=seed,
            )  # [n, code]
        return self.decode(z)

    def interpolate(self, a: int, b: int, *, steps: int, beyond: float = 0.0) -> list[dict]:
        """Sounds along the line from clip ``a`` to clip ``b`` (past both ends by ``beyond``)."""
        _check_count(steps)
        z = generation.interpolate_latents(
            self._clip(a).code(), self._clip(b).code(), steps, beyond=beyond
        )  # [steps, code]
        return self.decode(z)

    def dimensions(self, index: int) -> list[dict[str, float]]:
        """The active dimensions, most informative first: each one's mean KL over the map's
        fixed clips (nats), a slider range of the prior's mean ±3 standard deviations (widened
        to hold the clip), and clip ``index``'s posterior mean there (where its slider starts).

        The KL of a dimension is that of q(z_i | x) from a Normal with the prior's mean and
        spread along z_i (estimated from `PRIOR_DRAWS` draws): exact for a standard normal prior,
        a moment-matched stand-in for a mixture's or a flow's marginal.
        """
        means = np.stack([c.mean for c in self.clips[: self.num_fixed]])  # [n, latent]
        stddevs = np.stack([c.stddev for c in self.clips[: self.num_fixed]])  # [n, latent]
        marginal = tfd.Normal(self.prior_mean, self.prior_std)  # batch [latent]
        kl = tfd.Normal(means, stddevs).kl_divergence(marginal).numpy().mean(axis=0)  # [latent]
        order = [int(i) for i in np.argsort(-kl) if kl[i] > ACTIVE_KL]
        start = self._clip(index).mean  # [latent]
        low = np.minimum(self.prior_mean - 3 * self.prior_std, start)  # [latent]
        high = np.maximum(self.prior_mean + 3 * self.prior_std, start)  # [latent]
        return [
            {
                "index": i,
                "kl": float(kl[i]),
                "low": float(low[i]),
                "high": float(high[i]),
                "value": float(start[i]),
            }
            for i in order
        ]

    def move(self, index: int, values: Mapping[int, float]) -> dict[str, Any]:
        """The sound of clip ``index``'s posterior mean with the given dimensions set to values."""
        clip = self._clip(index)
        z = clip.mean.copy()  # [latent]
        for dimension, value in values.items():
            if not 0 <= int(dimension) < len(z):
                raise ValueError(f"no latent dimension {dimension}: the model has {len(z)}")
            if not np.isfinite(value):
                raise ValueError(f"dimension {dimension}: {value} is not a finite number")
            z[int(dimension)] = value
        return self.decode(clip.code(z)[np.newaxis])[0]

    def upload(self, filename: str, data: bytes) -> dict[str, Any]:
        """Encodes an uploaded audio file and adds it to the map.

        The bytes go to a new file in the explorer's temporary folder (never a name from the
        upload: only its extension, letters and digits, is kept). Uploads get indices after the
        fixed clips', in order, and keep them; beyond `MAX_UPLOADS` uploads (or
        `MAX_UPLOADS_HELD_BYTES` of their arrays) the oldest is dropped.
        Returns what `clip` returns, with the new clip's ``"index"``, and ``"dropped"``: the
        ``{"index", "name"}`` of each upload this one pushed out.
        Raises:
          ValueError: one line naming ``filename``: too large, empty, or not audio the package
            reads (the problem `AudioFileError` gives).
        """
        name = Path(filename).name or "upload"
        if len(data) > MAX_UPLOAD_BYTES:
            raise ValueError(f"{name}: {len(data)} bytes is over the {MAX_UPLOAD_BYTES}-byte limit")
        if not data:
            raise ValueError(f"{name}: the file is empty")
        suffix = Path(name).suffix.lower()
        suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""
        with self._lock:
            index = self._next_id
            path = Path(self._uploads.name) / f"upload-{index:04d}{suffix}"
            path.write_bytes(data)
            try:
                (clip,) = _encoded(self.model, [path], [name], [-1], [""])
            except AudioFileError as error:
                raise ValueError(f"{name}: {error.problem}") from None
            finally:
                path.unlink()
            dropped = self._hold_upload(index, clip)
        return {**self._heard(index, clip), "dropped": dropped}

    def _hold_upload(self, index: int, clip: Clip) -> list[dict[str, Any]]:
        """Adds an upload under ``index``, then drops the oldest uploads while more than
        `MAX_UPLOADS` (or `MAX_UPLOADS_HELD_BYTES`) are held; returns those dropped."""
        dropped = []
        with self._held:
            self.clips.append(clip)
            self._ids.append(index)
            self._next_id = index + 1
            while len(self.clips) - self.num_fixed > 1 and (
                len(self.clips) - self.num_fixed > MAX_UPLOADS
                or sum(_nbytes(c) for c in self.clips[self.num_fixed :]) > MAX_UPLOADS_HELD_BYTES
            ):
                old = self.clips.pop(self.num_fixed)
                dropped.append({"index": self._ids.pop(self.num_fixed), "name": old.name})
        return dropped

    # ------------------------------------------------------------------ sounds

    def decode(self, z: np.ndarray | tf.Tensor) -> list[dict[str, Any]]:
        """Latents ``[n, latent]`` -> `audible` spectrograms -> Griffin-Lim -> sounds."""
        waves, spectrograms = self._decoded(z)
        return [self._sound(w, s) for w, s in zip(waves, spectrograms, strict=True)]

    def _decoded(self, z: np.ndarray | tf.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Latents ``[n, latent]`` -> waveforms ``[n, num_samples]`` and the `audible`
        spectrograms ``[n, freq, time, 1]`` they were made from."""
        with self._lock:
            spectrograms = audible(self.model, z)  # [n, freq, time, 1]
            waves = to_audio(self.model, spectrograms, n_iter=self.n_iter, seed=self.seed)
        return waves, spectrograms.numpy()

    def _sound(
        self, wave: np.ndarray, spectrogram: np.ndarray, *, judged: bool = True
    ) -> dict[str, Any]:
        """``{"wav", "png"}`` as data URLs, ``"seconds"``, and the judge's ``"verdict"``
        (``{"digit", "confidence"}``, or ``None`` without a judge or when not ``judged``)."""
        verdict = None
        if self.judge is not None and judged:
            with self._lock:
                probabilities = self.judge.predict_proba(wave[np.newaxis])[0]  # [10]
            digit = int(np.argmax(probabilities))
            verdict = {"digit": digit, "confidence": float(probabilities[digit])}
        wav = wav_bytes(wave, self.config.sample_rate)
        png = plots.spectrogram_png(spectrogram, self.config)
        return {
            "wav": "data:audio/wav;base64," + base64.b64encode(wav).decode(),
            "png": "data:image/png;base64," + base64.b64encode(png).decode(),
            "seconds": len(wave) / self.config.sample_rate,
            "verdict": verdict,
        }

    # ------------------------------------------------------------------ helpers

    def _clip(self, index: int) -> Clip:
        """The clip with ``index`` (a fixed clip's position, or the index an upload was given)."""
        with self._held:
            if int(index) in self._ids:
                return self.clips[self._ids.index(int(index))]
            held, next_id = len(self.clips), self._next_id
        if self.num_fixed <= int(index) < next_id:
            raise ValueError(f"no clip {index}: dropped to stay within {MAX_UPLOADS} uploads")
        raise ValueError(f"no clip {index}: there are {held}")

    def _held_clips(self) -> list[tuple[int, Clip]]:
        """Every clip held now, fixed ones first, with its index."""
        with self._held:
            return list(zip(self._ids, self.clips, strict=True))

    def _describe(self, index: int, clip: Clip) -> dict[str, Any]:
        return {"index": index, "name": clip.name, "label": clip.label, "speaker": clip.speaker}

    def _projection(self, method: str) -> tuple[np.ndarray, tuple[str, str], Any]:
        """The fixed clips' 2-D points, axis labels and PCA (None for t-SNE), computed once."""
        if method not in self._maps:
            means = np.stack([c.mean for c in self.clips[: self.num_fixed]])  # [n, latent]
            self._maps[method] = latent_geometry.project_latents(means, method, seed=self.seed)
        return self._maps[method]

    def _place(self, xy: np.ndarray, pca: Any, uploads: Sequence[Clip]) -> np.ndarray:
        """Every clip's 2-D point ``[clips, 2]``: the fixed clips' ``xy``, then ``uploads`` by the
        PCA, or (t-SNE, which cannot place new points) at their nearest fixed clip's point."""
        if not uploads:
            return xy
        extra = np.stack([c.mean for c in uploads])  # [uploads, latent]
        if pca is not None:
            return np.concatenate([xy, pca.transform(extra)])
        fixed = np.stack([c.mean for c in self.clips[: self.num_fixed]])  # [n, latent]
        nearest = np.argmin(((extra[:, np.newaxis] - fixed) ** 2).sum(axis=-1), axis=1)
        return np.concatenate([xy, xy[nearest]])


def record_clips(model: VAE, records: Sequence[AudioRecord | Path]) -> list[Clip]:
    """A data set's records (or plain paths: unlabelled) -> encoded `Clip`s, named after their
    files (FSDD's ``{digit}_{speaker}_{take}``)."""
    paths = [getattr(r, "path", r) for r in records]
    names = [Path(path).stem for path in paths]
    labels = [getattr(r, "label", -1) for r in records]
    return _encoded(model, paths, names, labels, [getattr(r, "speaker", "") for r in records])


def _encoded(
    model: VAE,
    paths: Sequence[str | Path],
    names: Sequence[str],
    labels: Sequence[int],
    speakers: Sequence[str],
) -> list[Clip]:
    """Audio files -> `Clip`s with the given names and labels."""
    spectrograms, posterior, waves = generation.encode_files(model, paths)
    codes, stddevs = posterior.mean().numpy(), posterior.stddev().numpy()  # [n, code] each
    z = model.latent_dim
    return [
        Clip(
            names[i],
            waves[i],
            spectrograms[i].numpy(),
            codes[i, :z],
            stddevs[i, :z],
            labels[i],
            speakers[i],
            local=codes[i, z:],
        )
        for i in range(len(paths))
    ]


def _nbytes(clip: Clip) -> int:
    return sum(a.nbytes for a in (clip.wave, clip.spectrogram, clip.mean, clip.stddev, clip.local))


def _check_count(n: int) -> None:
    if not 1 <= int(n) <= MAX_SAMPLES:
        raise ValueError(f"between 1 and {MAX_SAMPLES} clips at a time, not {n}")
