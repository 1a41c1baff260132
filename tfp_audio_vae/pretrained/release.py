"""Makes the shipped ``pretrained:fsdd`` folder: trains the default run, evaluates it, stores it.

    TFP_AUDIO_VAE_FSDD=../shared/fsdd python -m tfp_audio_vae.pretrained.release \\
        --run-dir runs/release-fsdd

1. trains the default `RunSpec` on FSDD (seed 0) into ``--run-dir`` through `runs.Run.train`
   (resumable; a run folder that already holds this spec, e.g. the mixture of
   ``examples/compare_priors.py``, finishes at once), with FSDD's judge (`runs.judge_for`);
2. writes the model and the judge with their weights in float16 and no optimizer state
   (`half_precision`), the run's ``train.json``, ``sha256.json`` and ``MODEL_CARD.md``
   into ``tfp_audio_vae/pretrained/fsdd/``;
3. evaluates the float32 model with the float32 judge and the shipped pair, and writes both rows
   and their difference to the model card and to ``docs/data/pretrained.json``.

Run it again only when a default changes (the repository keeps one copy, under ~12 MB).
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any

from tfp_audio_vae.quiet import quiet_tensorflow

HERE = Path(__file__).resolve().parent
NAME = "fsdd"
WEIGHTS = "model.weights.h5"
ROW = [  # the results table's columns (`evaluation.tables.Column`)
    ("test −ELBO (nats)", "likelihood.neg_elbo", "{:.0f}"),
    ("test −IWAE (nats)", "likelihood.neg_iwae", "{:.0f}"),
    ("recon. judged", "reconstruction.judge_accuracy", "{:.1%}"),
    ("recon. level (dB)", "reconstruction.level_db", "{:+.1f}"),
    ("IS (prior samples)", "generation.unconditional.inception_score", "{:.2f}"),
    ("FD to test", "generation.unconditional.frechet_distance", "{:.2f}"),
    ("digit samples judged", "generation.conditional.accuracy", "{:.1%}"),
]


def half_precision(source: Path, target: Path) -> Path:
    """A copy of the ``.keras`` file ``source`` whose float32 weights are stored as float16
    (Keras loads them back into float32 variables): half the size, each weight rounded to 11
    significant bits. Every other member and attribute is copied as it is."""
    import h5py
    import numpy as np

    with zipfile.ZipFile(source) as archive:
        members = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    weights = io.BytesIO()
    with h5py.File(io.BytesIO(members[WEIGHTS]), "r") as full, h5py.File(weights, "w") as half:
        half.attrs.update(full.attrs)

        def copy(name: str, item: Any) -> None:
            if isinstance(item, h5py.Group):
                half.require_group(name).attrs.update(item.attrs)
                return
            data = item[()]
            if getattr(data, "dtype", None) == np.float32:
                data = data.astype(np.float16)
            half.create_dataset(name, data=data).attrs.update(item.attrs)

        full.visititems(copy)
    members[WEIGHTS] = weights.getvalue()
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", required=True, help="the run folder (trained or resumed)")
    parser.add_argument("--out", default=str(HERE / NAME), help="the shipped folder")
    parser.add_argument("--record", default="docs/data/pretrained.json")
    args = parser.parse_args(argv)
    quiet_tensorflow()

    import keras

    from tfp_audio_vae.data import pipeline
    from tfp_audio_vae.data.archives import sha256
    from tfp_audio_vae.evaluation.judge import (
        content_fingerprint,
        get_judge,
        judge_path,
        load_judge,
    )
    from tfp_audio_vae.evaluation.metrics import evaluate
    from tfp_audio_vae.evaluation.tables import table as markdown_table
    from tfp_audio_vae.machine import machine_record
    from tfp_audio_vae.models.latents import class_mean_latents
    from tfp_audio_vae.models.saving import load_model, save_model
    from tfp_audio_vae.pretrained import MANIFEST
    from tfp_audio_vae.progress import printer, step
    from tfp_audio_vae.runs import Run, training_data
    from tfp_audio_vae.training.run_spec import DataSpec, RunSpec

    say = printer()
    keras.utils.set_random_seed(0)
    machine = machine_record()
    spec = RunSpec(data=DataSpec("fsdd"), seed=0)
    run = Run(args.run_dir)
    data = training_data(spec)
    run.train(spec, data=data, verbose=2)
    get_judge(spec.data.root, verbose=2, say=say)  # FSDD's float32 judge: trained when missing
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # a model loaded uncompiled saves without its optimizer's state
    save_model(load_model(run.model_path), out / "full.keras")
    half_precision(out / "full.keras", out / "model.keras")
    (out / "full.keras").unlink()
    half_precision(judge_path(), out / "judge.keras")
    shutil.copy(run.record_path, out / "train.json")

    splits, config = data.splits, data.config
    waves, labels = pipeline.load_waveforms(splits.test, config)
    rows: dict[str, dict[str, Any]] = {}
    pairs = {
        "float32 model, float32 judge": (run.model_path, judge_path()),
        "shipped: float16 model, float16 judge": (out / "model.keras", out / "judge.keras"),
    }
    for label, (model_file, judge_file) in pairs.items():
        with step(say, f"evaluating the {label}"):
            model = load_model(model_file)
            means = class_mean_latents(model, data.train, num_classes=len(splits.class_names))
            rows[label] = evaluate(
                model, waves, labels, load_judge(judge_file), class_means=means, seed=0, say=say
            )

    files = {
        p.name: {"sha256": sha256(p), "bytes": p.stat().st_size}
        for p in sorted(out.iterdir())
        if p.name not in (MANIFEST, "MODEL_CARD.md", "__pycache__")
    }
    shipped_bytes = sum(f["bytes"] for f in files.values())
    record = {
        "date": str(datetime.date.today()),
        "command": "python -m tfp_audio_vae.pretrained.release " + " ".join(argv or sys.argv[1:]),
        "spec": spec.to_json(),
        "machine": machine,
        "shipped_bytes": shipped_bytes,
        "results": rows,
    }
    Path(args.record).write_text(json.dumps(record, indent=2, default=float) + "\n")
    table = markdown_table(
        [{"weights": label, **figures} for label, figures in rows.items()],
        [("weights", "weights", "{}"), *ROW],
    )
    card = f"""# pretrained:fsdd

The package's default mixture VAE (conditional mixture prior, {spec.model.components_per_class}
components per digit, latent {spec.model.latent_dim}, the 1-D network, {spec.training.epochs}
epochs, seed {spec.seed}) trained on the FSDD train split (recordings 5–49 of each digit and
speaker, FSDD v1.0.10) less the {len(splits.validation):,} clips held out of it to validate (the
model trained on {len(splits.train):,}; its likelihood scale is calibrated on the held-out ones),
and the judge it is evaluated with (trained on all {len(splits.all_train):,} train clips).
Made {record["date"]} by `{record["command"]}` on {machine["cpu_model"]}
({machine["cpu_count"]} cores, load {machine["load_average_1min"]:.1f}, fp32 matmul
{machine["matmul_gflops_fp32"]:.0f} GFLOP/s).

Weights stored in float16 (no optimizer state): {shipped_bytes / 2**20:.1f} MiB shipped in all.
Evaluated on the FSDD test split (recordings 0–4, 300 clips), seed 0, as
`tfp-audio-vae evaluate` does:

{table}

Settings (`train.json`, a `RunSpec`):

```json
{json.dumps(spec.to_json(), indent=2)}
```

Limits: 8 kHz, 1.024 s clips, six adult speakers of English reading digits in a quiet room;
other voices, words and rooms are out of its distribution.
"""
    (out / "MODEL_CARD.md").write_text(card)
    manifest = {
        "files": files,
        "judge_data": content_fingerprint(splits.all_train),
        "spec": spec.to_json(),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    print(card)
    return 0


if __name__ == "__main__":
    sys.exit(main())
