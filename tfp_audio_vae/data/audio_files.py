"""Reading, checking, resampling and writing audio files: plain functions over NumPy arrays.

Decoding is libsndfile's (through `soundfile`): 8/16/24/32-bit PCM and float WAV, FLAC, OGG
(Vorbis, Opus) and, where this libsndfile build has it, MP3. Resampling is soxr's high-quality
mode. Every problem with a file is an `AudioFileError` that names the file.

#### Examples

```python
info = probe("recordings/0_jackson_0.wav")
# AudioInfo(path=..., sample_rate=8000, channels=1, frames=5148, subtype='PCM_16', format='WAV')
wave, sr = read_audio("song.flac", sample_rate=8000)  # float32 [samples], 8000
write_wav("out/song_8k.wav", wave, sr)
```
"""

from __future__ import annotations

import dataclasses
import math
import os
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from tfp_audio_vae.files import atomic_output

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg") + (
    (".mp3",) if "MP3" in sf.available_formats() else ()
)
"""File name endings `find_audio_files` collects (lower case; matched case-insensitively)."""

# Chunks tf.audio.decode_wav skips when they come before "fmt " (any other one makes it fail).
_TF_SKIPPED_BEFORE_FMT = {b"JUNK", b"bext", b"iXML", b"qlty", b"mext", b"levl", b"link", b"axml"}
_INT32_MAX = 2**31 - 1

MIN_SAMPLE_RATE = 1000
"""The lowest sample rate, in Hz, a file may have; `probe` refuses files below it (a rate of a few
Hz would make one second of the model's 8 kHz audio out of a file's whole length)."""

# Float encodings, the only ones whose samples can be NaN or infinite; `probe` scans them.
_FLOAT_SUBTYPES = {"FLOAT", "DOUBLE"}
_SCAN_FRAMES = 65536  # frames decoded at a time when scanning (bounded memory)

PathLike = str | os.PathLike[str]


class AudioFileError(ValueError):
    """A file that cannot be used as audio; ``str()`` is one line, ``"{path}: {problem}"``.

    Attributes:
      path: the offending file, as a `Path`.
      problem: what is wrong with it, one line.
    """

    def __init__(self, path: PathLike, problem: str) -> None:
        super().__init__(Path(path), " ".join(str(problem).split()))
        self.path: Path = self.args[0]
        self.problem: str = self.args[1]

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """What `probe` learns about an audio file from its header, without decoding the samples.

    Attributes:
      path: the file.
      sample_rate: samples per second per channel, in Hz.
      channels: number of channels (1 mono, 2 stereo, ...).
      frames: length in frames (samples per channel); duration is ``frames / sample_rate`` s.
      subtype: soundfile's sample encoding, e.g. ``'PCM_16'``, ``'FLOAT'``, ``'VORBIS'``.
      format: soundfile's container, e.g. ``'WAV'``, ``'WAVEX'``, ``'FLAC'``, ``'OGG'``.
      tf_wav_layout: whether the RIFF chunks are laid out the way the stricter parser of
        `tf.audio.decode_wav` needs (PCM fmt chunk of 16 or 18 bytes with consistent byte rate
        and block size, only JUNK-like chunks before it, one data chunk, whole chunk headers up
        to the end of the file). False for anything that is not RIFF/WAVE.
    """

    path: Path
    sample_rate: int
    channels: int
    frames: int
    subtype: str
    format: str
    tf_wav_layout: bool = False

    @property
    def tf_decodable(self) -> bool:
        """True if `tf.audio.decode_wav` can read the file: 16-bit PCM WAV in a layout it parses."""
        return self.format == "WAV" and self.subtype == "PCM_16" and self.tf_wav_layout


class _BadHeaderError(Exception):
    """A RIFF/WAVE header that contradicts itself or the file; the message is the problem."""


def _check_riff_wave(f: BinaryIO, size: int) -> None:
    """Walks the RIFF chunks (headers only) and raises `_BadHeaderError` for a lying or cut-off header.

    Catches what libsndfile lets through: a data chunk longer than the bytes that follow it (which
    libsndfile silently shortens), zero channels, a zero sample rate, a missing fmt or data chunk.
    """
    offset = 12  # after "RIFF" <size> "WAVE"
    fmt_seen = False
    while offset + 8 <= size:
        f.seek(offset)
        chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
        body = offset + 8
        if chunk_id == b"fmt ":
            if chunk_size < 16:
                raise _BadHeaderError(f"WAV fmt chunk is {chunk_size} bytes, the minimum is 16")
            if body + 16 > size:
                raise _BadHeaderError("truncated WAV header: the file ends inside the fmt chunk")
            _, channels, sample_rate = struct.unpack("<HHI", f.read(8))
            if channels == 0:
                raise _BadHeaderError("WAV header says the file has 0 channels")
            if sample_rate == 0:
                raise _BadHeaderError("WAV header says the sample rate is 0 Hz")
            fmt_seen = True
        elif chunk_id == b"data":
            if not fmt_seen:
                raise _BadHeaderError("WAV data chunk comes before the fmt chunk")
            if chunk_size > size - body:
                raise _BadHeaderError(
                    f"WAV header says the data chunk holds {chunk_size} bytes but only "
                    f"{size - body} follow it (truncated file or lying header)"
                )
            return
        offset = body + chunk_size + (chunk_size & 1)  # chunks are padded to even sizes
    if not fmt_seen:
        raise _BadHeaderError("truncated WAV header: no fmt chunk")
    raise _BadHeaderError("WAV file has no data chunk")


def _tf_wav_layout(f: BinaryIO, size: int) -> bool:
    """Whether `tf.audio.decode_wav` accepts this RIFF/WAVE layout (a port of its header checks).

    TensorFlow's parser (tensorflow/core/lib/wav/wav_io.cc) does not pad odd-sized chunks, accepts
    only a few chunk kinds before "fmt ", and reads chunk headers up to the very end of the file.
    """

    def read(at: int, fmt: str) -> tuple[int | bytes, ...] | None:
        if at + struct.calcsize(fmt) > size:
            return None
        f.seek(at)
        return struct.unpack(fmt, f.read(struct.calcsize(fmt)))

    offset = 12
    header = read(offset, "<4sI")
    while header is not None and header[0] != b"fmt ":
        if header[0] not in _TF_SKIPPED_BEFORE_FMT or offset + 8 + header[1] > size:
            return False
        offset += 8 + header[1]
        header = read(offset, "<4sI")
    fmt = read(offset + 8, "<HHIIHH")
    if header is None or header[1] not in (16, 18) or fmt is None:
        return False
    audio_format, channels, sample_rate, byte_rate, block_align, bits = fmt
    if (
        audio_format != 1
        or channels < 1
        or bits != 16
        or block_align != 2 * channels
        or byte_rate != block_align * sample_rate
        or sample_rate > _INT32_MAX
    ):
        return False
    offset += 8 + 16 + (2 if header[1] == 18 else 0)
    data_found = False
    while offset < size:
        header = read(offset, "<4sI")
        if header is None or header[1] > _INT32_MAX:
            return False
        offset += 8
        if header[0] == b"data":
            if data_found:
                return False
            data_found = True
            offset += header[1] // block_align * block_align
            if offset > size:
                return False
        else:
            offset += header[1]
    return data_found


def probe(path: PathLike) -> AudioInfo:
    """Checks that ``path`` is a usable audio file and reads its header, without decoding samples.

    Args:
      path: the audio file (any format `read_audio` reads).
    Returns:
      the file's `AudioInfo`.
    Raises:
      AudioFileError: naming the file, if it is missing, a folder, empty, not audio, has a
        truncated or lying WAV header (data chunk longer than the file, 0 channels, 0 Hz), has
        no frames, a sample rate below `MIN_SAMPLE_RATE`, or (float files, scanned block by
        block) a NaN or infinite sample.
    """
    path = Path(path)
    if not path.exists():
        raise AudioFileError(path, "no such file")
    if path.is_dir():
        raise AudioFileError(path, "is a folder, not an audio file")
    if not path.is_file():
        raise AudioFileError(path, "is not a regular file")
    tf_layout = False
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise AudioFileError(path, "empty file (0 bytes)")
            magic = f.read(12)
            if magic[:4] == b"RIFF":
                if len(magic) < 12:
                    raise AudioFileError(path, f"truncated WAV header ({size} bytes)")
                if magic[8:12] == b"WAVE":
                    _check_riff_wave(f, size)
                    tf_layout = _tf_wav_layout(f, size)
    except _BadHeaderError as error:
        raise AudioFileError(path, str(error)) from None
    except OSError as error:
        raise AudioFileError(path, f"cannot be read ({error.strerror or error})") from None
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as error:
        raise AudioFileError(path, f"not a readable audio file ({_reason(error)})") from None
    if info.channels < 1 or info.samplerate < 1:
        raise AudioFileError(path, f"header says {info.channels} channels at {info.samplerate} Hz")
    if info.frames < 1:
        raise AudioFileError(path, "has no audio frames")
    if info.samplerate < MIN_SAMPLE_RATE:
        raise AudioFileError(
            path,
            f"sample rate {info.samplerate} Hz is below the minimum of {MIN_SAMPLE_RATE} Hz "
            "(resample the file, or fix its header)",
        )
    if info.subtype in _FLOAT_SUBTYPES:
        _check_finite(path)
    return AudioInfo(
        path=path,
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        frames=int(info.frames),
        subtype=str(info.subtype),
        format=str(info.format),
        tf_wav_layout=tf_layout,
    )


def _check_finite(path: Path) -> None:
    """Raises `AudioFileError` if any sample of a float file is NaN or infinite (as float32, the
    way `read_audio` decodes it); decodes `_SCAN_FRAMES` frames at a time."""
    try:
        with sf.SoundFile(str(path)) as f:
            for start, block in enumerate(
                f.blocks(blocksize=_SCAN_FRAMES, dtype="float32", always_2d=True)
            ):
                finite = np.isfinite(block).all(axis=1)
                if not finite.all():
                    frame = start * _SCAN_FRAMES + int(np.argmin(finite))
                    raise AudioFileError(
                        path, f"contains NaN or infinite samples (the first at frame {frame})"
                    )
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as error:
        if isinstance(error, AudioFileError):
            raise
        raise AudioFileError(path, f"cannot be decoded ({_reason(error)})") from None


def _reason(error: Exception) -> str:
    """libsndfile's own words for an error, without the file name it repeats."""
    return getattr(error, "error_string", None) or str(error) or type(error).__name__


def read_audio(
    path: PathLike,
    sample_rate: int | None = None,
    mono: bool = True,
    max_duration: float | None = None,
) -> tuple[np.ndarray, int]:
    """Decodes an audio file to float32 samples in [-1, 1], optionally mixed to mono and resampled.

    Args:
      path: any file `probe` accepts: PCM (8/16/24/32-bit) or float WAV, FLAC, OGG, ...
      sample_rate: rate to resample to, in Hz (soxr, high quality); ``None`` keeps the file's.
      mono: average all channels into one.
      max_duration: read only the first this many seconds (and a little more, so resampling
        sees past the cut): memory and time follow what is used, not the file's length.
    Returns:
      ``(wave, rate)``: ``wave`` float32 ``[samples]`` if ``mono`` else ``[samples, channels]``,
      and its sample rate in Hz.
    Raises:
      AudioFileError: naming the file, for anything `probe` refuses, a decoding failure, or
        samples that are NaN or infinite (float files).
      ValueError: if ``sample_rate`` or ``max_duration`` is not positive.
    """
    if sample_rate is not None and not sample_rate > 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if max_duration is not None and not (max_duration > 0 and math.isfinite(max_duration)):
        raise ValueError(f"max_duration must be positive and finite, got {max_duration}")
    info = probe(path)
    frames = -1  # all
    if max_duration is not None:  # what is used, plus 50 ms for the resampler's filter
        frames = min(info.frames, math.ceil((max_duration + 0.05) * info.sample_rate))
    try:
        wave, rate = sf.read(
            str(info.path), frames=frames, dtype="float32", always_2d=True
        )  # [samples, ch]
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as error:
        raise AudioFileError(info.path, f"cannot be decoded ({_reason(error)})") from None
    if wave.shape[0] == 0:
        raise AudioFileError(info.path, "has no audio frames")
    if not np.isfinite(wave).all():
        raise AudioFileError(info.path, "contains NaN or infinite samples")
    if mono:
        wave = wave.mean(axis=1)  # [samples]
    if sample_rate is not None and sample_rate != rate:
        wave = resample(wave, rate, sample_rate)
        rate = sample_rate
    if max_duration is not None:
        wave = wave[: math.ceil(max_duration * rate)]
    return np.clip(wave, -1.0, 1.0).astype(np.float32, copy=False), int(rate)


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Changes a waveform's sample rate with soxr (high quality, linear phase).

    Args:
      wave: float ``[samples]`` or ``[samples, channels]``.
      orig_sr: its sample rate, in Hz.
      target_sr: the wanted sample rate, in Hz.
    Returns:
      float32 ``[round(samples * target_sr / orig_sr)]`` (or ``[..., channels]``); a copy of
      ``wave`` when the rates are equal.
    Raises:
      ValueError: if a rate is not positive or ``wave`` is not 1-D or 2-D.
    """
    if not (orig_sr > 0 and target_sr > 0):
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {target_sr} Hz")
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    if wave.ndim not in (1, 2):
        raise ValueError(f"wave must be [samples] or [samples, channels], got shape {wave.shape}")
    if orig_sr == target_sr:
        return wave.copy()
    return soxr.resample(wave, orig_sr, target_sr, quality="HQ")


def write_wav(path: PathLike, wave: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> None:
    """Writes a WAV file atomically (see `atomic_output`), creating its folder if needed.

    Args:
      path: the file to write (replaced if it exists).
      wave: float ``[samples]`` (or ``[samples, channels]``) in [-1, 1]; louder samples are
        clipped.
      sample_rate: in Hz.
      subtype: soundfile's sample encoding: ``'PCM_16'``, ``'PCM_24'``, ``'PCM_32'``,
        ``'PCM_U8'``, ``'FLOAT'``, ...
    Raises:
      ValueError: for NaN or infinite samples, an empty or wrongly shaped ``wave``, a rate that is
        not positive, or a subtype WAV cannot hold.
    """
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim not in (1, 2) or wave.shape[0] == 0:
        raise ValueError(
            f"wave must be non-empty [samples] or [samples, channels], got {wave.shape}"
        )
    if not np.isfinite(wave).all():
        raise ValueError(f"{path}: wave contains NaN or infinite samples; nothing written")
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if not sf.check_format("WAV", subtype):
        raise ValueError(
            f"WAV cannot hold subtype {subtype!r}; use one of {sorted(sf.available_subtypes('WAV'))}"
        )
    with atomic_output(path) as tmp:
        sf.write(tmp, np.clip(wave, -1.0, 1.0), int(sample_rate), subtype=subtype, format="WAV")


def find_audio_files(folder: PathLike, recursive: bool = True) -> list[Path]:
    """Lists the audio files in a folder, sorted; hidden files and folders are left out.

    Args:
      folder: where to look.
      recursive: also look in subfolders.
    Returns:
      paths whose names end with one of `AUDIO_EXTENSIONS` (any case), sorted.
    Raises:
      FileNotFoundError: if ``folder`` does not exist.
      NotADirectoryError: if ``folder`` is a file.
      ValueError: if it holds no audio files.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder")
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    found = sorted(
        p
        for p in candidates
        if p.suffix.lower() in AUDIO_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.is_file()
    )
    if not found:
        where = " (subfolders included)" if recursive else ""
        raise ValueError(f"{folder}: no {'/'.join(AUDIO_EXTENSIONS)} files in this folder{where}")
    return found
