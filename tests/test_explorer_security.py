"""The explorer's web security through the real `tfp-audio-vae explore` command (issue 31): only
allowed ``Host`` names, only the page's own origin, only JSON (or the upload's octet stream) in a
POST, and the token on every API call; uploads held within a bound. Raw requests go through
http.client, which lets a test send any ``Host``, ``Origin`` or ``Referer`` a hostile page could
make a browser send. The model is tiny and untrained (saved, not trained), so the server starts in
seconds."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.explorer_page import Served, explorer_process
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.explorer.session import MAX_UPLOADS
from tfp_audio_vae.models.saving import save_model
from tfp_audio_vae.models.variants import build_vae

CLIPS = 4
ALLOWED = "explorer.test"
UPLOADS = 600
RSS_GROWTH_MIB = 45
"""The most the server's resident memory may grow over `UPLOADS` uploads, after the first
`MAX_UPLOADS` + 8 (docs/explore.md#security gives the figures measured): the allocator's own
growth with the bound was 26-28 MiB over 1,000 uploads, while the 559 clips held without it would
take 64 MiB (115 KiB each)."""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder holding an untrained default-length model (8192 samples, 4 latent dims)."""
    folder = tmp_path_factory.mktemp("security")
    config = SpectrogramConfig(mean=(0.0,) * 128, std=(1.0,) * 128)
    model = build_vae(config, "conditional", latent_dim=4, seed=0)
    save_model(model, folder / "run" / "model.keras")
    return folder / "run"


def explore(run_dir, fsdd_root, *args: str, **env: str):
    env = {**os.environ, "TFP_AUDIO_VAE_CACHE": str(run_dir.parent / "empty-cache"), **env}
    return explorer_process(
        run_dir, fsdd_root, "--limit", str(CLIPS), "--n-iter", "1", *args, env=env
    )


@pytest.fixture(scope="module")
def served(run_dir, fsdd_root):
    with explore(run_dir, fsdd_root, "--allow-host", ALLOWED) as served:
        yield served


class Answer:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()

    def json(self):
        return json.loads(self.body)

    def error(self) -> str:
        """The one-line ``{"error"}`` of a refusal, checked to carry nothing else."""
        answer = self.json()
        assert list(answer) == ["error"] and "\n" not in answer["error"], answer
        return answer["error"]


def ask(
    served: Served,
    method: str,
    path: str,
    *,
    body: bytes | str | dict | None = None,
    host: str | None = None,
    token: str | None | bool = True,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One raw request to the server: ``Host`` as given (default ``127.0.0.1:PORT``), the token
    in ``X-Explorer-Token`` (``True``: the right one; ``None``/``False``: none), and a dict body as
    JSON with its content type."""
    sent = {"Host": f"127.0.0.1:{served.port}" if host is None else host}
    if token is True:
        token = served.token
    if token:
        sent["X-Explorer-Token"] = token
    if isinstance(body, dict):
        body = json.dumps(body)
        sent["Content-Type"] = "application/json"
    sent.update(headers or {})
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=120)
    try:
        connection.request(method, path, body=body, headers=sent)
        return Answer(connection.getresponse())
    finally:
        connection.close()


def clip_count(served: Served) -> int:
    answer = ask(served, "GET", "/api/info")
    assert answer.status == 200
    return len(answer.json()["clips"])


def small_wav(seed: int) -> bytes:
    """0.1 s of 8 kHz 16-bit mono noise."""
    buffer = io.BytesIO()
    wave = np.random.default_rng(seed).uniform(-0.3, 0.3, 800)
    sf.write(buffer, wave, 8000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def upload(served: Served, data: bytes, name: str = "hum.wav", **kwargs) -> Answer:
    headers = {"Content-Type": "application/octet-stream", "X-Filename": name}
    headers.update(kwargs.pop("headers", {}))
    return ask(served, "POST", "/api/upload", body=data, headers=headers, **kwargs)


def test_the_issues_three_requests_are_refused_and_do_no_work(served):
    before = clip_count(served)
    port = served.port
    for token in (None, True):  # refused whether or not the page's token comes with them
        answer = ask(served, "GET", "/api/info", host=f"evil.example:{port}", token=token)
        assert answer.status == 403 and "evil.example" in answer.error()
        answer = ask(served, "GET", "/api/clip/0", host="attacker.test", token=token)
        assert answer.status == 403 and "attacker.test" in answer.error()
        assert b"wav" not in answer.body and b"png" not in answer.body
        answer = ask(
            served,
            "POST",
            "/api/sample",
            body=json.dumps({"n": 4}),
            token=token,
            headers={"Origin": "http://evil.example", "Content-Type": "text/plain"},
        )
        assert answer.status == 403 and "evil.example" in answer.error()
        # the same simple cross-site POST to the upload adds nothing to the map
        answer = upload(
            served,
            small_wav(0),
            token=token,
            headers={"Origin": "http://evil.example", "Content-Type": "text/plain"},
        )
        assert answer.status == 403
    assert clip_count(served) == before


def test_every_api_call_needs_the_token(served):
    calls = [
        ("GET", "/api/info", None),
        ("GET", "/api/map", None),
        ("GET", "/api/clip/0", None),
        ("GET", "/api/dimensions?clip=0", None),
        ("POST", "/api/sample", {"n": 1}),
        ("POST", "/api/interpolate", {"a": 0, "b": 1, "steps": 2}),
        ("POST", "/api/move", {"index": 0, "values": {}}),
    ]
    for method, path, body in calls:
        for token in (None, "wrong", served.token[:-1], served.token + "x"):
            answer = ask(served, method, path, body=body, token=token)
            assert answer.status == 403, (path, token)
            assert "token" in answer.error()
        answer = ask(served, method, path, body=body)
        assert answer.status == 200, (path, answer.body[:200])
    before = clip_count(served)
    assert upload(served, small_wav(1), token=None).status == 403
    assert clip_count(served) == before
    answer = ask(served, "GET", "/api/info", token=None, headers={"Cookie": "token=nothing"})
    assert answer.status == 403


def test_the_page_needs_the_token_once_then_its_cookie_serves_the_api(served):
    refused = ask(served, "GET", "/", token=None)
    assert refused.status == 403 and "token" in refused.error()
    assert ask(served, "GET", "/?token=wrong", token=None).status == 403
    page = ask(served, "GET", f"/?token={served.token}", token=None)
    assert page.status == 200 and b"<html" in page.body
    cookie = page.headers["set-cookie"]
    assert {"httponly", "samesite=strict", "path=/"} <= {
        part.strip().lower() for part in cookie.split(";")
    }
    pair = cookie.split(";", 1)[0]
    assert pair.split("=", 1)[1] == served.token
    assert ask(served, "GET", "/api/info", token=None, headers={"Cookie": pair}).status == 200
    assert ask(served, "GET", "/", token=None, headers={"Cookie": pair}).status == 200
    # the page's script and style hold no data: served without the token, Host still checked
    assert ask(served, "GET", "/static/app.js", token=None).status == 200
    assert ask(served, "GET", "/static/app.js", host="attacker.test").status == 403


def test_only_the_pages_own_origin_may_post_and_only_json_or_the_upload(served):
    own = f"http://127.0.0.1:{served.port}"
    sample = {"n": 1, "seed": 3}
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": f"http://localhost:{served.port}"},  # another allowed name is another origin
        {"Origin": f"https://127.0.0.1:{served.port}"},
        {"Referer": "http://evil.example/page.html"},
    ):
        answer = ask(served, "POST", "/api/sample", body=sample, headers=headers)
        assert answer.status == 403, headers
        answer.error()
    answer = ask(served, "GET", "/api/info", headers={"Origin": "http://evil.example"})
    assert answer.status == 403
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        answer = ask(
            served,
            "POST",
            "/api/sample",
            body=json.dumps(sample),
            headers={"Origin": own, "Content-Type": content_type},
        )
        assert answer.status == 415 and "application/json" in answer.error()
    answer = ask(served, "POST", "/api/sample", body=sample, headers={"Origin": own})
    assert answer.status == 200 and len(answer.json()) == 1
    answer = ask(served, "POST", "/api/sample", body=sample, headers={"Referer": own + "/"})
    assert answer.status == 200
    before = clip_count(served)
    bad = upload(served, small_wav(2), headers={"Origin": own, "Content-Type": "text/plain"})
    assert bad.status == 415 and clip_count(served) == before
    good = upload(served, small_wav(2), headers={"Origin": own})
    assert good.status == 200 and clip_count(served) == before + 1


def test_allowed_hosts_are_the_loopback_names_and_allow_host(served):
    port = served.port
    for host in (
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        f"LocalHost:{port}",
        f"[::1]:{port}",
        "localhost",
        f"{ALLOWED}:{port}",
        ALLOWED.upper(),
    ):
        assert ask(served, "GET", "/api/info", host=host).status == 200, host
    for host in (
        f"evil.example:{port}",
        f"127.0.0.1.evil.example:{port}",
        f"localhost.evil.example:{port}",
        f"{ALLOWED}.evil.example",
        f"[::2]:{port}",
        "127.0.0.2",
        "",
    ):
        assert ask(served, "GET", "/api/info", host=host).status == 403, host
    answer = ask(
        served,
        "POST",
        "/api/sample",
        body={"n": 1},
        host=f"{ALLOWED}:{port}",
        headers={"Origin": f"http://{ALLOWED}:{port}"},
    )
    assert answer.status == 200


def test_no_token_warns_serves_without_one_and_sigterm_removes_uploads(run_dir, fsdd_root):
    tmp = run_dir.parent / "no-token-tmp"
    tmp.mkdir()
    with explore(run_dir, fsdd_root, "--no-token", TMPDIR=str(tmp)) as served:
        assert len(list(tmp.glob("tfp-audio-vae-uploads-*"))) == 1
        assert served.token is None and served.url == served.base
        warnings = [line for line in served.output if "--no-token" in line]
        assert len(warnings) == 1 and "warning" in warnings[0].lower(), served.output
        assert ask(served, "GET", "/", token=None).status == 200
        assert ask(served, "GET", "/api/info", token=None).status == 200
        assert ask(served, "GET", "/api/info", host="attacker.test", token=None).status == 403
        answer = ask(
            served,
            "POST",
            "/api/sample",
            body=json.dumps({"n": 1}),
            token=None,
            headers={"Origin": "http://evil.example", "Content-Type": "text/plain"},
        )
        assert answer.status == 403
    assert served.process.returncode is not None
    assert not list(tmp.glob("tfp-audio-vae-uploads-*"))  # stopped by SIGTERM, it went too


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


@pytest.mark.slow
def test_many_uploads_keep_memory_bounded(run_dir, fsdd_root):
    with explore(run_dir, fsdd_root) as served:
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=120)
        headers = {
            "X-Explorer-Token": served.token,
            "Content-Type": "application/octet-stream",
            "X-Filename": "voice.wav",
        }
        data = small_wav(0)
        started = time.monotonic()
        baseline = None
        dropped = []
        for i in range(UPLOADS):
            connection.request("POST", "/api/upload", body=data, headers=headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            assert response.status == 200, answer
            dropped += answer["dropped"]
            if i == MAX_UPLOADS + 8:
                baseline = rss_mib(served.process.pid)
        connection.close()
        seconds = time.monotonic() - started
        final = rss_mib(served.process.pid)
        clips = ask(served, "GET", "/api/info").json()["clips"]
        print(
            f"{UPLOADS} uploads in {seconds:.0f} s: RSS {baseline:.1f} MiB after "
            f"{MAX_UPLOADS + 9}, {final:.1f} MiB after {UPLOADS}"
        )
        assert len(clips) == CLIPS + MAX_UPLOADS
        assert len(dropped) == UPLOADS - MAX_UPLOADS
        assert clips[-1]["index"] == CLIPS + UPLOADS - 1  # indices stay those each upload got
        assert final - baseline < RSS_GROWTH_MIB
