"""Where the main job's time goes (issue 30), part by part, beside the least each part can cost.

    python -m benchmarks.profile_main_job [--epochs 30] [--out benchmarks/results/profile.json]

One process, the default `RunSpec` on FSDD (``--fsdd``), the mixture VAE (the costlier of the
main job's two: the N(0, I) one has no prior refits), as `examples/compare_priors.py` runs it:

- **set-up**: the data (`runs.training_data`: files, normalisation, the cached spectrograms), the
  judge (`runs.judge_for`), the test clips;
- **training**: `training.fit.train` for ``--epochs`` epochs; each epoch's wall time from its start
  to the next one's, split into its steps (start to the end of the last batch) and what follows
  them (the callbacks: held-out bound, checkpoints, history, TensorBoard, the refit of every 5th
  epoch); the end of training (the last refit, the scale and level calibrations, saving); and the
  steps alone, one pass of ``train_step`` on another model (`bench_epoch.steps_alone`);
- **evaluation**: `evaluate`'s stages (its ``seconds``), then each costly piece again, warm
  (traced already): the bounds, the latent refinement of the reconstructions, Griffin-Lim, the
  judge, generation; and the figures (`plots.plot_model`);
- **floors**: the network's multiply-adds (TensorFlow's graph profiler) and this machine's fp32
  matmul rate give what the training steps and the IWAE bound cost at best; 32 pairs of FFTs what
  Griffin-Lim's 32 iterations cost at best.

Writes JSON with the machine record and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tfp_audio_vae.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no start-up log lines

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from benchmarks.bench_epoch import EpochClock, steps_alone  # noqa: E402
from benchmarks.environment import environment  # noqa: E402
from tfp_audio_vae import defaults  # noqa: E402
from tfp_audio_vae.data import pipeline  # noqa: E402
from tfp_audio_vae.data.spectrogram import SpectrogramConfig  # noqa: E402
from tfp_audio_vae.evaluation import plots  # noqa: E402
from tfp_audio_vae.evaluation.metrics import evaluate, likelihood, spectrogram_batches  # noqa: E402
from tfp_audio_vae.models.decoders import Conv1DDecoder  # noqa: E402
from tfp_audio_vae.models.latents import class_mean_latents, refine_latents  # noqa: E402
from tfp_audio_vae.runs import judge_for, training_data  # noqa: E402
from tfp_audio_vae.synthesis import generation, waveforms  # noqa: E402
from tfp_audio_vae.synthesis.griffin_lim import griffin_lim  # noqa: E402
from tfp_audio_vae.training import fit  # noqa: E402
from tfp_audio_vae.training.run_spec import DataSpec, RunSpec  # noqa: E402


class StepClock(EpochClock):
    """`EpochClock`, and when each epoch's last batch ended (before the epoch's callbacks)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps_end: list[float] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if len(self.steps_end) < len(self.starts):
            self.steps_end.append(0.0)
        self.steps_end[-1] = time.perf_counter()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``fn``'s wall seconds and its value."""
    tick = time.perf_counter()
    value = fn()
    return time.perf_counter() - tick, value


def forward_mflop(fn: Callable[[tf.Tensor], tf.Tensor], spec: tf.TensorSpec) -> float:
    """Floating-point operations of one call of ``fn`` on one example, in millions (TensorFlow's
    graph profiler; a multiply-add counts 2)."""
    graph = tf.function(fn).get_concrete_function(spec).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops / 1e6


def probe(rounds: int = 3) -> float:
    """Seconds of a fixed convolution workload (the median of ``rounds``): the default decoder,
    untrained, on 512 latents. Timed at each phase's boundaries, it shows whether the machine ran
    at one speed throughout: on shared machines convolutions have slowed by 2x for minutes while
    the matmul rate of `machine_record` did not move."""
    decoder = Conv1DDecoder(SpectrogramConfig().shape, seed=0)
    z = tf.random.stateless_normal([512, defaults.LATENT_DIM], seed=[0, 4])
    decode = tf.function(lambda z: decoder(z).distribution.loc)
    decode(z)
    return float(np.median([timed(lambda: decode(z).numpy())[0] for _ in range(rounds)]))


def griffin_lim_floor(
    config: SpectrogramConfig, clips: int = 100, rounds: int = 5
) -> dict[str, float]:
    """Milliseconds per clip of Griffin-Lim's iterations and of as many bare FFT pairs (rfft and
    irfft of frames of the same shape), medians of ``rounds`` alternating rounds."""
    frames, bins = config.frames, config.n_fft // 2 + 1
    magnitude = tf.random.stateless_uniform([clips, frames, bins], seed=[0, 1])
    framed = tf.random.stateless_normal([clips, frames, config.n_fft], seed=[0, 2])
    ffts = tf.function(lambda x: tf.signal.irfft(tf.signal.rfft(x)))
    iterations = defaults.GRIFFIN_LIM_ITERATIONS
    parts = {
        "griffin_lim": lambda: griffin_lim(
            magnitude, config.n_fft, config.hop_length, n_iter=iterations
        ).numpy(),
        "fft_pairs": lambda: [ffts(framed).numpy() for _ in range(iterations)],
    }
    seconds: dict[str, list[float]] = {name: [] for name in parts}
    for part in parts.values():  # traces
        part()
    for _ in range(rounds):
        for name, part in parts.items():
            seconds[name].append(timed(part)[0])
    return {f"{name}_ms_per_clip": 1e3 * float(np.median(s)) / clips for name, s in seconds.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fsdd", help="FSDD folder (default: $TFP_AUDIO_VAE_FSDD)")
    parser.add_argument("--epochs", type=int, default=defaults.EPOCHS, help="epochs (>= 3)")
    parser.add_argument("--out", default="benchmarks/results/profile.json")
    args = parser.parse_args(argv)
    if args.epochs < 3:
        parser.error("--epochs must be 3 or more (the first and last epochs are not timed)")
    spec = RunSpec(data=DataSpec("fsdd", args.fsdd))
    record: dict[str, Any] = {"environment_before": environment(tf, tfp, keras, np)}
    probes = {"start": probe()}

    setup: dict[str, float] = {}
    setup["data_s"], data = timed(lambda: training_data(spec))
    splits, config = data.splits, data.config
    setup["judge_s"], judge = timed(lambda: judge_for(spec.data, splits))
    setup["test_clips_s"], (test_waves, test_labels) = timed(
        lambda: pipeline.load_waveforms(splits.test, config)
    )
    record["setup"] = setup

    clock = StepClock()
    model = spec.model.build(data.config, splits.class_names, spec.seed)
    every = fit.refit_period(model, spec.training.fit_prior_every)
    with tempfile.TemporaryDirectory() as run_dir:
        called = time.perf_counter()
        fit.train(
            model, data.train, run_dir, epochs=args.epochs, validation_data=data.validation,
            fit_prior_every=every, seed=spec.seed, callbacks=[clock], verbose=0, spec=spec,
            selection=spec.training.selection,
        )  # fmt: skip
        returned = time.perf_counter()
        starts = np.array(clock.starts[:-1])  # [epochs]; the last entry is the end of fit
        epochs = np.diff(clock.starts)  # [epochs], each to the next one's start
        steps = np.array(clock.steps_end) - starts  # [epochs]
        probes["after_training"] = probe()
        alone = steps_alone(spec, data)
        probes["after_steps_alone"] = probe()
        refits = [e for e in range(1, args.epochs - 1) if (e + 1) % every == 0]
        plain = [e for e in range(1, args.epochs - 1) if e not in refits]  # not first, not last
        record["training"] = {
            "epochs": args.epochs,
            "steps_per_epoch": int(data.train.cardinality()),
            "train_s": returned - called,
            "before_first_epoch_s": float(starts[0] - called),
            "first_epoch_s": float(epochs[0]),
            "epoch_s": float(np.median(epochs[plain])),
            "epoch_steps_s": float(np.median(steps[plain])),
            "epoch_after_steps_s": float(np.median(epochs[plain] - steps[plain])),
            "refit_epoch_after_steps_s": (
                float(np.median(epochs[refits] - steps[refits])) if refits else None
            ),
            # the last epoch's callbacks, the last refit, the calibrations, saving
            "after_last_steps_s": float(returned - clock.steps_end[-1]),
            "steps_alone_s": alone,
        }
        class_means = class_mean_latents(model, data.train, num_classes=len(splits.class_names))
        evaluate_s, results = timed(
            lambda: evaluate(
                model, test_waves, test_labels, judge, class_means=class_means, seed=spec.seed
            )
        )
        probes["after_evaluate"] = probe()
        test = spectrogram_batches(test_waves, test_labels, config, 64)
        x = tf.concat([batch["spectrogram"] for batch in test], axis=0)  # [n, freq, time, 1]
        z = refine_latents(model, x, 0)
        audible = waveforms.audible(model, z)
        rebuilt = waveforms.to_audio(model, audible)
        pieces = {
            "bounds_elbo_iwae": lambda: likelihood(model, test, k=defaults.IWAE_K),
            "refine_latents": lambda: refine_latents(model, x, defaults.REFINE_STEPS),
            "griffin_lim_test_clips": lambda: waveforms.to_audio(model, audible),
            "judge_test_clips": lambda: (judge.predict_proba(rebuilt), judge.features(rebuilt)),
            "generate_clips": lambda: generation.generate(
                model, defaults.GENERATED_CLIPS, seed=spec.seed
            ),
            "figures": lambda: plots.plot_model(model, data.validation, Path(run_dir) / "figures"),
        }
        record["evaluation"] = {
            "evaluate_s": evaluate_s,
            "stages_s": results["seconds"],
            "warm_pieces_s": {name: timed(piece)[0] for name, piece in pieces.items()},
            "test_clips": len(test_waves),
            "iwae_k": defaults.IWAE_K,
            "refine_steps": defaults.REFINE_STEPS,
            "generated_clips": defaults.GENERATED_CLIPS,
        }

    encoder = forward_mflop(lambda x: model.encode(x).mean(), tf.TensorSpec([1, *config.shape]))
    decoder = forward_mflop(
        lambda z: model.decode(z).distribution.loc, tf.TensorSpec([1, model.latent_dim])
    )
    gflops = record["environment_before"]["matmul_gflops_fp32"]
    examples = len(test_waves)
    iwae_gflop = examples * (defaults.IWAE_K * decoder + encoder) / 1e3
    batches = record["training"]["steps_per_epoch"] * defaults.BATCH_SIZE
    train_gflop = 3 * (encoder + decoder) * batches / 1e3  # forward, and backward about twice
    record["floors"] = {
        "encoder_forward_mflop": encoder,
        "decoder_forward_mflop": decoder,
        "train_step_gflop_per_epoch": train_gflop,
        "train_steps_gflops_achieved": train_gflop / alone,
        "train_steps_share_of_matmul_peak": train_gflop / alone / gflops,
        "iwae_gflop": iwae_gflop,
        "iwae_gflops_achieved": iwae_gflop
        / record["evaluation"]["warm_pieces_s"]["bounds_elbo_iwae"],
        **griffin_lim_floor(config),
    }
    probes["end"] = probe()
    record["probe_s"] = probes
    record["environment_after"] = environment(tf, tfp, keras, np)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2, default=float))
    t, e, f = record["training"], record["evaluation"], record["floors"]
    print(
        f"set-up {sum(setup.values()):.1f} s; training {t['train_s']:.0f} s: epoch "
        f"{t['epoch_s']:.2f} s = steps {t['epoch_steps_s']:.2f} s + after {t['epoch_after_steps_s']:.2f} s "
        f"(steps alone {alone:.2f} s, {f['train_steps_share_of_matmul_peak']:.2f} of the matmul peak), "
        f"after the last steps {t['after_last_steps_s']:.1f} s; evaluation {evaluate_s:.0f} s "
        f"{ {k: round(v, 1) for k, v in e['stages_s'].items()} }; Griffin-Lim "
        f"{f['griffin_lim_ms_per_clip']:.2f} ms a clip against {f['fft_pairs_ms_per_clip']:.2f} of FFTs; "
        f"probe {', '.join(f'{k} {v:.2f} s' for k, v in probes.items())}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
