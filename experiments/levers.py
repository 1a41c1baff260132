"""One lever at a time against the current defaults: train `RunSpec()` with `--set`, judge it, record it.

    python -m experiments.levers runs/levers/baseline                 # the defaults: the baseline
    python -m experiments.levers runs/levers/beta0.5 --set model.beta=0.5
    python -m experiments.levers runs/levers/lr4e-3 --set training.learning_rate=4e-3 --seed 1
    python -m experiments.levers runs/levers/baseline --eval-only --n-iter 100 --statistic mean
    python -m experiments.levers --table docs/data/levers.jsonl docs/data/lever_pilots.jsonl

The run is the package's current defaults (``RunSpec()``: the default prior, network, latent
size, schedule and budget, on the FSDD train split) with only the ``--set`` settings changed,
trained into RUN_DIR by `Run.train` (as ``tfp-audio-vae train`` trains; run it again to resume).
It is then judged in this process by `metrics.evaluate` on the test split (as ``tfp-audio-vae
evaluate`` judges: refined reconstructions, IS, FD, digit samples at the default temperature,
-IWAE), which also writes RUN_DIR/metrics.json. ``--n-iter`` and ``--statistic`` are the two
levers of the evaluation alone (Griffin-Lim iterations, the statistic of p(x | z) heard);
``--eval-only`` judges a trained run again without training.

One JSON line per run goes to ``--record``: the pilot's name, its `RunSpec`, the evaluation's
settings, training and evaluation seconds and every figure. ``--table`` prints recorded pilots,
also from the records of the two harnesses this one replaced (``docs/data/lever_pilots.jsonl``
of ``lever_pilot.py``, ``docs/data/quality_ablation.jsonl`` of ``quality_ablation.py``).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from experiments import harness
from tfp_audio_vae import defaults
from tfp_audio_vae.files import atomic_output
from tfp_audio_vae.runs import Run
from tfp_audio_vae.training.run_spec import RunSpec

COLUMNS: list[harness.Column] = [
    ("pilot", "pilot", "{}"),
    ("seed", "seed", "{}"),
    ("training s", "train_s", "{:.0f}"),
    *[c for c in harness.EVALUATE_COLUMNS if c[1] not in ("likelihood.neg_elbo", "active_units")],
]


def pilot_row(line: dict[str, Any]) -> dict[str, Any] | None:
    """A recorded pilot as a table row (``pilot``, ``seed``, ``train_s`` and the figures in
    `metrics.evaluate`'s layout), from this harness's record or the two it replaced; None for
    lines that hold no pilot (``quality_ablation.py``'s step-time lines)."""
    seed = (line.get("settings") or {}).get("seed", line.get("seed"))
    pilot = {"seed": seed, "train_s": line.get("train_s")}
    if "figures" in line:  # this harness
        return {"pilot": line["pilot"], **pilot, **line["figures"]}
    if "metrics" in line:  # lever_pilot.py
        return {"pilot": line.get("pilot") or line["command"], **pilot, **line["metrics"]}
    if "recon_judged" not in line:
        return None
    audio = "" if line.get("statistic", "median") == "median" else f", {line['statistic']}"
    return {  # quality_ablation.py: flat figures
        "pilot": f"{line['config']} ({line.get('epochs')} epochs{audio}, "
        f"GL {line.get('griffin_lim_iterations')})",
        **pilot,
        "likelihood": {"neg_iwae": line["neg_iwae"], "kl": line["kl"]},
        "reconstruction": {
            "judge_accuracy": line["recon_judged"],
            "log_spectral_distance_db": line["recon_lsd_db"],
            "level_db": line.get("recon_loudness_db"),
        },
        "generation": {
            "unconditional": {
                "inception_score": line["inception_score"],
                "frechet_distance": line["frechet_distance"],
                "level_db": line.get("sample_loudness_db"),
            },
            "conditional": {"accuracy": line.get("digit_samples_judged")},
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, "levers.jsonl", settings=True)
    parser.add_argument("run_dir", nargs="?", help="the run folder (created, or resumed)")
    parser.add_argument("--name", help="the pilot's name in the record (default: its --set)")
    parser.add_argument("--eval-only", action="store_true", help="judge RUN_DIR, no training")
    parser.add_argument("--k", type=int, default=defaults.IWAE_K, help="IWAE samples")
    parser.add_argument("--samples", type=int, default=defaults.GENERATED_CLIPS)
    parser.add_argument("--n-iter", type=int, default=defaults.GRIFFIN_LIM_ITERATIONS)
    parser.add_argument("--statistic", default=defaults.AUDIO_STATISTIC)
    parser.add_argument("--table", nargs="+", metavar="RECORD", help="print these records' pilots")
    args = parser.parse_args(argv)
    if args.table:
        rows = [row for path in args.table for line in harness.read_records(path)
                if (row := pilot_row(line))]  # fmt: skip
        print(harness.table(rows, COLUMNS))
        return 0
    if not args.run_dir:
        parser.error("give RUN_DIR (or --table RECORD...)")

    import keras

    from tfp_audio_vae.evaluation.metrics import evaluate

    run = Run(args.run_dir)
    spec = harness.run_spec(args.set, RunSpec(seed=args.seed))
    if args.fsdd:
        spec = harness.run_spec([f"data.root={args.fsdd}"], spec)
    train_s = None
    if args.eval_only:
        spec = run.spec() or spec
    else:
        keras.utils.set_random_seed(spec.seed)  # an entry point: seeds anything left unseeded
        tick = time.perf_counter()
        run.train(spec, verbose=2)
        train_s = time.perf_counter() - tick

    tick = time.perf_counter()
    loaded = harness.load(args, run.folder)
    model = loaded.model
    audio = {"statistic": args.statistic, "n_iter": args.n_iter}
    figures = evaluate(
        model,
        loaded.waves,
        loaded.labels,
        loaded.judge,
        class_means=None if model.prior.conditional else loaded.class_means(),
        k=args.k,
        n_samples=args.samples,
        seed=spec.seed,
        **audio,
    )
    evaluate_s = time.perf_counter() - tick
    with atomic_output(run.folder / "metrics.json") as tmp:
        tmp.write_text(json.dumps(figures, indent=2, default=float))
    line = harness.append_record(
        args.record,
        {
            "pilot": args.name or " ".join(args.set) or "defaults",
            "run": str(run.folder),
            "evaluation": {
                "clips": len(loaded.labels),
                "k": args.k,
                "samples": args.samples,
                **audio,
            },  # fmt: skip
            "train_s": train_s,
            "evaluate_s": evaluate_s,
            "figures": figures,
        },
        settings=spec.to_json(),
    )
    print(harness.table([pilot_row(line)], COLUMNS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
