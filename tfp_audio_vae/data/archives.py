"""Fetching and unpacking data set archives safely: the steps FSDD and SC09 share.

A data set module (`fsdd`, `sc09`) decides what to check (a manifest of every file, or the
archive's own SHA-256); this module streams the download to a ``.part`` file renamed only when
complete, refuses archive members that could write outside the target (absolute paths, ``..``,
links pointing out, device files), and swaps a finished folder into place in one rename.
Every error names the URL, archive or member that went wrong.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import posixpath
import re
import secrets
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

CACHE_ENV_VAR = "TFP_AUDIO_VAE_CACHE"


class DatasetError(RuntimeError):
    """A data set could not be downloaded, unpacked or verified; the message names the file or URL."""


def cache_dir() -> Path:
    """Where the package keeps downloads: ``$TFP_AUDIO_VAE_CACHE``, else
    ``$XDG_CACHE_HOME/tfp_audio_vae``, else ``~/.cache/tfp_audio_vae``."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "tfp_audio_vae"
    return Path.home() / ".cache" / "tfp_audio_vae"


def find_dataset(
    name: str,
    root: str | os.PathLike[str] | None,
    env_var: str,
    cached: Path,
    *,
    checked: Callable[[Path, str], Path],
    is_complete: Callable[[Path], bool],
    download: Callable[[], Path] | None,
    hint: str,
) -> Path:
    """Finds a data set's folder: ``root``, else ``$env_var``, else ``cached`` if complete, else
    ``download()``; the order every data set's ``locate`` follows.

    Args:
      name: the data set's name, for messages (``"FSDD"``).
      root: a folder to use; if given, nothing else is tried.
      env_var: the environment variable that may name the folder.
      cached: where a download puts it.
      checked: takes a given folder and where it came from; returns it or raises
        FileNotFoundError saying what is missing.
      is_complete: whether ``cached`` holds the whole data set.
      download: downloads it and returns its folder; ``None`` to never download.
      hint: what ``env_var`` should name, for the message (``"a folder holding recordings/"``).
    Raises:
      FileNotFoundError: from ``checked``, or when the data set is nowhere and ``download`` is
        None (the message lists the places looked in).
    """
    if root is not None:
        return checked(Path(root), "the root argument")
    if os.environ.get(env_var):
        return checked(Path(os.environ[env_var]).expanduser(), f"${env_var}")
    if is_complete(cached):
        return cached
    if download is None:
        raise FileNotFoundError(
            f"{name} not found. Looked in: ${env_var} (not set); the cache {cached} (missing or "
            f"incomplete). Set {env_var} to {hint}, or allow a download."
        )
    return download()


def sha256(path: Path) -> str:
    """The SHA-256 of a file, hex, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    url: str,
    archive: Path,
    *,
    desc: str,
    progress: bool,
    error: type[DatasetError] = DatasetError,
) -> None:
    """Streams ``url`` to ``archive``.part, renamed to ``archive`` only once fully received.

    Args:
      url: what to download.
      archive: the file to create.
      desc: the progress bar's label.
      progress: show a progress bar (tqdm, on stderr).
      error: the `DatasetError` subclass to raise.
    Raises:
      error: naming ``url``, for an HTTP or network failure or a download cut short of its
        Content-Length; nothing is kept.
    """
    part = archive.with_name(archive.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            length = response.headers.get("Content-Length", "")
            expected = int(length) if length.isdigit() else None
            received = 0
            with tqdm(
                total=expected, unit="B", unit_scale=True, desc=desc, disable=not progress
            ) as bar:
                while block := response.read(1 << 20):
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
        if expected is not None and received != expected:
            raise error(
                f"download of {url} stopped after {received} of {expected} bytes; "
                "nothing was kept, try again"
            )
        os.replace(part, archive)
    except (OSError, http.client.HTTPException) as failure:  # URLError, timeouts, resets
        raise error(f"could not download {url}: {failure}") from failure
    finally:
        part.unlink(missing_ok=True)


def refusal(member: tarfile.TarInfo) -> str | None:
    """Why an archive member must not be unpacked, or None if it is harmless."""
    name = member.name
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "has an absolute path"
    if ".." in re.split(r"[/\\]", name):
        return "has '..' in its path"
    if member.isdev():
        return "is a device file or FIFO"
    if member.issym() or member.islnk():
        base = posixpath.dirname(name) if member.issym() else ""
        target = posixpath.normpath(posixpath.join(base, member.linkname))
        if member.linkname.startswith("/") or target == ".." or target.startswith("../"):
            return f"is a link to {member.linkname!r}, outside the archive"
    return None


def unpack(
    archive: Path,
    staging: Path,
    wanted: Callable[[str], bool],
    *,
    error: type[DatasetError] = DatasetError,
) -> int:
    """Unpacks the regular files of a ``.tar.gz`` whose names ``wanted`` accepts into ``staging``.

    Every member is checked (`refusal`) before anything is written, wanted or not.

    Args:
      archive: the ``.tar.gz``.
      staging: the folder to unpack into.
      wanted: takes a member's name (with any leading ``./`` removed) and says whether to keep it.
      error: the `DatasetError` subclass to raise.
    Returns:
      the number of files unpacked.
    Raises:
      error: naming the archive (and the member) for a refused member, no wanted file, or an
        archive that is damaged or not a ``.tar.gz``.
    """
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                if (why := refusal(member)) is not None:
                    raise error(f"{archive}: refusing to unpack: member {member.name!r} {why}")
            keep = [m for m in members if m.isfile() and wanted(m.name.removeprefix("./"))]
            if not keep:
                raise error(f"{archive}: none of the expected files are in the archive")
            tar.extractall(staging, members=keep, filter="data")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as failure:
        raise error(f"{archive}: damaged or not a .tar.gz archive ({failure})") from failure
    return len(keep)


def install(
    url: str,
    archive: Path,
    root: Path,
    *,
    wanted: Callable[[str], bool],
    check_unpacked: Callable[[Path], None],
    check_archive: Callable[[Path], None] | None = None,
    top: str = "",
    desc: str,
    progress: bool,
    error: type[DatasetError] = DatasetError,
) -> Path:
    """Downloads ``url`` to ``archive`` (unless a complete one is there), checks it, unpacks the
    ``wanted`` members into a temporary folder beside it, checks them, and moves the folder onto
    ``root``. The archive is deleted at the end; a bad one at once, so it is never reused. On
    failure nothing half-made is left.

    Args:
      url, archive: where from, and the ``.tar.gz`` file to download to.
      root: the data set's folder, replaced if it exists.
      wanted: which members to unpack (see `unpack`).
      check_unpacked: takes the unpacked folder (``top`` inside the temporary one) and raises
        ``error`` if it is not the data set.
      check_archive: takes the archive and raises ``error`` if it is not the pinned one
        (before anything is unpacked).
      top: the folder inside the archive that becomes ``root`` (``""``: the whole archive).
      desc, progress: of the progress bar (see `fetch`).
      error: the `DatasetError` subclass raised.
    Returns:
      ``root``.
    """
    if not archive.is_file():
        fetch(url, archive, desc=desc, progress=progress, error=error)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}-unpack-", dir=archive.parent))
    try:
        if check_archive is not None:
            check_archive(archive)
        unpack(archive, staging, wanted, error=error)
        check_unpacked(staging / top)
        move_into_place(staging / top, root)
    except error:
        archive.unlink(missing_ok=True)  # a bad archive must not be reused
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    archive.unlink()
    return root


def move_into_place(new: Path, root: Path) -> None:
    """Renames ``new`` onto ``root``; an existing ``root`` is swapped out, then deleted."""
    if not root.exists():
        os.replace(new, root)
        return
    old = root.with_name(f".{root.name}.old-{secrets.token_hex(4)}")
    os.replace(root, old)
    os.replace(new, root)
    shutil.rmtree(old)
