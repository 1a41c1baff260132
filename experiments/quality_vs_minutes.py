"""Quality against training minutes: what each budget buys, from recorded runs.

    python -m experiments.quality_vs_minutes \\
        "previous default=docs/data/quality_vs_minutes/previous_default.json" \\
        "default=docs/data/quality_vs_minutes/default.json" \\
        "best=docs/data/quality_vs_minutes/best.json" \\
        --out docs/img/results/quality_vs_minutes.png

Each point is ``LABEL=FILE``: the ``results.json`` of `examples/compare_priors.py`, whose
mixture VAE's training seconds and machine record it holds; or ``LABEL=FILE@SECONDS`` for a
``metrics.json`` of ``tfp-audio-vae evaluate`` (which records no training time), with the
training seconds measured elsewhere. Plots reconstructions recognised by the judge and the
Inception Score of prior samples (the mixture VAE's, beside the real-audio ceiling) against
training minutes, appends the points as one JSON line to ``--record``, and prints them as a
Markdown table (the results page's ablation table: minutes, the machine's
measured fp32 GFLOP/s and every judged figure per point). Compare minutes only between runs on
the same machine: each point carries its machine record.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from experiments import harness  # noqa: E402

COLUMNS: list[harness.Column] = [
    ("setting", "label", "{}"),
    ("latent", "latent_dim", "{}"),
    ("epochs", "epochs", "{}"),
    ("refine steps", "refine_steps", "{}"),
    ("training min", "train_minutes", "{:.1f}"),
    ("GFLOP/s", "gflops", "{:.0f}"),
    ("recon. judged", "recon_judged", "{:.1%}"),
    ("recon. LSD (dB)", "recon_lsd_db", "{:.2f}"),
    ("IS", "inception_score", "{:.2f}"),
    ("FD", "frechet_distance", "{:.2f}"),
    ("digit samples", "digit_samples_judged", "{:.1%}"),
    ("recon. level (dB)", "recon_level_db", "{:+.1f}"),
    ("sample level (dB)", "sample_level_db", "{:+.1f}"),
    ("test −IWAE (nats)", "neg_iwae", "{:.0f}"),
    ("real audio: judged", "ceiling.recon_judged", "{:.1%}"),
    ("real audio: IS", "ceiling.inception_score", "{:.2f}"),
    ("real audio: FD", "ceiling.frechet_distance", "{:.2f}"),
]


def point(spec: str) -> dict[str, Any]:
    """One labelled point: training minutes, the mixture VAE's figures, their ceilings."""
    label, _, source = spec.partition("=")
    path, _, seconds = source.partition("@")
    if not label or not path:
        raise SystemExit(f"a point is LABEL=FILE or LABEL=FILE@SECONDS, got {spec!r}")
    record = json.loads(Path(path).read_text())
    results = record["results"]["mixture"] if "results" in record else record
    if seconds:
        train_s, machine = float(seconds), None
    else:
        train_s, machine = record["timings"]["mixture_train_s"], record["machine"]
    reconstruction, generation = results["reconstruction"], results["generation"]
    return {
        "label": label,
        "source": path,
        "train_minutes": train_s / 60,
        "machine": machine,
        "gflops": machine["at_start"]["matmul_gflops_fp32"] if machine else None,
        "recon_judged": reconstruction["judge_accuracy"],
        "recon_lsd_db": reconstruction["log_spectral_distance_db"],
        "recon_level_db": reconstruction["level_db"],
        "inception_score": generation["unconditional"]["inception_score"],
        "frechet_distance": generation["unconditional"]["frechet_distance"],
        "sample_level_db": generation["unconditional"]["level_db"],
        "digit_samples_judged": generation["conditional"]["accuracy"],
        "neg_iwae": results["likelihood"]["neg_iwae"],
        "latent_dim": results.get("latent_dim") or record.get("settings", {}).get("latent_dim"),
        "epochs": record.get("epochs"),
        "refine_steps": reconstruction.get("refine_steps", 0),
        "ceiling": {
            "recon_judged": results["real_audio"]["accuracy"],
            "inception_score": results["real_audio"]["inception_score"],
            "frechet_distance": results["real_audio"]["frechet_distance"],
        },
    }


def plot(points: list[dict[str, Any]], out: Path) -> None:
    """Two panels, one per figure, each point labelled, the ceiling as a dashed line."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    panels = (("recon_judged", "reconstructions recognised", 100), ("inception_score", "IS", 1))
    for ax, (key, name, factor) in zip(axes, panels, strict=True):
        for p in points:
            ax.plot(p["train_minutes"], p[key] * factor, "o", color="C0")
            ax.annotate(
                p["label"], (p["train_minutes"], p[key] * factor), xytext=(5, -12),
                textcoords="offset points", fontsize=8,
            )  # fmt: skip
        ax.axhline(points[0]["ceiling"][key] * factor, ls="--", color="grey", label="real audio")
        ax.set_xlabel("training minutes, mixture VAE (idle 2-core CPU)")
        ax.set_ylabel(name + (" (%)" if factor == 100 else ""))
        ax.set_xlim(left=0)
        ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, "quality_vs_minutes/points.jsonl")
    parser.add_argument("points", nargs="+", help="LABEL=FILE or LABEL=FILE@SECONDS")
    parser.add_argument("--out", default="docs/img/results/quality_vs_minutes.png", help="figure")
    args = parser.parse_args(argv)
    points = [point(spec) for spec in args.points]
    plot(points, Path(args.out))
    harness.append_record(args.record, {"points": points, "figure": args.out})
    print(harness.table(points, COLUMNS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
