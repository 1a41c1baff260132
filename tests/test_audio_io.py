"""audio_io: every format decodes to mono float32 at the asked rate; every bad file names itself."""

from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tfp_audio_vae.data.audio_files import (
    AUDIO_EXTENSIONS,
    AudioFileError,
    AudioInfo,
    find_audio_files,
    probe,
    read_audio,
    resample,
    write_wav,
)
from tfp_audio_vae.files import atomic_output

CLIP = "recordings/0_jackson_0.wav"


@pytest.fixture(scope="module")
def clip_path(fsdd_root: Path) -> Path:
    return fsdd_root / CLIP


@pytest.fixture(scope="module")
def reference(clip_path: Path) -> np.ndarray:
    """The FSDD clip as float32 [samples] at 8 kHz, scaled to a peak of 0.8 (so 8-bit PCM is fair)."""
    wave, rate = sf.read(clip_path, dtype="float32")
    assert rate == 8000
    return (0.8 * wave / np.abs(wave).max()).astype(np.float32)


@pytest.fixture(scope="module")
def clip_bytes(clip_path: Path) -> bytes:
    return clip_path.read_bytes()


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def _riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _chunk(chunk_id: bytes, data: bytes, size: int | None = None, pad: bool = True) -> bytes:
    header = chunk_id + struct.pack("<I", len(data) if size is None else size)
    return header + data + (b"\0" if pad and len(data) % 2 else b"")


def _fmt(channels: int = 1, rate: int = 8000, bits: int = 16, tag: int = 1, extra: bytes = b""):
    block = channels * bits // 8
    return _chunk(
        b"fmt ", struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits) + extra
    )


# --- probe and read_audio on good files -------------------------------------------------------


def test_probe_reads_the_header_of_an_fsdd_clip(clip_path: Path) -> None:
    info = probe(clip_path)
    assert info == AudioInfo(clip_path, 8000, 1, info.frames, "PCM_16", "WAV", tf_wav_layout=True)
    assert info.frames == sf.info(clip_path).frames > 0
    assert info.tf_decodable


# (file name, soundfile.write keywords, sample rate, channels, lowest correlation allowed)
FORMATS = [
    ("pcm_u8.wav", {"subtype": "PCM_U8"}, 8000, 1, 0.99),
    ("pcm_16.wav", {"subtype": "PCM_16"}, 8000, 1, 0.999),
    ("pcm_24.wav", {"subtype": "PCM_24"}, 8000, 1, 0.999),
    ("pcm_32.wav", {"subtype": "PCM_32"}, 8000, 1, 0.999),
    ("float.wav", {"subtype": "FLOAT"}, 8000, 1, 0.999),
    ("double.wav", {"subtype": "DOUBLE"}, 8000, 1, 0.999),
    ("wavex.wav", {"format": "WAVEX", "subtype": "PCM_16"}, 8000, 1, 0.999),
    ("lossless.flac", {"subtype": "PCM_16"}, 8000, 1, 0.999),
    ("vorbis.ogg", {"subtype": "VORBIS"}, 8000, 1, 0.99),
    ("opus.ogg", {"format": "OGG", "subtype": "OPUS"}, 8000, 1, 0.98),
    ("stereo.wav", {"subtype": "PCM_16"}, 8000, 2, 0.999),
    ("surround.flac", {"subtype": "PCM_24"}, 8000, 6, 0.999),
    ("cd_rate.wav", {"subtype": "PCM_16"}, 44100, 1, 0.999),
    ("cd_stereo.flac", {"subtype": "PCM_16"}, 44100, 2, 0.999),
    ("hires.wav", {"subtype": "PCM_24"}, 96000, 1, 0.999),
    ("hires.flac", {"subtype": "PCM_24"}, 96000, 1, 0.999),
]
if ".mp3" in AUDIO_EXTENSIONS:
    FORMATS.append(("lossy.mp3", {"format": "MP3"}, 44100, 1, 0.99))


@pytest.mark.parametrize(("name", "options", "rate", "channels", "min_corr"), FORMATS)
def test_read_audio_decodes_every_format_to_mono_float32_at_8khz(
    tmp_path: Path,
    reference: np.ndarray,
    name: str,
    options: dict[str, str],
    rate: int,
    channels: int,
    min_corr: float,
) -> None:
    wave = soxr.resample(reference, 8000, rate, quality="VHQ") if rate != 8000 else reference
    # Channel c carries the clip scaled by (c + 1) / channels, so the mono mix is a known gain.
    gains = (np.arange(channels) + 1) / channels
    sf.write(tmp_path / name, wave[:, None] * gains, rate, **options)

    out, out_rate = read_audio(tmp_path / name, sample_rate=8000)

    assert out_rate == 8000
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - len(reference)) <= 2
    assert np.abs(out).max() <= 1.0
    assert _correlation(out, reference) > min_corr
    n = min(len(out), len(reference))
    assert np.dot(out[:n], reference[:n]) / np.dot(reference, reference) == pytest.approx(
        gains.mean(), rel=0.05
    )


def test_read_audio_keeps_channels_and_rate_when_asked(tmp_path: Path, reference: np.ndarray):
    stereo = np.stack([reference, -0.5 * reference], axis=1)  # [samples, 2]
    sf.write(tmp_path / "stereo.flac", stereo, 8000, subtype="PCM_24")

    out, rate = read_audio(tmp_path / "stereo.flac", mono=False)

    assert rate == 8000 and out.shape == stereo.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, stereo, atol=1e-4)


def test_read_audio_clips_loud_float_files_and_refuses_nan(tmp_path: Path, reference: np.ndarray):
    sf.write(tmp_path / "loud.wav", 3.0 * reference, 8000, subtype="FLOAT")
    out, _ = read_audio(tmp_path / "loud.wav")
    assert np.abs(out).max() == 1.0

    broken = reference.copy()
    broken[100] = np.nan
    sf.write(tmp_path / "nan.wav", broken, 8000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="NaN") as caught:
        read_audio(tmp_path / "nan.wav")
    assert caught.value.path == tmp_path / "nan.wav"


def test_read_audio_refuses_a_rate_that_is_not_positive(clip_path: Path) -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        read_audio(clip_path, sample_rate=0)


# --- resample and write_wav -------------------------------------------------------------------


def test_resample_changes_length_by_the_rate_ratio(reference: np.ndarray) -> None:
    up = resample(reference, 8000, 16000)
    assert up.dtype == np.float32 and len(up) == 2 * len(reference)
    assert _correlation(resample(up, 16000, 8000), reference) > 0.999  # band edge aside
    same = resample(reference, 8000, 8000)
    assert same is not reference and np.array_equal(same, reference)
    assert resample(np.zeros((100, 3)), 8000, 4000).shape == (50, 3)


@pytest.mark.parametrize(("orig_sr", "target_sr"), [(0, 8000), (8000, -1), (float("nan"), 8000)])
def test_resample_refuses_rates_that_are_not_positive(orig_sr: float, target_sr: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        resample(np.zeros(10), orig_sr, target_sr)


def test_write_wav_round_trips_clips_and_makes_folders(tmp_path: Path, reference: np.ndarray):
    path = tmp_path / "new" / "folder" / "out.wav"
    write_wav(path, 2.0 * reference, 8000)
    info = probe(path)
    assert (info.format, info.subtype, info.sample_rate, info.frames) == (
        "WAV",
        "PCM_16",
        8000,
        len(reference),
    )
    assert info.tf_decodable
    back, _ = read_audio(path)
    np.testing.assert_allclose(back, np.clip(2.0 * reference, -1, 1), atol=1 / 32767)

    write_wav(path, reference, 8000, subtype="PCM_24")
    assert probe(path).subtype == "PCM_24"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.wav"]  # no temporary files


@pytest.mark.parametrize(
    ("wave", "rate", "subtype", "match"),
    [
        (np.array([0.1, np.nan]), 8000, "PCM_16", "NaN"),
        (np.array([0.1, np.inf]), 8000, "PCM_16", "NaN or infinite"),
        (np.zeros(0), 8000, "PCM_16", "non-empty"),
        (np.zeros((2, 2, 2)), 8000, "PCM_16", "non-empty"),
        (np.zeros(10), 0, "PCM_16", "sample_rate"),
        (np.zeros(10), 8000, "VORBIS", "VORBIS"),
    ],
)
def test_write_wav_refuses_bad_input_and_writes_nothing(
    tmp_path: Path, wave: np.ndarray, rate: int, subtype: str, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        write_wav(tmp_path / "out.wav", wave, rate, subtype=subtype)
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_keeps_the_old_file_when_the_block_fails(tmp_path: Path) -> None:
    target = tmp_path / "model.weights.h5"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".weights.h5")
        tmp.write_text("half-writ")
        raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]

    with atomic_output(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert list(tmp_path.iterdir()) == [target]


# --- bad files: each error names the file -----------------------------------------------------


def _with_data_size(wav: bytes, size: int) -> bytes:
    at = wav.index(b"data") + 4
    return wav[:at] + struct.pack("<I", size) + wav[at + 4 :]


BAD_FILES = {
    "empty.wav": (lambda wav: b"", "empty file"),
    "text.wav": (lambda wav: b"this is not audio at all\n" * 20, "not a readable audio file"),
    "cut_in_riff.wav": (lambda wav: wav[:10], "truncated WAV header"),
    "cut_in_fmt.wav": (lambda wav: wav[:30], "truncated WAV header"),
    "no_fmt.wav": (lambda wav: wav[:12], "truncated WAV header"),
    "cut_in_data.wav": (lambda wav: wav[:1000], "data chunk holds"),
    "data_too_big.wav": (lambda wav: _with_data_size(wav, len(wav)), "data chunk holds"),
    "streaming_size.wav": (lambda wav: _with_data_size(wav, 0xFFFFFFFF), "data chunk holds"),
    "zero_channels.wav": (lambda wav: wav[:22] + b"\0\0" + wav[24:], "0 channels"),
    "zero_rate.wav": (lambda wav: wav[:24] + b"\0\0\0\0" + wav[28:], "sample rate is 0 Hz"),
    "zero_frames.wav": (lambda wav: _with_data_size(wav[:44], 0), "no audio frames"),
    "no_data.wav": (lambda wav: _riff(_fmt()), "no data chunk"),
    "short_fmt.wav": (
        lambda wav: _riff(_chunk(b"fmt ", b"\1\0\1\0"), _chunk(b"data", b"\0" * 8)),
        "fmt chunk is 4 bytes",
    ),
    "data_first.wav": (lambda wav: _riff(_chunk(b"data", b"\0" * 8), _fmt()), "before the fmt"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_raise_audio_file_error_naming_the_file(
    tmp_path: Path, clip_bytes: bytes, name: str
) -> None:
    make, problem = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(make(clip_bytes))
    for read in (probe, read_audio):
        with pytest.raises(AudioFileError, match=problem) as caught:
            read(path)
        assert caught.value.path == path
        assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


def test_missing_paths_and_folders_are_audio_file_errors(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="no such file") as caught:
        read_audio(tmp_path / "missing.wav")
    assert caught.value.path == tmp_path / "missing.wav"
    with pytest.raises(AudioFileError, match="is a folder"):
        probe(tmp_path)


def test_audio_file_error_is_one_line_and_pickles() -> None:
    error = AudioFileError("a/b.wav", "bad\nheader:  twice")
    assert str(error) == "a/b.wav: bad header: twice"
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.problem, str(copy)) == (Path("a/b.wav"), error.problem, str(error))


# --- tf_decodable agrees with tf.audio.decode_wav ---------------------------------------------

PCM = np.arange(-500, 500, dtype="<i2").tobytes()
LAYOUTS = {
    "plain": _riff(_fmt(), _chunk(b"data", PCM)),
    "fmt_of_18_bytes": _riff(_fmt(extra=b"\0\0"), _chunk(b"data", PCM)),
    "junk_before_fmt": _riff(_chunk(b"JUNK", b"\0" * 28), _fmt(), _chunk(b"data", PCM)),
    "list_before_fmt": _riff(_chunk(b"LIST", b"INFOabcd"), _fmt(), _chunk(b"data", PCM)),
    "list_after_fmt": _riff(_fmt(), _chunk(b"LIST", b"INFOabcd"), _chunk(b"data", PCM)),
    "odd_chunk_before_data": _riff(_fmt(), _chunk(b"abcd", b"xyz"), _chunk(b"data", PCM)),
    "odd_chunk_after_data": _riff(_fmt(), _chunk(b"data", PCM), _chunk(b"LIST", b"xyz")),
    "three_stray_bytes_at_end": _riff(_fmt(), _chunk(b"data", PCM)) + b"abc",
    "two_data_chunks": _riff(_fmt(), _chunk(b"data", PCM), _chunk(b"data", PCM)),
    "stereo": _riff(_fmt(channels=2), _chunk(b"data", PCM)),
    "wrong_byte_rate": _riff(
        _chunk(b"fmt ", struct.pack("<HHIIHH", 1, 1, 8000, 8000, 2, 16)), _chunk(b"data", PCM)
    ),
    "pcm_24": _riff(_fmt(bits=24), _chunk(b"data", PCM[:999])),
    "float": _riff(_fmt(bits=32, tag=3), _chunk(b"data", b"\0" * 400)),
}


def test_tf_decodable_is_exactly_what_tf_audio_decode_wav_reads(tmp_path: Path) -> None:
    import tensorflow as tf

    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(100), 8000, format="WAVEX", subtype="PCM_16")
    layouts = {**LAYOUTS, "wavex": buffer.getvalue()}
    for name, data in layouts.items():
        path = tmp_path / f"{name}.wav"
        path.write_bytes(data)
        try:
            tf.audio.decode_wav(data)
            tf_reads = True
        except tf.errors.InvalidArgumentError:
            tf_reads = False
        try:
            decodable = probe(path).tf_decodable
        except AudioFileError:  # libsndfile refuses it too (two data chunks): never in-graph
            decodable = None
        assert decodable in (tf_reads, None), name
    assert probe(tmp_path / "plain.wav").tf_decodable


# --- find_audio_files -------------------------------------------------------------------------


def test_find_audio_files_lists_audio_sorted_and_skips_hidden(tmp_path: Path) -> None:
    for name in [
        "b.wav",
        "a.FLAC",
        "sub/c.ogg",
        "sub/deeper/d.wav",
        "notes.txt",
        ".hidden.wav",
        ".git/e.wav",
        "._a.wav",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "folder.wav").mkdir()

    assert find_audio_files(tmp_path) == [
        tmp_path / "a.FLAC",
        tmp_path / "b.wav",
        tmp_path / "sub" / "c.ogg",
        tmp_path / "sub" / "deeper" / "d.wav",
    ]
    assert find_audio_files(tmp_path, recursive=False) == [tmp_path / "a.FLAC", tmp_path / "b.wav"]


def test_find_audio_files_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such folder") as caught:
        find_audio_files(tmp_path / "missing")
    assert str(tmp_path / "missing") in str(caught.value)

    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(ValueError, match="no .wav") as caught:
        find_audio_files(tmp_path)
    assert str(tmp_path) in str(caught.value)

    with pytest.raises(NotADirectoryError, match="not a folder"):
        find_audio_files(tmp_path / "notes.txt")


# --- fuzz: the only exception probe/read_audio may raise is AudioFileError --------------------


def _check_never_crashes(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        info = probe(path)
    except AudioFileError as error:
        event("probe refused")
        assert error.path == path
        with pytest.raises(AudioFileError):
            read_audio(path)
        return
    event(f"probe accepted {info.format} {info.subtype}, tf_decodable={info.tf_decodable}")
    if info.tf_decodable:
        import tensorflow as tf

        audio, rate = tf.audio.decode_wav(data)
        assert int(rate) == info.sample_rate and audio.shape[1] == info.channels
    try:
        wave, rate = read_audio(path, sample_rate=8000)
    except AudioFileError as error:
        event("read_audio refused")
        assert error.path == path
        return
    assert wave.dtype == np.float32 and wave.ndim == 1 and rate == 8000
    assert np.isfinite(wave).all() and np.abs(wave).max(initial=0.0) <= 1.0


FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

random_files = st.one_of(
    st.binary(max_size=600),
    st.binary(max_size=600).map(lambda b: b"RIFF" + b[:4] + b"WAVE" + b[4:]),
    st.binary(max_size=600).map(lambda b: b"RIFF" + b[:4] + b"WAVEfmt " + b[4:]),
    st.sampled_from([b"fLaC", b"OggS", b"ID3", b"\xff\xfb", b"FORM", b".snd"]).flatmap(
        lambda magic: st.binary(max_size=600).map(lambda b: magic + b)
    ),
    # A valid header over random samples: PCM 8/16/24/32-bit or float (NaN, inf, huge values).
    st.builds(
        lambda encoding, channels, samples: _riff(
            _fmt(channels=channels, bits=encoding[1], tag=encoding[0]), _chunk(b"data", samples)
        ),
        st.sampled_from([(1, 8), (1, 16), (1, 24), (1, 32), (3, 32), (3, 64)]),
        st.integers(1, 3),
        st.binary(min_size=1, max_size=600),
    ),
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(data=random_files)
def test_fuzz_random_bytes(fuzz_dir: Path, data: bytes) -> None:
    _check_never_crashes(fuzz_dir / "random.wav", data)


# Header fields of a canonical 44-byte WAV header: (offset, struct format).
HEADER_FIELDS = [
    (4, "<I"),
    (16, "<I"),
    (20, "<H"),
    (22, "<H"),
    (24, "<I"),
    (28, "<I"),
    (32, "<H"),
    (34, "<H"),
    (40, "<I"),
]


@st.composite
def mutated_wavs(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for offset, fmt in draw(st.lists(st.sampled_from(HEADER_FIELDS), max_size=3)):
        limit = 2 ** (8 * struct.calcsize(fmt)) - 1
        value = draw(st.one_of(st.integers(0, limit), st.sampled_from([0, 1, 2, 3, limit])))
        struct.pack_into(fmt, data, offset, value)
    for position, byte in draw(
        st.lists(st.tuples(st.integers(0, 63), st.integers(0, 255)), max_size=4)
    ):
        data[position] = byte
    if draw(st.integers(0, 3)) == 0:
        del data[draw(st.integers(0, len(data))) :]
    return bytes(data)


@FUZZ
@given(data=st.data())
def test_fuzz_mutated_wav_headers(fuzz_dir: Path, clip_bytes: bytes, data: st.DataObject) -> None:
    # The clip's own 44-byte header, cut to 1,000 samples (data and RIFF sizes made to match).
    short = bytearray(_with_data_size(clip_bytes[:2044], 2000))
    struct.pack_into("<I", short, 4, len(short) - 8)
    _check_never_crashes(fuzz_dir / "mutated.wav", data.draw(mutated_wavs(bytes(short))))
