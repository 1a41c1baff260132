"""What each named resolution costs (issue 28), and local latents (issue 27): per training
example and per generated second, as a ratio to the first contender (the first resolution with
the first local size: the default model at 8 kHz unless the options say otherwise), in one run.

    python -m benchmarks.bench_resolutions [--rounds 5] [--out docs/data/resolutions.json]
    python -m benchmarks.bench_resolutions --resolutions 8k --local-dims 0,16,16:autoregressive \
        --out docs/data/local_latents/cost.json

For each resolution of ``--resolutions`` (default: all of `defaults.RESOLUTIONS`) and each
``--local-dims`` (default 0: z alone; ``D:KIND`` names p(u | z)'s kind, `defaults.LOCAL_PRIORS`,
and ``D:KIND:K`` the Gaussians in each frame's mixture),
the default model built for its spectrogram shape (untrained: the cost does not depend on the
weights), on random spectrograms and latents:

- its parameters and its encoder's and decoder's forward multiply-adds (TensorFlow's graph
  profiler);
- **training**: ``train_step`` (a `tf.function`, as Keras runs it) on a fixed batch of
  `defaults.BATCH_SIZE`, milliseconds per example;
- **generation**: 100 latents' local latents drawn (`VAE.complete`, nothing without them), then
  `synthesis.waveforms.decode_waveforms` (the decoder, the audible statistic, Griffin-Lim's 32
  iterations), milliseconds per second of audio.

The resolutions take turns within each of ``--rounds`` rounds (one traced warm-up each first);
medians. Writes JSON with the machine record.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tfp_audio_vae.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no start-up log lines

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from benchmarks.environment import environment  # noqa: E402
from benchmarks.profile_main_job import forward_mflop, timed  # noqa: E402
from tfp_audio_vae import defaults  # noqa: E402
from tfp_audio_vae.synthesis.waveforms import decode_waveforms  # noqa: E402
from tfp_audio_vae.training import fit  # noqa: E402
from tfp_audio_vae.training.run_spec import ModelSpec, ResolutionSpec  # noqa: E402

CLIPS = 100


def contender(
    name: str,
    local_dim: int = 0,
    local_prior: str = defaults.LOCAL_PRIOR,
    local_components: int = defaults.LOCAL_COMPONENTS,
) -> dict:
    """The default model at resolution ``name`` (with ``local_dim`` local latents and a
    ``local_prior`` p(u | z) of ``local_components``), its training step and its generation."""
    resolution = ResolutionSpec.preset(name)
    config = resolution.config()
    bins = config.freq_bins
    config = type(config)(**{**config.to_dict(), "mean": (0.0,) * bins, "std": (1.0,) * bins})
    spec = ModelSpec(
        prior="standard",
        local_dim=local_dim,
        local_prior=local_prior,
        local_components=local_components,
    )
    model = spec.build(config, None, seed=0)
    model.compile(optimizer=fit.optimizer(model, 1e-4, defaults.CLIPNORM, 0.0))
    batch = {
        "spectrogram": tf.random.stateless_normal([defaults.BATCH_SIZE, *config.shape], seed=[0, 1])
    }
    step = tf.function(model.train_step)
    z = tf.random.stateless_normal([CLIPS, model.latent_dim], seed=[0, 2])
    return {
        "resolution": resolution,
        "local_dim": local_dim,
        "local_prior": local_prior,
        "local_components": local_components,
        "shape": config.shape,
        "parameters": model.count_params(),
        "encoder_mflop": forward_mflop(
            lambda x: model.encode(x).mean(), tf.TensorSpec([1, *config.shape])
        ),
        "decoder_mflop": forward_mflop(
            lambda z: model.decode(z).distribution.loc, tf.TensorSpec([1, model.code_dim])
        ),
        "train": lambda: float(step(batch)["loss"]),
        "generate": lambda: decode_waveforms(model, model.complete(z, seed=3)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--resolutions", default=",".join(defaults.RESOLUTIONS))
    parser.add_argument(
        "--local-dims",
        default="0",
        help="local latents per frame, each D, D:KIND or D:KIND:K of p(u | z), "
        "e.g. 0,16,16:autoregressive:4",
    )
    parser.add_argument("--out", default="benchmarks/results/resolutions.json")
    args = parser.parse_args(argv)
    before = environment(tf, tfp, keras, np)
    items = args.local_dims.split(",")
    locals_ = [
        (item.split(":") + [defaults.LOCAL_PRIOR, "1"][item.count(":") :])[:3] for item in items
    ]
    contenders = {
        name + (f"+local{item}" if int(dim) else ""): contender(name, int(dim), kind, int(k))
        for name in args.resolutions.split(",")
        for item, (dim, kind, k) in zip(items, locals_, strict=True)
    }
    seconds: dict[str, dict[str, list[float]]] = {
        name: {"train": [], "generate": []} for name in contenders
    }
    for c in contenders.values():  # traces
        c["train"](), c["generate"]()
    for _ in range(args.rounds):
        for name, c in contenders.items():
            for part in ("train", "generate"):
                seconds[name][part].append(timed(c[part])[0])
    results = {}
    for name, c in contenders.items():
        resolution = c["resolution"]
        train_ms = 1e3 * float(np.median(seconds[name]["train"])) / defaults.BATCH_SIZE
        generate_ms = (
            1e3 * float(np.median(seconds[name]["generate"])) / (CLIPS * resolution.seconds)
        )
        results[name] = {
            "resolution": {**vars(resolution)},
            "local_dim": c["local_dim"],
            "local_prior": c["local_prior"],
            "local_components": c["local_components"],
            "shape": list(c["shape"]),
            "parameters": c["parameters"],
            "encoder_forward_mflop": c["encoder_mflop"],
            "decoder_forward_mflop": c["decoder_mflop"],
            "train_ms_per_example": train_ms,
            "generate_ms_per_audio_second": generate_ms,
            "seconds": seconds[name],
        }
    base = results[next(iter(results))]  # the first contender
    for figures in results.values():
        for key in ("train_ms_per_example", "generate_ms_per_audio_second"):
            figures[f"{key}_ratio"] = figures[key] / base[key]
    record = {
        "results": results,
        "environment_before": before,
        "environment_after": environment(tf, tfp, keras, np),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2, default=float))
    for name, f in results.items():
        print(
            f"{name}: {f['shape'][0]} x {f['shape'][1]}, {f['parameters'] / 1e6:.1f} M parameters, "
            f"{f['encoder_forward_mflop'] + f['decoder_forward_mflop']:.0f} MFLOP forward; "
            f"training {f['train_ms_per_example']:.2f} ms an example "
            f"({f['train_ms_per_example_ratio']:.2f}x), generation "
            f"{f['generate_ms_per_audio_second']:.2f} ms a second of audio "
            f"({f['generate_ms_per_audio_second_ratio']:.2f}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
