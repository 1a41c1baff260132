"""Run-to-run spread: `examples/compare_priors.py` at its settings with several seeds, mean ± sd.

    python -m experiments.seed_spread                          # seeds 0, 1, 2 at the defaults
    python -m experiments.seed_spread --seeds 0,1 -- --quick   # anything after -- goes to the example

Each seed is one run of the real example, in its own process, into ``--workdir/seed<N>`` (a seed
whose folder already holds a finished ``results.json`` of the same command is read, not rerun). For
both priors, every figure of the example's table (its bounds on training, validation and test
clips, and its judged figures) is reported as mean ± sample standard deviation over the seeds, and
so is the mixture's −IWAE minus N(0, I)'s, paired by seed: the mixture beats N(0, I) when that
difference is negative in every seed and its mean exceeds twice its own standard deviation.
Appends one JSON line and prints a Markdown table.
"""

from __future__ import annotations

import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from experiments import harness

EXAMPLE = "examples/compare_priors.py"
PRIORS = ("standard", "mixture")
IWAE = "likelihood.neg_iwae"
FIGURES = [*harness.BOUND_COLUMNS, *harness.EVALUATE_COLUMNS]
"""The example's table (`examples/compare_priors.py`), figure by figure."""
COLUMNS: list[harness.Column] = [
    ("figure", "figure", "{}"),
    ("N(0, I)", "standard", "{}"),
    ("mixture", "mixture", "{}"),
]


def run_seed(seed: int, workdir: Path, passed: list[str]) -> dict[str, Any]:
    """The example's ``results.json`` for one seed, running it unless a finished one is there."""
    out = workdir / f"seed{seed}"
    argv = ["--seed", str(seed), "--out", str(out), *passed]
    command = f"python {EXAMPLE} " + " ".join(argv)
    results = out / "results.json"
    if results.exists() and json.loads(results.read_text())["command"] == command:
        print(f"seed {seed}: reusing {results}")
    else:
        print(f"seed {seed}: {shlex.join(['python', EXAMPLE, *argv])}", flush=True)
        subprocess.run([sys.executable, EXAMPLE, *argv], check=True, cwd=harness.REPO_ROOT)
    return json.loads(results.read_text())


def spread(values: list[float]) -> dict[str, Any]:
    """Mean, sample standard deviation (0 for one value) and the values themselves."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "sd": sd, "values": values}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± sd of every figure of `FIGURES` per prior, and of the paired −IWAE difference."""
    figures = {
        prior: {
            key: spread([float(harness.lookup(run["results"][prior], key)) for run in runs])
            for _, key, _ in FIGURES
            if all(harness.lookup(run["results"][prior], key) is not None for run in runs)
        }
        for prior in PRIORS
    }
    difference = spread(
        [
            harness.lookup(run["results"]["mixture"], IWAE)
            - harness.lookup(run["results"]["standard"], IWAE)
            for run in runs
        ]
    )
    every_seed = all(value < 0 for value in difference["values"])
    beats = every_seed and -difference["mean"] > 2 * difference["sd"]
    return {
        "figures": figures,
        "mixture_minus_standard_neg_iwae": difference,
        "mixture_better_in_every_seed": every_seed,
        "mixture_beats_standard_beyond_spread": beats,
        "minutes_per_run": spread([run["seconds"] / 60 for run in runs]),
    }


def rows(summary: dict[str, Any]) -> list[dict[str, str]]:
    """The summary as table rows: one per figure, ``mean ± sd`` per prior."""
    lines = []
    for header, key, fmt in FIGURES:
        cells = {}
        for prior in PRIORS:
            entry = summary["figures"][prior].get(key)
            sd_format = fmt.replace("+", "")
            cells[prior] = (
                "–" if entry is None
                else f"{fmt.format(entry['mean'])} ± {sd_format.format(entry['sd'])}"
            )  # fmt: skip
        lines.append({"figure": header, **cells})
    diff = summary["mixture_minus_standard_neg_iwae"]
    lines.append(
        {
            "figure": "mixture − N(0, I), −IWAE (nats, paired)",
            "standard": "",
            "mixture": f"{diff['mean']:+.0f} ± {diff['sd']:.0f}",
        }
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    passed = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = harness.parser(__doc__, "seed_spread.jsonl")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--workdir", default="runs/seed_spread", help="one folder per seed")
    args = parser.parse_args(own)
    if args.fsdd:
        passed = ["--fsdd", args.fsdd, *passed]
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = [run_seed(s, Path(args.workdir), passed) for s in seeds]
    summary = summarise(runs)
    figures = {
        "seeds": seeds,
        "runs": [{"command": r["command"], "seconds": r["seconds"]} for r in runs],
        **summary,
    }
    harness.append_record(args.record, figures, {"example_options": passed})
    print(harness.table(rows(summary), COLUMNS))
    print(
        f"\nmixture better in every seed: {summary['mixture_better_in_every_seed']}; by more than "
        f"twice the paired spread: {summary['mixture_beats_standard_beyond_spread']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
