"""A loopback HTTP server for download tests, and a helper to build test archives: no test
that downloads reaches past 127.0.0.1."""

from __future__ import annotations

import http.server
import io
import tarfile
import threading


class LoopbackServer:
    """Serves ``routes[path] = (body, declared_length)`` on 127.0.0.1; a declared length longer
    than the body makes a truncated download."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, int]] = {}
        routes = self.routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path not in routes:
                    self.send_error(404)
                    return
                body, length = routes[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, body: bytes, declared_length: int | None = None) -> str:
        self.routes[path] = (body, len(body) if declared_length is None else declared_length)
        return self.base + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def add_member(tar: tarfile.TarFile, name: str, data: bytes = b"", **fields: object) -> None:
    """Adds a member ``name`` holding ``data`` to ``tar``, with any `tarfile.TarInfo` fields set."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if data else None)


def sc09_archive(clips_per_word: int = 4, seconds: float = 1.0, *, damage: bool = False) -> bytes:
    """A ``.tar.gz`` laid out like Speech Commands v0.02 (``./`` member names, as the real one):
    ``clips_per_word`` 16 kHz WAVs for each digit word (a tone whose pitch follows the digit) and
    for two other words, background noise, a licence, and the two split lists. Clip 0 of each
    word is listed for testing, clip 1 for validation, the rest train. ``damage`` flips one byte
    of one clip (the archive's checksum changes)."""
    import numpy as np
    import soundfile as sf

    from tfp_audio_vae.data.sc09 import CLASS_NAMES, SAMPLE_RATE

    buffer = io.BytesIO()
    testing, validation = [], []
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        add_member(tar, "./LICENSE", b"CC BY 4.0\n")
        for w, word in enumerate([*CLASS_NAMES, "bed", "marvin", "_background_noise_"]):
            for i in range(clips_per_word):
                name = f"{word}/{w:02x}{i:06x}_nohash_{i % 2}.wav"
                wave = 0.3 * np.sin(2 * np.pi * (200 + 60 * w) * t) * np.hanning(len(t))
                wav = io.BytesIO()
                sf.write(wav, wave, SAMPLE_RATE, subtype="PCM_16", format="WAV")
                data = wav.getvalue()
                if damage and w == 3 and i == 0:
                    data = data[:-1] + bytes([data[-1] ^ 1])
                add_member(tar, f"./{name}", data)
                [testing, validation, []][min(i, 2)].append(name)
        add_member(tar, "./testing_list.txt", "\n".join(testing).encode() + b"\n")
        add_member(tar, "./validation_list.txt", "\n".join(validation).encode() + b"\n")
    return buffer.getvalue()
