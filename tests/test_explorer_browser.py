"""`tfp-audio-vae explore` as a person uses it: the real command serving a tiny trained model on
127.0.0.1, the page driven in the system's headless Chromium (tests/explorer_page.py). Slow: it
trains a model and starts a browser. The screenshot goes to ``$TFP_AUDIO_VAE_SCREENSHOT`` when set
(docs/img/explorer.png is made that way), else to a temporary folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.explorer_page import (
    CHROMEDRIVER,
    CHROMIUM,
    audio_state,
    chromium,
    click_point,
    explorer_server,
    move_slider,
    open_page,
    screenshot,
    wait_for,
)
from tfp_audio_vae.explorer.session import MAX_UPLOADS

pytestmark = pytest.mark.slow
CLIPS = 30
SECONDS = 8192 / 8000  # the default config's clip length


@pytest.fixture(scope="module")
def page(tmp_path_factory, fsdd_root):
    """The explorer page of a model trained by the real command (40 clips, 2 epochs), serving 30
    test clips, with no judge cached (so FSDD's shipped one judges); yields the selenium driver."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(program):
            pytest.fail(f"{program} is missing: apt-get install chromium chromium-driver")
    folder = tmp_path_factory.mktemp("explore")
    command = [
        sys.executable, "-m", "tfp_audio_vae.cli", "train", "--run-dir", str(folder / "run"),
        "--fsdd", str(fsdd_root), "--limit", "40", "--epochs", "2", "--latent-dim", "4",
        "--batch-size", "16", "--quiet",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    env = {**os.environ, "TFP_AUDIO_VAE_CACHE": str(folder / "empty-cache")}
    server = explorer_server(
        folder / "run", fsdd_root, "--limit", str(CLIPS), "--n-iter", "8", env=env
    )
    with server as url, chromium() as driver:
        open_page(driver, url)
        yield driver


def test_the_page_opens_on_the_map_with_the_prior_and_the_shipped_judge(page):
    assert len(page.find_elements("css selector", "#map circle.point")) == CLIPS
    assert len(page.find_elements("css selector", "#map ellipse")) > 0  # the prior's components
    assert page.find_element("id", "judge-info").text == "judge: available"  # FSDD's, shipped
    assert page.find_element("id", "error").get_attribute("hidden") is not None
    # opened with the token the command printed; the page's script cannot read it (HttpOnly)
    assert "?token=" in page.current_url and page.execute_script("return document.cookie") == ""


def test_clicking_a_point_plays_the_clip_and_its_reconstruction(page):
    timing = click_point(page, 5)
    assert timing["what"] == "map click" and timing["ms"] > 0
    for element in ("original-audio", "reconstruction-audio"):
        audio = wait_for(
            page, f"(a => a.readyState >= 4 && a)(document.getElementById('{element}'))"
        )
        state = audio_state(page, element)
        assert state["src"].startswith("data:audio/wav;base64,") and audio
        assert state["duration"] == pytest.approx(SECONDS, abs=1e-3)
    assert page.find_element("id", "clip-title").text.startswith(
        page.execute_script(
            "return document.querySelector(\"#map circle[data-index='5'] title\").textContent.split(' ')[0];"
        )
    )
    assert (
        page.find_element("id", "reconstruction-png")
        .get_attribute("src")
        .startswith("data:image/png;base64,")
    )
    heard = page.find_element("id", "reconstruction-verdict").text
    assert heard.startswith("judge: ")
    if find_spec("pesq") and find_spec("pystoi"):  # the perceptual extra: scored beside it
        assert re.search(r" · PESQ-NB \d\.\d\d", heard), heard
    else:
        assert "PESQ" not in heard


def test_moving_a_slider_changes_the_sound(page):
    assert len(page.find_elements("css selector", "#sliders input")) >= 1
    before = audio_state(page, "dims-audio")["src"]
    move_slider(page, 0, 0.95)
    after = audio_state(page, "dims-audio")
    assert after["src"] != before and after["src"].startswith("data:audio/wav;base64,")
    assert after["duration"] == pytest.approx(SECONDS, abs=1e-3)
    move_slider(page, 0, 0.05)
    assert audio_state(page, "dims-audio")["src"] != after["src"]


def test_samples_interpolations_and_the_tsne_map(page):
    page.find_element("id", "sample-button").click()
    wait_for(page, "document.querySelectorAll('#samples audio').length === 4")
    page.find_element("id", "interp-button").click()
    wait_for(page, "document.querySelectorAll('#interpolation audio').length === 6")
    page.execute_script(
        "const s = document.getElementById('map-method'); s.value = 'tsne';"
        "s.dispatchEvent(new Event('change'));"
    )
    wait_for(
        page,
        "document.querySelector('#map text') && "
        "document.querySelector('#map').textContent.includes('t-SNE 1')",
    )
    assert len(page.find_elements("css selector", "#map circle.point")) == CLIPS
    page.execute_script(
        "const s = document.getElementById('map-method'); s.value = 'pca';"
        "s.dispatchEvent(new Event('change'));"
    )
    wait_for(page, "document.querySelector('#map').textContent.includes('PC 1')")


def test_uploads_a_good_file_and_shows_a_bad_ones_error(page, tmp_path, fsdd_root):
    good = tmp_path / "my voice.flac"
    wave, rate = sf.read(sorted((fsdd_root / "recordings").glob("7_*_3.wav"))[0])
    sf.write(good, np.stack([wave, wave], axis=1), rate)  # stereo FLAC
    page.find_element("id", "upload-file").send_keys(str(good))
    wait_for(page, "document.getElementById('upload-reconstruction-audio').readyState >= 4")
    assert audio_state(page, "upload-reconstruction-audio")["duration"] == pytest.approx(
        SECONDS, abs=1e-3
    )
    wait_for(page, "document.querySelectorAll('#map text.upload').length === 1")
    assert page.find_element("id", "upload-title").text == "my voice.flac: original"
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio at all")
    page.find_element("id", "upload-file").send_keys(str(bad))
    error = wait_for(
        page, "(e => !e.hidden && e.textContent)(document.getElementById('upload-error'))"
    )
    assert error.startswith("notes.wav: not a readable audio file") and "\n" not in error


def test_screenshot_of_the_page(page, tmp_path):
    path = Path(os.environ.get("TFP_AUDIO_VAE_SCREENSHOT", tmp_path / "explorer.png"))
    screenshot(page, path)
    png = path.read_bytes()
    assert png[:4] == b"\x89PNG" and len(png) > 10_000
    assert len(page.find_elements("css selector", "#samples audio")) == 4


def test_uploads_past_the_bound_drop_the_oldest_with_a_line_on_the_page(page, fsdd_root):
    """Runs last: fills the uploads up with the token over plain HTTP, then uploads one more on
    the page, which says which upload it dropped and keeps the map and the choices in step."""
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(page.current_url).query)["token"][0]
    base = page.current_url.split("?", 1)[0]
    stars = "document.querySelectorAll('#map text.upload')"
    held = page.execute_script(f"return {stars}.length;")
    oldest = page.execute_script(f"return {stars}[0].textContent.slice(1);")  # after the ★
    recording = sorted((fsdd_root / "recordings").glob("3_*_5.wav"))[0]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for _ in range(MAX_UPLOADS - held):
        request = urllib.request.Request(
            base + "api/upload",
            data=recording.read_bytes(),
            headers={
                "X-Explorer-Token": token,
                "Content-Type": "application/octet-stream",
                "X-Filename": "filler.wav",
            },
        )
        with opener.open(request, timeout=60) as response:
            assert response.status == 200
    page.find_element("id", "upload-file").send_keys(str(recording))
    note = wait_for(
        page, "(e => !e.hidden && e.textContent)(document.getElementById('upload-note'))"
    )
    assert note == f"dropped the oldest upload, {oldest}, to stay within {MAX_UPLOADS} uploads"
    wait_for(page, f"{stars}.length === {MAX_UPLOADS}")
    wait_for(page, f"{stars}[{MAX_UPLOADS - 1}].textContent.includes('{recording.name}')")
    options = page.execute_script("return document.querySelectorAll('#interp-a option').length;")
    assert options == CLIPS + MAX_UPLOADS
