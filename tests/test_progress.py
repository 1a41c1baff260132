"""Long work that talks: `progress.step` says what starts and how long it took, and times it
for the caller either way."""

from __future__ import annotations

import time

from tfp_audio_vae.progress import duration, step


def test_a_step_says_it_starts_and_how_long_it_took_and_keeps_the_time():
    lines: list[str] = []
    with step(lines.append, "decoding", expected_s=120) as clock:
        time.sleep(0.05)
    assert lines[0] == "decoding (about 2.0 min) ..."
    assert lines[1] == f"  decoding: done in {duration(clock.seconds)}"
    assert 0.05 <= clock.seconds < 5


def test_a_silent_step_still_times_its_block():
    with step(None, "decoding") as clock:
        time.sleep(0.05)
    assert 0.05 <= clock.seconds < 5
