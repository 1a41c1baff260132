"""The explorer's latency, as a person hears it: `tfp-audio-vae explore RUN` serving every FSDD
test clip, the page in the system's headless Chromium, and the milliseconds from a map click (or a
slider's release) to its new audio being playable (the page's ``canplaythrough``), which the page
records itself (``window.explorerTimings``). Writes JSON with the machine record, and optionally
the page's screenshot (docs/img/explorer.png is made this way).

    python -m benchmarks.bench_explorer runs/default --screenshot docs/img/explorer.png

Needs the ``app`` extra, selenium (``dev``) and ``apt-get install chromium chromium-driver``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from benchmarks.environment import environment
from tests.explorer_page import (
    chromium,
    click_point,
    explorer_server,
    move_slider,
    open_page,
    screenshot,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def summary(milliseconds: list[float]) -> dict[str, float]:
    return {
        "median_ms": statistics.median(milliseconds),
        "max_ms": max(milliseconds),
        "n": len(milliseconds),
        "all_ms": [round(ms, 1) for ms in milliseconds],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run folder or .keras file")
    parser.add_argument(
        "--fsdd",
        type=Path,
        default=os.environ.get("TFP_AUDIO_VAE_FSDD", REPO_ROOT.parent / "shared" / "fsdd"),
    )
    parser.add_argument("--repeats", type=int, default=15, help="clicks and slider moves each")
    parser.add_argument("--screenshot", type=Path, help="where to save the page's PNG")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "explorer.json"
    )
    args = parser.parse_args()
    import tensorflow as tf

    before = environment(tf)
    with explorer_server(args.run, args.fsdd) as url, chromium() as driver:
        open_page(driver, url)
        clips = len(driver.find_elements("css selector", "#map circle.point"))
        sliders = len(driver.find_elements("css selector", "#sliders input"))
        clicks, moves = [], []
        for i in range(args.repeats):
            clicks.append(click_point(driver, (37 * i + 11) % clips)["ms"])
            moves.append(move_slider(driver, i % sliders, 0.1 + 0.8 * ((i * 7) % 10) / 10)["ms"])
        if args.screenshot:
            screenshot(driver, args.screenshot)
    result = {
        "map_click": summary(clicks),
        "slider_move": summary(moves),
        "clips": clips,
        "sliders": sliders,
        "run": str(args.run),
        "environment_before": before,
        "environment_after": environment(tf),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for what in ("map_click", "slider_move"):
        print(
            f"{what}: median {result[what]['median_ms']:.0f} ms, max {result[what]['max_ms']:.0f} ms"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
