"""Driving `tfp-audio-vae explore` as a person does: the real command in a subprocess, the page
in the system's headless Chromium (through selenium and the system's chromedriver, so nothing is
downloaded). Used by tests/test_explorer_browser.py and benchmarks/bench_explorer.py."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Served:
    """A running ``explore`` command: the page's URL as it printed it (with ``?token=`` unless it
    runs with ``--no-token``), its process, and the lines it has printed so far."""

    url: str
    process: subprocess.Popen
    output: list[str]

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT/``, with no token."""
        return self.url.split("?", 1)[0]

    @property
    def port(self) -> int:
        return int(urllib.parse.urlsplit(self.url).port)

    @property
    def token(self) -> str | None:
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.url).query).get("token", [None])[0]


def open_url(url: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> bytes:
    """GETs ``url`` directly (never through a proxy) and returns the body."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as r:
        return r.read()


@contextlib.contextmanager
def explorer_process(
    model: Path, fsdd_root: Path, *args: str, env: dict | None = None, timeout: float = 180.0
) -> Iterator[Served]:
    """Runs ``tfp-audio-vae explore MODEL --no-browser ARGS`` (in ``env``) on a free 127.0.0.1
    port; yields it once it has printed its URL and ``/api/info`` answers (asked with the token
    from that URL), and stops it (SIGTERM, then SIGKILL after 10 s)."""
    port = free_port()
    command = shutil.which("tfp-audio-vae", path=str(Path(sys.executable).parent))
    argv = [command] if command else [sys.executable, "-m", "tfp_audio_vae.cli"]
    argv += ["explore", str(model), "--fsdd", str(fsdd_root), "--port", str(port), "--no-browser"]
    server = subprocess.Popen(
        [*argv, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        errors="replace",
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(server.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                reader.join(timeout=5)
                raise RuntimeError(f"explore exited: {''.join(output)[-2000:]}")
            printed = [m for line in list(output) if (m := re.search(r"exploring at (\S+)", line))]
            if printed:
                served = Served(printed[0].group(1), server, output)
                headers = {"X-Explorer-Token": served.token} if served.token else {}
                try:
                    open_url(served.base + "api/info", headers)
                    break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"explore did not answer on port {port} in {timeout} s")
            time.sleep(0.5)
        yield served
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        reader.join(timeout=10)
        server.stdout.close()


@contextlib.contextmanager
def explorer_server(
    model: Path, fsdd_root: Path, *args: str, env: dict | None = None, timeout: float = 180.0
) -> Iterator[str]:
    """`explorer_process`, yielding only the page's URL (with its token): what a person opens."""
    with explorer_process(model, fsdd_root, *args, env=env, timeout=timeout) as served:
        yield served.url


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 1100) -> Iterator:
    """A headless Chromium (the system's) that may play audio without a click."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--autoplay-policy=no-user-gesture-required",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, script: str, timeout: float = 60.0):
    """Polls a JavaScript expression until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(f"return {script};")
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout} s: {script}")
        time.sleep(0.05)


def open_page(driver, url: str) -> None:
    """Loads the page and waits until its map and sliders are drawn."""
    driver.get(url)
    wait_for(driver, "document.body.dataset.ready === '1'", timeout=120)


def audio_state(driver, element_id: str) -> dict:
    """An <audio> element's source, readiness (HAVE_ENOUGH_DATA is 4) and duration in seconds."""
    return driver.execute_script(
        "const a = document.getElementById(arguments[0]);"
        "return {src: a.src, ready: a.readyState, duration: a.duration};",
        element_id,
    )


def timings_count(driver) -> int:
    return driver.execute_script("return window.explorerTimings.length;")


def click_point(driver, index: int) -> dict:
    """Clicks map point ``index``; returns the timing the page recorded (ms to playable audio).
    A point hidden under another gets its click event sent to it directly."""
    from selenium.common.exceptions import ElementClickInterceptedException

    before = timings_count(driver)
    point = driver.find_element("css selector", f"#map circle[data-index='{index}']")
    try:
        point.click()
    except ElementClickInterceptedException:
        driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click'));", point)
    wait_for(driver, f"window.explorerTimings.length > {before}")
    return driver.execute_script("return window.explorerTimings.at(-1);")


def move_slider(driver, position: int, fraction: float) -> dict:
    """Sets slider ``position`` (0 = most KL) to ``fraction`` of its range, as a drag ends (a
    ``change`` event); returns the timing the page recorded (ms to playable audio)."""
    before = timings_count(driver)
    driver.execute_script(
        "const s = document.querySelectorAll('#sliders input')[arguments[0]];"
        "s.value = +s.min + arguments[1] * (s.max - s.min);"
        "s.dispatchEvent(new Event('change'));",
        position,
        fraction,
    )
    wait_for(driver, f"window.explorerTimings.length > {before}")
    return driver.execute_script("return window.explorerTimings.at(-1);")


def screenshot(driver, path: Path) -> None:
    """The page with a clip chosen and four samples drawn, as a 256-colour PNG at ``path``."""
    from PIL import Image

    click_point(driver, 12)
    before = driver.execute_script("return document.querySelectorAll('#samples audio').length;")
    driver.find_element("id", "sample-button").click()
    wait_for(driver, f"document.querySelectorAll('#samples img').length === 4 || {before} === 4")
    wait_for(driver, "[...document.querySelectorAll('#samples img')].every(i => i.complete)")
    driver.save_screenshot(str(path))
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(256)
    small.save(path, optimize=True)
