"""FSDD: labels and splits, finding the data, and a download that refuses anything but the real thing.

Downloads are served from a loopback HTTP server; no test touches the network.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from tfp_audio_vae.data import fsdd
from tfp_audio_vae.data.fsdd import ARCHIVE_TOP, FSDDError, FSDDRecord

from .loopback import LoopbackServer, add_member

SOME = ["0_jackson_0.wav", "3_theo_27.wav", "7_nicolas_4.wav", "9_yweweler_49.wav"]


# --- labels and splits ------------------------------------------------------------------------


def test_split_sizes_and_labels(fsdd_root: Path) -> None:
    train, test, everything = (fsdd.records(fsdd_root, s) for s in ("train", "test", "all"))
    assert (len(train), len(test), len(everything)) == (2700, 300, 3000)
    assert sorted(train + test, key=lambda r: r.path.name) == everything
    assert [r.path.name for r in everything] == sorted(r.path.name for r in everything)
    assert all(r.split == "test" and 0 <= r.index <= 4 for r in test)
    assert all(r.split == "train" and 5 <= r.index <= 49 for r in train)
    assert Counter(r.digit for r in test) == {d: 30 for d in range(10)}
    assert Counter(r.digit for r in train) == {d: 270 for d in range(10)}
    assert Counter(r.speaker for r in everything) == {s: 500 for s in fsdd.speakers()}


def test_speakers_metadata() -> None:
    speakers = fsdd.speakers()
    assert len(speakers) == 6
    assert speakers["jackson"] == {"gender": "male", "accent": "USA/neutral"}
    assert all(set(meta) == {"gender", "accent"} for meta in speakers.values())


def test_parse_filename_reads_the_labels() -> None:
    record = fsdd.parse_filename("some/where/7_nicolas_42.wav")
    assert record == FSDDRecord(Path("some/where/7_nicolas_42.wav"), 7, "nicolas", 42)
    assert record.split == "train"
    assert fsdd.parse_filename(Path("0_george_4.wav")).split == "test"


@pytest.mark.parametrize(
    "name",
    [
        "a_jackson_1.wav",
        "10_jackson_1.wav",
        "1_jackson.wav",
        "1_jackson_1.flac",
        "1_jack_son_1.wav",
        "1__1.wav",
        "1_jackson_x.wav",
        "notes.txt",
    ],
)
def test_parse_filename_refuses_other_names(name: str) -> None:
    with pytest.raises(ValueError, match=re.escape("{digit}_{speaker}_{index}.wav")) as caught:
        fsdd.parse_filename(Path("folder") / name)
    assert str(Path("folder") / name) in str(caught.value)


def test_records_refuses_unknown_splits(fsdd_root: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        fsdd.records(fsdd_root, "validation")


# --- the shipped manifest and verify ----------------------------------------------------------


def test_shipped_manifest_matches_the_fsdd_copy(fsdd_root: Path) -> None:
    lines = fsdd.MANIFEST.read_text().splitlines()
    assert len(lines) == 3000
    assert all(re.fullmatch(r"[0-9a-f]{64}  recordings/\d_[a-z]+_\d+\.wav", line) for line in lines)
    fsdd.verify(fsdd_root)


@pytest.fixture
def small_manifest(fsdd_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Points the package's manifest at one listing only the recordings in SOME."""
    lines = [
        f"{hashlib.sha256((fsdd_root / 'recordings' / n).read_bytes()).hexdigest()}  recordings/{n}"
        for n in SOME
    ]
    manifest = tmp_path / "manifest.sha256"
    manifest.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(fsdd, "MANIFEST", manifest)
    return manifest


def _copy_of_some(fsdd_root: Path, root: Path) -> Path:
    (root / "recordings").mkdir(parents=True)
    for name in SOME:
        (root / "recordings" / name).write_bytes((fsdd_root / "recordings" / name).read_bytes())
    return root


def test_verify_names_mismatched_and_missing_files(
    fsdd_root: Path, tmp_path: Path, small_manifest: Path
) -> None:
    root = _copy_of_some(fsdd_root, tmp_path / "copy")
    fsdd.verify(root)

    damaged = root / "recordings" / SOME[1]
    damaged.write_bytes(damaged.read_bytes()[:-2] + b"\x01\x02")
    (root / "recordings" / SOME[2]).unlink()
    with pytest.raises(FSDDError) as caught:
        fsdd.verify(root)
    message = str(caught.value)
    assert f"recordings/{SOME[1]} (SHA-256 mismatch)" in message
    assert f"recordings/{SOME[2]} (missing)" in message
    assert SOME[0] not in message and "2 of 4" in message


# --- locate and cache_dir ---------------------------------------------------------------------


@pytest.fixture
def no_fsdd_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No $TFP_AUDIO_VAE_FSDD, and an empty cache; returns the cache folder."""
    monkeypatch.delenv(fsdd.ENV_VAR, raising=False)
    monkeypatch.setenv(fsdd.CACHE_ENV_VAR, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fsdd.CACHE_ENV_VAR, str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fsdd.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(fsdd.CACHE_ENV_VAR)
    assert fsdd.cache_dir() == tmp_path / "xdg" / "tfp_audio_vae"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert fsdd.cache_dir() == tmp_path / "home" / ".cache" / "tfp_audio_vae"


def test_locate_prefers_root_then_env_var_then_cache(
    fsdd_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_fsdd_env: Path,
    small_manifest: Path,
) -> None:
    cached = _copy_of_some(fsdd_root, no_fsdd_env / ARCHIVE_TOP)
    assert fsdd.locate(download=False) == cached
    monkeypatch.setenv(fsdd.ENV_VAR, str(fsdd_root))
    assert fsdd.locate(download=False) == fsdd_root
    other = _copy_of_some(fsdd_root, tmp_path / "other")
    assert fsdd.locate(other) == other
    assert [r.path.name for r in fsdd.records(other)] == sorted(SOME)


def test_locate_names_a_root_without_recordings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_fsdd_env: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="the root argument") as caught:
        fsdd.locate(tmp_path)
    assert str(tmp_path) in str(caught.value)
    monkeypatch.setenv(fsdd.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=re.escape(f"${fsdd.ENV_VAR}")):
        fsdd.locate()


def test_locate_without_download_lists_the_places_looked_in(
    fsdd_root: Path, no_fsdd_env: Path, small_manifest: Path
) -> None:
    incomplete = _copy_of_some(fsdd_root, no_fsdd_env / ARCHIVE_TOP)
    (incomplete / "recordings" / SOME[0]).unlink()
    with pytest.raises(FileNotFoundError) as caught:
        fsdd.locate(download=False)
    assert fsdd.ENV_VAR in str(caught.value) and str(incomplete) in str(caught.value)


# --- download, from a loopback server ---------------------------------------------------------


def _archive(fsdd_root: Path, *extra: dict[str, object], damage: str | None = None) -> bytes:
    """A .tar.gz laid out like the FSDD release, holding the SOME recordings (+ extra members)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        add_member(tar, f"{ARCHIVE_TOP}/README.md", b"# FSDD\n")
        for name in SOME:
            data = (fsdd_root / "recordings" / name).read_bytes()
            if name == damage:
                data = data[:-1] + bytes([data[-1] ^ 1])
            add_member(tar, f"{ARCHIVE_TOP}/recordings/{name}", data)
        for member in extra:
            add_member(tar, **member)
    return buffer.getvalue()


def _leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir()) if dest.exists() else []


def test_download_unpacks_verifies_and_tidies_up(
    fsdd_root: Path, tmp_path: Path, server: LoopbackServer, small_manifest: Path
) -> None:
    url = server.url("/fsdd.tar.gz", _archive(fsdd_root))
    dest = tmp_path / "dest"

    root = fsdd.download(dest, url=url, progress=False)

    assert root == dest / ARCHIVE_TOP
    assert sorted(p.name for p in (root / "recordings").iterdir()) == sorted(SOME)
    fsdd.verify(root)
    assert _leftovers(dest) == [ARCHIVE_TOP]  # no archive, .part or unpacking folder
    (root / "recordings" / SOME[0]).unlink()
    assert fsdd.download(dest, url=url, progress=False) == root  # replaces a damaged copy
    fsdd.verify(root)
    assert _leftovers(dest) == [ARCHIVE_TOP]


def test_locate_downloads_into_the_cache(
    fsdd_root: Path,
    server: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    no_fsdd_env: Path,
    small_manifest: Path,
) -> None:
    monkeypatch.setattr(fsdd, "ARCHIVE_URL", server.url("/fsdd.tar.gz", _archive(fsdd_root)))
    with pytest.raises(FileNotFoundError):
        fsdd.locate(download=False)
    assert fsdd.locate() == no_fsdd_env / ARCHIVE_TOP
    assert fsdd.locate(download=False) == no_fsdd_env / ARCHIVE_TOP


def test_a_truncated_download_is_refused(
    fsdd_root: Path, tmp_path: Path, server: LoopbackServer, small_manifest: Path
) -> None:
    body = _archive(fsdd_root)
    url = server.url("/cut.tar.gz", body[: len(body) // 2], declared_length=len(body))
    with pytest.raises(FSDDError, match=f"stopped after {len(body) // 2} of {len(body)} bytes"):
        fsdd.download(tmp_path / "dest", url=url, progress=False)
    assert _leftovers(tmp_path / "dest") == []


def test_http_errors_and_non_archives_are_refused(
    fsdd_root: Path, tmp_path: Path, server: LoopbackServer, small_manifest: Path
) -> None:
    with pytest.raises(FSDDError, match="could not download .*404"):
        fsdd.download(tmp_path / "dest", url=server.base + "/missing.tar.gz", progress=False)
    page = server.url("/page.html", b"<html>rate limited</html>")
    with pytest.raises(FSDDError, match="damaged or not a .tar.gz"):
        fsdd.download(tmp_path / "dest", url=page, progress=False)
    assert _leftovers(tmp_path / "dest") == []


def test_a_damaged_recording_in_the_archive_is_refused(
    fsdd_root: Path, tmp_path: Path, server: LoopbackServer, small_manifest: Path
) -> None:
    url = server.url("/bad.tar.gz", _archive(fsdd_root, damage=SOME[3]))
    with pytest.raises(FSDDError, match=re.escape(f"recordings/{SOME[3]} (SHA-256 mismatch)")):
        fsdd.download(tmp_path / "dest", url=url, progress=False)
    assert _leftovers(tmp_path / "dest") == []


MALICIOUS = {
    "parent": {"name": "../evil", "data": b"owned"},
    "nested_parent": {"name": f"{ARCHIVE_TOP}/recordings/../../../evil", "data": b"owned"},
    "absolute": {"name": "/tmp/evil", "data": b"owned"},
    "symlink_out": {
        "name": f"{ARCHIVE_TOP}/recordings/link.wav",
        "type": tarfile.SYMTYPE,
        "linkname": "../../../evil",
    },
    "absolute_symlink": {
        "name": f"{ARCHIVE_TOP}/recordings/passwd.wav",
        "type": tarfile.SYMTYPE,
        "linkname": "/etc/passwd",
    },
    "hardlink_out": {
        "name": f"{ARCHIVE_TOP}/recordings/hard.wav",
        "type": tarfile.LNKTYPE,
        "linkname": "../evil",
    },
    "device": {"name": f"{ARCHIVE_TOP}/recordings/dev.wav", "type": tarfile.CHRTYPE},
}


@pytest.mark.parametrize("kind", sorted(MALICIOUS))
def test_malicious_archives_are_refused(
    fsdd_root: Path, tmp_path: Path, server: LoopbackServer, small_manifest: Path, kind: str
) -> None:
    member = MALICIOUS[kind]
    dest = tmp_path / "deep" / "dest"
    url = server.url("/evil.tar.gz", _archive(fsdd_root, member))
    with pytest.raises(FSDDError, match="refusing to unpack") as caught:
        fsdd.download(dest, url=url, progress=False)
    assert repr(member["name"]) in str(caught.value)
    assert _leftovers(dest) == []
    assert not any(p.name == "evil" for p in tmp_path.rglob("*"))


def test_a_harmless_link_inside_the_archive_is_accepted(
    fsdd_root: Path, tmp_path: Path, server: LoopbackServer, small_manifest: Path
) -> None:
    link = {
        "name": f"{ARCHIVE_TOP}/latest.wav",
        "type": tarfile.SYMTYPE,
        "linkname": f"recordings/{SOME[0]}",
    }
    url = server.url("/fsdd.tar.gz", _archive(fsdd_root, link))
    root = fsdd.download(tmp_path / "dest", url=url, progress=False)
    fsdd.verify(root)
