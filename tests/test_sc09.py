"""SC09: a download checked by the archive's SHA-256, unpacking only the digit words, the official
split and the labels. The archive is a small one of the same layout, served from 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from tfp_audio_vae.data import sc09
from tfp_audio_vae.data.sc09 import CLASS_NAMES, SC09Error

from .loopback import LoopbackServer, add_member, sc09_archive

ARCHIVE = sc09_archive(clips_per_word=4, seconds=0.25)


def _download(server: LoopbackServer, dest: Path, body: bytes = ARCHIVE, **pins: object) -> Path:
    url = server.url("/speech_commands_v0.02.tar.gz", body)
    pins = {"size": len(body), "digest": hashlib.sha256(body).hexdigest(), **pins}
    return sc09.download(dest, url=url, progress=False, **pins)


def test_download_unpacks_only_the_digit_words_and_the_lists(
    server: LoopbackServer, tmp_path: Path
) -> None:
    root = _download(server, tmp_path / "dest")
    assert root == tmp_path / "dest" / sc09.FOLDER
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [*CLASS_NAMES, "testing_list.txt", "validation_list.txt"]
    )
    assert all(len(list((root / word).glob("*.wav"))) == 4 for word in CLASS_NAMES)
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == [sc09.FOLDER]  # no archive
    assert sc09.locate(root) == root


def test_split_labels_and_speakers(server: LoopbackServer, tmp_path: Path) -> None:
    root = _download(server, tmp_path / "dest")
    train, validation, test, everything = (
        sc09.records(root, s) for s in ("train", "validation", "test", "all")
    )
    assert (len(train), len(validation), len(test), len(everything)) == (20, 10, 10, 40)
    assert Counter(r.label for r in test) == {d: 1 for d in range(10)}
    assert all(r.path.name.startswith(f"{r.label:02x}000000_") for r in test)
    assert all(r.path.parent.name == CLASS_NAMES[r.label] for r in everything)
    assert {r.split for r in train} == {"train"}
    seven = next(r for r in validation if r.label == 7)
    assert seven.speaker == "07000001" and seven.path.name == "07000001_nohash_1.wav"
    with pytest.raises(ValueError, match="split"):
        sc09.records(root, "dev")


def test_a_corrupted_archive_is_refused_by_name(server: LoopbackServer, tmp_path: Path) -> None:
    pinned = hashlib.sha256(ARCHIVE).hexdigest()
    damaged = sc09_archive(clips_per_word=4, seconds=0.25, damage=True)
    with pytest.raises(SC09Error, match="speech_commands_v0.02.tar.gz .*pinned SHA-256"):
        _download(server, tmp_path / "dest", damaged, size=len(damaged), digest=pinned)
    with pytest.raises(SC09Error, match=f"is {len(ARCHIVE)} bytes, expected 5"):
        _download(server, tmp_path / "dest", size=5)
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == []  # nothing kept


def test_links_out_of_the_archive_are_refused(server: LoopbackServer, tmp_path: Path) -> None:
    buffer = io.BytesIO(ARCHIVE)
    out = io.BytesIO()
    with tarfile.open(fileobj=buffer) as src, tarfile.open(fileobj=out, mode="w:gz") as tar:
        for member in src.getmembers():
            tar.addfile(member, src.extractfile(member))
        add_member(tar, "./seven/evil.wav", type=tarfile.SYMTYPE, linkname="../../etc/passwd")
    with pytest.raises(SC09Error, match="refusing to unpack: member './seven/evil.wav' is a link"):
        _download(server, tmp_path / "dest", out.getvalue())
    assert not (tmp_path / "dest" / sc09.FOLDER).exists()


def test_locate_prefers_root_then_env_var_then_cache(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFP_AUDIO_VAE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(sc09.ENV_VAR, raising=False)
    with pytest.raises(FileNotFoundError, match=f"SC09 not found. Looked in: \\${sc09.ENV_VAR}"):
        sc09.locate(download=False)
    monkeypatch.setattr(sc09, "ARCHIVE_URL", server.url("/sc09.tar.gz", ARCHIVE))
    monkeypatch.setattr(sc09, "ARCHIVE_SIZE", len(ARCHIVE))
    monkeypatch.setattr(sc09, "ARCHIVE_SHA256", hashlib.sha256(ARCHIVE).hexdigest())
    cached = sc09.locate()  # downloads into the cache
    assert cached == tmp_path / "cache" / sc09.FOLDER
    assert sc09.locate(download=False) == cached
    monkeypatch.setenv(sc09.ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=f"{tmp_path} .from \\${sc09.ENV_VAR}. is not"):
        sc09.locate()
    assert sc09.locate(cached) == cached
