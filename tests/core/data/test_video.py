"""Tests for app.core.data.video: frame counts, exact seeking, sampling, names, broken files."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from app.core.data.video import (
    VIDEO_EXTENSIONS,
    VideoError,
    VideoInfo,
    VideoReader,
    frame_name,
    probe_video,
    sample_frames,
)
from app.core.errors import SieveError

HAS_X264 = "libx264" in av.codecs_available
H264 = "libx264" if HAS_X264 else "mpeg4"
WIDTH, HEIGHT = 64, 48
VFR_PTS = [0, 40, 50, 130, 170, 400, 410, 420, 700, 740, 780, 1000, 1040, 1100, 1200, 1500]

# name -> (codec, number of frames); every clip has B-frames and a keyframe every 10 frames
CLIPS = {
    "h264.mp4": (H264, 60),
    "h264.mkv": (H264, 45),
    "mpeg4.avi": ("mpeg4", 30),
    "h264.avi": (H264, 30),
}


def level(index: int) -> int:
    """The gray level that identifies frame ``index``."""
    return 10 + 4 * index


def gray_frame(index: int) -> av.VideoFrame:
    """A solid gray RGB frame identifying ``index``."""
    pixels = np.full((HEIGHT, WIDTH, 3), level(index), np.uint8)
    return av.VideoFrame.from_ndarray(pixels, format="rgb24")


def add_video_stream(container: av.container.OutputContainer, codec: str) -> av.VideoStream:
    """A small stream with a GOP of 10 and B-frames, at a quality that keeps gray levels exact."""
    stream = container.add_stream(codec, rate=25)
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    if codec == "libx264":
        params = "keyint=10:min-keyint=10:scenecut=0:bframes=2"
        stream.options = {"preset": "ultrafast", "x264-params": params}
    else:
        stream.codec_context.gop_size = 10
        stream.options = {"bf": "2", "qmin": "1", "qmax": "2", "sc_threshold": "1000000000"}
    return stream


def write_clip(path: Path, codec: str, n_frames: int, pts: list[int] | None = None) -> Path:
    """Encode ``n_frames`` gray frames; with ``pts`` (in ms) the frame rate is variable."""
    with av.open(str(path), "w") as container:
        stream = add_video_stream(container, codec)
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
            stream.time_base = Fraction(1, 1000)
        for index in range(n_frames):
            frame = gray_frame(index)
            if pts is not None:
                frame.pts, frame.time_base = pts[index], Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def write_audio_only(path: Path) -> Path:
    """A short silent audio file without any video stream."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every test clip, written once per module."""
    folder = tmp_path_factory.mktemp("clips")
    paths = {name: write_clip(folder / name, *spec) for name, spec in CLIPS.items()}
    paths["vfr.mkv"] = write_clip(folder / "vfr.mkv", H264, len(VFR_PTS), VFR_PTS)
    paths["audio.mkv"] = write_audio_only(folder / "audio.mkv")
    return paths


def frame_count(name: str) -> int:
    """How many frames the clip was written with."""
    return len(VFR_PTS) if name == "vfr.mkv" else CLIPS[name][1]


def assert_frame(image, index: int) -> None:
    """The image is the RGB frame written for ``index``."""
    assert image.mode == "RGB"
    assert image.size == (WIDTH, HEIGHT)
    mean = float(np.asarray(image).mean())
    assert abs(mean - level(index)) < 1.6, f"expected frame {index}, got gray level {mean:.1f}"


VIDEO_CLIPS = [*CLIPS, "vfr.mkv"]


@pytest.mark.parametrize("name", VIDEO_CLIPS)
def test_probe_counts_every_frame(clips: dict[str, Path], name: str) -> None:
    info = probe_video(clips[name])
    assert info.n_frames == frame_count(name)
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.fps > 0 and info.duration > 0
    if info.frame_pts is not None:
        assert info.frame_pts.dtype == np.int64
        assert len(info.frame_pts) == info.n_frames
        assert np.all(np.diff(info.frame_pts) > 0)


def test_probe_reports_rate_duration_and_time_base(clips: dict[str, Path]) -> None:
    info = probe_video(str(clips["h264.mp4"]))
    assert info.fps == pytest.approx(25.0)
    assert info.duration == pytest.approx(60 / 25)
    num, den = info.time_base
    assert info.frame_pts is not None
    assert float(info.frame_pts[1] - info.frame_pts[0]) * num / den == pytest.approx(1 / 25)


def test_probe_keeps_variable_frame_rate_timestamps(clips: dict[str, Path]) -> None:
    info = probe_video(clips["vfr.mkv"])
    assert info.time_base == (1, 1000)
    assert info.frame_pts is not None
    assert info.frame_pts.tolist() == VFR_PTS
    assert info.duration == pytest.approx(1.5 + 1 / info.fps)
    assert info.fps == pytest.approx((len(VFR_PTS) - 1) / 1.5)


@pytest.mark.parametrize("name", VIDEO_CLIPS)
def test_read_frame_in_random_order_is_exact(clips: dict[str, Path], name: str) -> None:
    n = frame_count(name)
    order = [n - 1, 0, n // 2, n // 2 - 1, 1, n - 2, *random.Random(7).sample(range(n), n)]
    with VideoReader(clips[name]) as reader:
        for index in order:
            assert_frame(reader.read_frame(index), index)


@pytest.mark.parametrize("name", VIDEO_CLIPS)
def test_iter_frames_every_seventh(clips: dict[str, Path], name: str) -> None:
    wanted = list(range(0, frame_count(name), 7))
    with VideoReader(clips[name]) as reader:
        got = list(reader.iter_frames(reversed(wanted)))
    assert [index for index, _ in got] == wanted
    for index, image in got:
        assert_frame(image, index)


def test_iter_frames_sorts_and_drops_duplicates(clips: dict[str, Path]) -> None:
    with VideoReader(clips["h264.mkv"]) as reader:
        got = list(reader.iter_frames([30, 3, 30, 44, 3, 4]))
    assert [index for index, _ in got] == [3, 4, 30, 44]
    for index, image in got:
        assert_frame(image, index)


def test_iter_frames_and_read_frame_interleave(clips: dict[str, Path]) -> None:
    with VideoReader(clips["h264.mp4"]) as reader:
        frames = reader.iter_frames(range(0, 60, 20))
        assert next(frames)[0] == 0
        assert_frame(reader.read_frame(59), 59)
        index, image = next(frames)
        assert index == 20
        assert_frame(image, 20)


def test_reader_counts_frames_when_pts_are_unusable(clips: dict[str, Path]) -> None:
    info = dataclasses.replace(probe_video(clips["h264.mp4"]), frame_pts=None)
    with VideoReader(clips["h264.mp4"], info) as reader:
        for index in [42, 5, 59, 0, 17]:
            assert_frame(reader.read_frame(index), index)
        got = list(reader.iter_frames(range(3, 60, 11)))
    assert [index for index, _ in got] == list(range(3, 60, 11))
    for index, image in got:
        assert_frame(image, index)


def test_reader_skips_frames_whose_pts_are_not_listed(clips: dict[str, Path]) -> None:
    probed = probe_video(clips["h264.mkv"])
    assert probed.frame_pts is not None
    info = dataclasses.replace(probed, n_frames=23, frame_pts=probed.frame_pts[::2])
    with VideoReader(clips["h264.mkv"], info) as reader:
        for index in [20, 2, 11, 22]:
            assert_frame(reader.read_frame(index), 2 * index)
        got = list(reader.iter_frames(range(0, 23, 5)))
    assert [index for index, _ in got] == list(range(0, 23, 5))
    for index, image in got:
        assert_frame(image, 2 * index)


@pytest.mark.skipif(not HAS_X264, reason="needs libx264 for H.264 in AVI")
def test_reader_recovers_when_pts_are_not_in_display_order(clips: dict[str, Path]) -> None:
    probed = probe_video(clips["h264.avi"])
    assert probed.frame_pts is None
    decode_order_pts = np.arange(1, probed.n_frames + 1, dtype=np.int64)
    info = dataclasses.replace(probed, frame_pts=decode_order_pts)
    with VideoReader(clips["h264.avi"], info) as reader:
        for index in [25, 3, 14]:
            assert_frame(reader.read_frame(index), index)


def test_reader_rejects_out_of_range_indices(clips: dict[str, Path]) -> None:
    with VideoReader(clips["h264.mkv"]) as reader:
        for bad in (-1, 45, 1000):
            with pytest.raises(IndexError):
                reader.read_frame(bad)
        with pytest.raises(IndexError):
            reader.iter_frames([0, 45])
        assert_frame(reader.read_frame(np.int64(44)), 44)


def test_closed_reader_refuses_to_read(clips: dict[str, Path]) -> None:
    reader = VideoReader(clips["h264.mkv"])
    reader.close()
    reader.close()
    with pytest.raises(ValueError, match="closed"):
        reader.read_frame(0)


def test_closing_stops_a_running_iteration(clips: dict[str, Path]) -> None:
    with VideoReader(clips["h264.mkv"]) as reader:
        frames = reader.iter_frames([1, 40])
        assert next(frames)[0] == 1
        reader.close()
        with pytest.raises(ValueError, match="closed"):
            next(frames)


def test_reading_leaves_the_file_untouched(clips: dict[str, Path]) -> None:
    path = clips["h264.mp4"]
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    with VideoReader(path) as reader:
        list(reader.iter_frames(range(0, 60, 5)))
        reader.read_frame(3)
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before


def cfr_info(n_frames: int, fps: float) -> VideoInfo:
    """A constant-rate video without pts, for sampling tests."""
    return VideoInfo(n_frames, fps, WIDTH, HEIGHT, n_frames / fps, None, (1, 1000))


def test_sample_frames_defaults_to_every_frame() -> None:
    assert sample_frames(cfr_info(12, 25.0)) == list(range(12))


def test_sample_frames_every_nth() -> None:
    info = cfr_info(30, 10.0)
    assert sample_frames(info, every_nth=1) == list(range(30))
    assert sample_frames(info, every_nth=7) == [0, 7, 14, 21, 28]
    assert sample_frames(info, every_nth=100) == [0]


def test_sample_frames_target_fps_picks_nearest_frames() -> None:
    info = cfr_info(30, 10.0)
    assert sample_frames(info, target_fps=2.5) == list(range(0, 30, 4))
    assert sample_frames(info, target_fps=3.0) == [0, 3, 7, 10, 13, 17, 20, 23, 27]
    assert sample_frames(info, target_fps=10.0) == list(range(30))
    assert sample_frames(info, target_fps=240.0) == list(range(30))
    assert sample_frames(cfr_info(1, 10.0), target_fps=1.0) == [0]


def test_sample_frames_target_fps_follows_variable_timestamps() -> None:
    pts = np.array([0, 100, 150, 600, 1000], dtype=np.int64)
    info = VideoInfo(5, 4.0, WIDTH, HEIGHT, 1.25, pts, (1, 1000))
    assert sample_frames(info, target_fps=2.0) == [0, 3, 4]
    assert sample_frames(info, target_fps=20.0) == [0, 1, 2, 3, 4]


def test_sample_frames_on_a_real_clip(clips: dict[str, Path]) -> None:
    info = probe_video(clips["h264.mp4"])
    assert sample_frames(info, target_fps=5.0) == list(range(0, 60, 5))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"every_nth": 0},
        {"every_nth": -3},
        {"target_fps": 0.0},
        {"target_fps": -2.5},
        {"target_fps": math.nan},
        {"every_nth": 2, "target_fps": 5.0},
    ],
)
def test_sample_frames_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        sample_frames(cfr_info(30, 10.0), **kwargs)


@pytest.mark.parametrize(
    ("relpath", "frame", "n_frames", "expected"),
    [
        ("clips/my_video.mp4", 153, 1000, "clips/my_video-0153-mp4.png"),
        ("clips/my_video.mp4", 153, 999, "clips/my_video-153-mp4.png"),
        ("a/b.MP4", 5, 1000, "a/b-0005-MP4.png"),
        ("a/b.MP4", 5, 999, "a/b-005-MP4.png"),
        ("v.mkv", 3, 9, "v-3-mkv.png"),
        ("v.mkv", 3, 10, "v-03-mkv.png"),
        ("dir.with.dots/clip.v2.webm", 0, 12, "dir.with.dots/clip.v2-00-webm.png"),
    ],
)
def test_frame_name_matches_lightly(relpath: str, frame: int, n_frames: int, expected: str) -> None:
    assert frame_name(relpath, frame, n_frames) == expected


def test_video_extensions() -> None:
    expected = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
    assert expected == VIDEO_EXTENSIONS
    assert all(ext == ext.lower() for ext in VIDEO_EXTENSIONS)


def test_video_error_is_a_sieve_error() -> None:
    assert issubclass(VideoError, SieveError)


def broken_files(folder: Path, clips: dict[str, Path]) -> dict[str, Path]:
    """Files that look like videos but are not."""
    files = {
        "empty.mp4": b"",
        "noise.mp4": random.Random(3).randbytes(20_000),
        "notes.mkv": b"these are my notes, not a video\n" * 20,
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    whole = clips["h264.mp4"].read_bytes()
    paths["half.mp4"] = folder / "half.mp4"
    paths["half.mp4"].write_bytes(whole[: len(whole) // 2])
    return paths


@pytest.mark.parametrize("name", ["empty.mp4", "noise.mp4", "notes.mkv", "half.mp4"])
def test_broken_files_raise_a_readable_video_error(
    tmp_path: Path, clips: dict[str, Path], name: str
) -> None:
    path = broken_files(tmp_path, clips)[name]
    with pytest.raises(VideoError) as caught:
        probe_video(path)
    message = str(caught.value)
    assert name in message
    assert "\n" not in message
    with pytest.raises(VideoError):
        VideoReader(path)


def test_missing_file_raises_video_error(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="cannot open video"):
        probe_video(tmp_path / "gone.mp4")


def test_audio_only_file_has_no_video_stream(clips: dict[str, Path]) -> None:
    with pytest.raises(VideoError, match="no video stream"):
        probe_video(clips["audio.mkv"])


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.8])
def test_truncated_mkv_is_an_error_or_a_consistent_shorter_video(
    tmp_path: Path, clips: dict[str, Path], fraction: float
) -> None:
    whole = clips["h264.mkv"].read_bytes()
    path = tmp_path / "cut.mkv"
    path.write_bytes(whole[: int(len(whole) * fraction)])
    try:
        info = probe_video(path)
    except VideoError as error:
        assert "cut.mkv" in str(error)
        return
    assert 0 < info.n_frames < frame_count("h264.mkv")
    assert info.frame_pts is not None
    written = [int(pts) // 40 for pts in info.frame_pts]  # 25 fps in milliseconds
    with VideoReader(path, info) as reader:
        got = list(reader.iter_frames(range(info.n_frames)))
        assert [index for index, _ in got] == list(range(info.n_frames))
        for index, image in got:
            assert_frame(image, written[index])
        assert_frame(reader.read_frame(info.n_frames - 1), written[-1])
