"""Run-to-run spread: `examples/compare_priors.py` at its settings with several seeds, mean ± sd.

    python benchmarks/seed_spread.py                         # seeds 0, 1, 2 at the defaults
    python benchmarks/seed_spread.py --seeds 0,1 -- --quick  # anything after -- goes to the example

Each seed is one run of the real example, in its own process, into ``--workdir/seed<N>`` (a seed
whose folder already holds a finished ``results.json`` of the same command is read, not rerun). For
both priors, every figure of the example's table is reported as mean ± sample standard deviation
over the seeds, and so is the mixture's −IWAE minus N(0, I)'s, paired by seed: the mixture beats
N(0, I) by more than the run-to-run spread when that difference is negative by more than its own
standard deviation and more than either prior's. Writes ``--out`` (JSON) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from environment import environment  # benchmarks/environment.py

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = REPO_ROOT / "examples" / "compare_priors.py"
sys.path.insert(0, str(EXAMPLE.parent))
from compare_priors import COLUMNS, lookup  # noqa: E402  (the example's own table columns)

PRIORS = ("standard", "mixture")
IWAE = ("likelihood", "neg_iwae")


def run_seed(seed: int, workdir: Path, passed: list[str]) -> dict[str, Any]:
    """The example's ``results.json`` for one seed, running it unless a finished one is there."""
    out = workdir / f"seed{seed}"
    argv = ["--seed", str(seed), "--out", str(out), *passed]
    command = "python examples/compare_priors.py " + " ".join(argv)
    results = out / "results.json"
    if results.exists() and json.loads(results.read_text())["command"] == command:
        print(f"seed {seed}: reusing {results}")
    else:
        print(f"seed {seed}: {command}", flush=True)
        subprocess.run([sys.executable, str(EXAMPLE), *argv], check=True, cwd=REPO_ROOT)
    return json.loads(results.read_text())


def spread(values: list[float]) -> dict[str, float]:
    """Mean, sample standard deviation (0 for one value) and the values themselves."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "sd": sd, "values": values}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± sd of every table figure per prior, and of the paired −IWAE difference."""
    figures = {
        prior: {
            name: spread([float(lookup(run["results"][prior], keys)) for run in runs])
            for name, keys, _ in COLUMNS
        }
        for prior in PRIORS
    }
    difference = spread(
        [
            float(lookup(run["results"]["mixture"], IWAE))
            - float(lookup(run["results"]["standard"], IWAE))
            for run in runs
        ]
    )
    iwae_sds = [figures[prior]["test -IWAE (nats)"]["sd"] for prior in PRIORS]
    beats = difference["mean"] < 0 and -difference["mean"] > max(difference["sd"], *iwae_sds)
    return {
        "figures": figures,
        "mixture_minus_standard_neg_iwae": difference,
        "mixture_beats_standard_beyond_spread": beats,
        "minutes_per_run": spread([run["seconds"] / 60 for run in runs]),
    }


def _cell(fmt: str, value: float) -> str:
    """``value`` in the example's column format (rounded first where it formats integers)."""
    return fmt.format(round(value) if fmt.endswith("d}") else value)


def markdown(summary: dict[str, Any]) -> str:
    """The figures as a Markdown table, one row per figure, mean ± sd per prior."""
    lines = ["| figure | N(0, I) | mixture |", "|---|---|---|"]
    for name, _, fmt in COLUMNS:
        cells = []
        for prior in PRIORS:
            entry = summary["figures"][prior][name]
            mean, sd = _cell(fmt, entry["mean"]), _cell(fmt.replace("+", ""), entry["sd"])
            cells.append(f"{mean} ± {sd}")
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    diff = summary["mixture_minus_standard_neg_iwae"]
    lines.append(
        f"| mixture − N(0, I), −IWAE (nats, paired) | {diff['mean']:+.0f} ± {diff['sd']:.0f} | |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    passed = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--workdir", default="runs/seed_spread", help="one folder per seed")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks/results/seed_spread.json"))
    args = parser.parse_args(own)
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = [run_seed(s, Path(args.workdir), passed) for s in seeds]
    summary = summarise(runs)
    payload = {
        "command": "python benchmarks/seed_spread.py " + " ".join(argv),
        "seeds": seeds,
        "environment": environment(),
        "runs": [{"command": r["command"], "seconds": r["seconds"]} for r in runs],
        **summary,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=2))
    print(markdown(summary))
    print(
        f"\nmixture beats N(0, I) beyond the spread: {summary['mixture_beats_standard_beyond_spread']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
