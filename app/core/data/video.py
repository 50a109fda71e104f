"""Video files through PyAV: probe without decoding, choose frames, read frames lazily and exactly.

Frames are identified by their presentation timestamp (pts). The probe demuxes every packet of the
video stream (cheap: no decoding) to count frames and collect their pts; a reader seeks to the
keyframe before a wanted frame and decodes forward until that exact pts. When a container has no
usable pts (missing, duplicated, or not in display order), frames are counted from the start.
"""

from __future__ import annotations

import itertools
import operator
import os
import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import av
import av.error
import numpy as np
from PIL import Image

from app.core.errors import SieveError, is_transient, transient_reason

VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
)

_FALLBACK_FPS = 25.0
_CHECK_FRAMES = 16  # frames decoded at probe time to check that pts follow display order


class VideoError(SieveError):
    """A video that cannot be opened, has no video stream, or whose frames cannot be decoded."""


class _PtsDisorder(Exception):
    """Decoded pts went backwards: the container's pts cannot identify frames."""


@dataclass(frozen=True)
class VideoInfo:
    """What a probe learns about a video without decoding it."""

    n_frames: int
    fps: float
    width: int
    height: int
    duration: float
    frame_pts: np.ndarray | None = field(compare=False, repr=False)
    time_base: tuple[int, int]


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Count the frames of a video exactly (demux only) and check that its first frame decodes."""
    name = os.fspath(path)
    with _open(name) as container:
        stream = _video_stream(container, name)
        packet_pts, first_frames = _scan(container, stream, name)
        time_base = stream.time_base
        rate = stream.average_rate or stream.guessed_rate
        header_seconds = _header_seconds(container, stream)
    n_frames = len(packet_pts)
    frame_pts = _frame_pts(packet_pts, first_frames) if time_base else None
    fps = _fps(frame_pts, time_base, rate)
    return VideoInfo(
        n_frames=n_frames,
        fps=fps,
        width=first_frames[0].width,
        height=first_frames[0].height,
        duration=_duration(frame_pts, time_base, fps, n_frames, header_seconds),
        frame_pts=frame_pts,
        time_base=(time_base.numerator, time_base.denominator) if time_base else (1, 1),
    )


def sample_frames(
    info: VideoInfo, every_nth: int | None = None, target_fps: float | None = None
) -> list[int]:
    """Frame indices to use: all, every n-th, or the frames nearest to a target frame rate."""
    if every_nth is not None and target_fps is not None:
        raise ValueError("give either every_nth or target_fps, not both")
    if every_nth is not None:
        if every_nth < 1:
            raise ValueError(f"every_nth must be a positive integer, got {every_nth}")
        return list(range(0, info.n_frames, every_nth))
    if target_fps is None:
        return list(range(info.n_frames))
    if not target_fps > 0:
        raise ValueError(f"target_fps must be positive, got {target_fps}")
    if target_fps >= info.fps or info.n_frames < 2:
        return list(range(info.n_frames))
    return _nearest_to_rate(_frame_times(info), target_fps)


def frame_name(relpath: str, frame: int, n_frames: int) -> str:
    """lightly's name for one frame: ``clips/a.mp4``, 7, 120 -> ``clips/a-007-mp4.png``."""
    stem, ext = posixpath.splitext(relpath)
    return f"{stem}-{frame:0{len(str(n_frames))}}-{ext[1:]}.png"


class VideoReader:
    """Lazy frame access for one video; use as a context manager (closes the container)."""

    def __init__(self, path: str | os.PathLike, info: VideoInfo | None = None) -> None:
        self._path = os.fspath(path)
        self.info = info if info is not None else probe_video(self._path)
        self._pts = self.info.frame_pts
        self._gap = max(1, round(2 * self.info.fps))
        self._container: av.container.InputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._frames: Iterator[tuple[int, av.VideoFrame]] | None = None
        self._pos = -1
        self._fresh = False
        self._open()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_frame(self, index: int) -> Image.Image:
        """The frame at ``index`` as an RGB image."""
        return _to_rgb(self._frame_at(self._checked(index)))

    def iter_frames(self, indices: Iterable[int]) -> Iterator[tuple[int, Image.Image]]:
        """Yield ``(index, RGB image)`` for the sorted unique indices, in one forward pass."""
        wanted = sorted({self._checked(index) for index in indices})
        return ((index, _to_rgb(self._frame_at(index))) for index in wanted)

    def close(self) -> None:
        """Close the container; the reader cannot be used afterwards."""
        self._frames = None
        if self._container is not None:
            self._container.close()
            self._container = None

    def _open(self) -> None:
        """(Re)open the container at its start, with frame-threaded decoding."""
        self.close()
        self._container = _open(self._path)
        self._stream = _video_stream(self._container, self._path)
        self._stream.thread_type = "AUTO"
        self._fresh = True

    def _checked(self, index: int) -> int:
        """The index as an int; IndexError when it lies outside the video."""
        index = operator.index(index)
        if not 0 <= index < self.info.n_frames:
            raise IndexError(f"frame {index} is out of range for {self.info.n_frames} frames")
        return index

    def _frame_at(self, index: int) -> av.VideoFrame:
        """Decode the frame at ``index``, falling back to counting when pts prove unreliable."""
        if self._container is None:
            raise ValueError("the video reader is closed")
        try:
            return self._find(index)
        except _PtsDisorder:
            self._pts = None
            self._frames = None
            return self._find(index)

    def _find(self, index: int) -> av.VideoFrame:
        """Continue decoding forward when ``index`` is close ahead, else seek first."""
        ahead = index - self._pos
        if self._frames is None or ahead <= 0 or (self._pts is not None and ahead > self._gap):
            self._seek_before(index)
        for position, frame in self._frames:
            self._pos = position
            if position == index:
                return frame
            if position > index:
                break
        else:
            self._frames = None
        raise VideoError(f"cannot decode frame {index} of {self._path}")

    def _seek_before(self, index: int) -> None:
        """Position the decoder so that the next decoded frame is ``index`` or an earlier one."""
        back = 0
        while True:
            start = max(0, index - back)
            frames = self._decode_from(start)
            first = next(frames, None)
            if first is None or first[0] <= index or start == 0:
                self._frames = frames if first is None else itertools.chain([first], frames)
                self._pos = -1
                return
            back = max(2 * back, self._gap)

    def _decode_from(self, start: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """Indexed frames from the keyframe at or before frame ``start`` (or from the beginning)."""
        if start == 0 or self._pts is None:
            if not self._fresh:
                self._open()
        else:
            self._seek(int(self._pts[start]))
        self._fresh = False
        return self._indexed(self._decoded())

    def _seek(self, pts: int) -> None:
        """Seek to the keyframe at or before ``pts``; reopen at the start if seeking fails."""
        try:
            self._container.seek(pts, stream=self._stream, backward=True)
        except av.error.FFmpegError:
            self._open()

    def _decoded(self) -> Iterator[av.VideoFrame]:
        """Frames from the current position; packets that fail to decode are skipped."""
        try:
            for packet in self._container.demux(self._stream):
                yield from _decode_packet(packet)[0]
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot read video {self._path}: {_reason(exc)}") from exc

    def _indexed(self, frames: Iterator[av.VideoFrame]) -> Iterator[tuple[int, av.VideoFrame]]:
        """Pair frames with their index: by pts, or by counting when pts are unusable."""
        if self._pts is None:
            yield from enumerate(frames)
            return
        last = -1
        for frame in frames:
            index = _index_of(self._pts, frame.pts)
            if index is None:
                continue
            if index <= last:
                raise _PtsDisorder
            last = index
            yield index, frame


def _open(path: str) -> av.container.InputContainer:
    """Open a container for reading, as a VideoError when that fails."""
    try:
        return av.open(path, mode="r")
    except (av.error.FFmpegError, OSError) as exc:
        if is_transient(exc):
            raise VideoError(f"cannot open video {path}: {transient_reason(exc)}") from exc
        raise VideoError(f"cannot open video {path}: {_reason(exc)}") from exc


def _video_stream(container: av.container.InputContainer, path: str) -> av.VideoStream:
    """The first video stream of a container."""
    if not container.streams.video:
        raise VideoError(f"no video stream in {path}")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise VideoError(f"unsupported video codec in {path}")
    return stream


def _scan(
    container: av.container.InputContainer, stream: av.VideoStream, path: str
) -> tuple[list[int | None], list[av.VideoFrame]]:
    """Pts of every frame packet, plus the first few decoded frames."""
    packet_pts: list[int | None] = []
    frames: list[av.VideoFrame] = []
    error = ""
    try:
        for packet in container.demux(stream):
            if packet.size > 0 and not packet.is_discard and not packet.is_corrupt:
                packet_pts.append(packet.pts)
            if len(frames) < _CHECK_FRAMES:
                decoded, failure = _decode_packet(packet)
                frames.extend(decoded)
                error = failure or error
    except av.error.FFmpegError as exc:
        raise VideoError(f"cannot read video {path}: {_reason(exc)}") from exc
    if not packet_pts:
        raise VideoError(f"video has no frames: {path}")
    if not frames:
        raise VideoError(f"no decodable frames in {path}" + (f": {error}" if error else ""))
    return packet_pts, frames


def _decode_packet(packet: av.Packet) -> tuple[list[av.VideoFrame], str]:
    """Frames a packet completes, and the reason when decoding it failed."""
    try:
        return packet.decode(), ""
    except av.error.FFmpegError as exc:
        return [], _reason(exc)


def _frame_pts(
    packet_pts: list[int | None], first_frames: list[av.VideoFrame]
) -> np.ndarray | None:
    """Sorted frame pts, or None when pts are missing, repeated, or out of display order."""
    if any(pts is None for pts in packet_pts):
        return None
    frame_pts = np.sort(np.asarray(packet_pts, dtype=np.int64))
    if np.any(np.diff(frame_pts) <= 0):
        return None
    known = [i for i in (_index_of(frame_pts, f.pts) for f in first_frames) if i is not None]
    if not known or any(b <= a for a, b in itertools.pairwise(known)):
        return None
    frame_pts.setflags(write=False)
    return frame_pts


def _index_of(frame_pts: np.ndarray, pts: int | None) -> int | None:
    """Index of the frame with this exact pts, if any."""
    if pts is None:
        return None
    index = int(np.searchsorted(frame_pts, pts))
    return index if index < len(frame_pts) and frame_pts[index] == pts else None


def _fps(frame_pts: np.ndarray | None, time_base: Fraction | None, rate: Fraction | None) -> float:
    """Average frame rate: from the pts span, else the stream's rate, else a common default."""
    if frame_pts is not None and len(frame_pts) > 1 and time_base:
        span = int(frame_pts[-1] - frame_pts[0]) * time_base
        return float((len(frame_pts) - 1) / span)
    if rate and rate > 0:
        return float(rate)
    return _FALLBACK_FPS


def _header_seconds(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    """Duration the container header claims, in seconds (0 when unknown)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _duration(
    frame_pts: np.ndarray | None,
    time_base: Fraction | None,
    fps: float,
    n_frames: int,
    header_seconds: float,
) -> float:
    """Seconds from the first frame to the end of the last: pts span, else header, else count."""
    if frame_pts is not None and time_base:
        return float(int(frame_pts[-1] - frame_pts[0]) * time_base) + 1.0 / fps
    if header_seconds > 0:
        return header_seconds
    return n_frames / fps


def _frame_times(info: VideoInfo) -> np.ndarray:
    """Seconds of each frame after the first one."""
    if info.frame_pts is None:
        return np.arange(info.n_frames, dtype=np.float64) / info.fps
    num, den = info.time_base
    return (info.frame_pts - info.frame_pts[0]).astype(np.float64) * num / den


def _nearest_to_rate(times: np.ndarray, target_fps: float) -> list[int]:
    """Unique indices of the frames nearest to the times 0, 1/f, 2/f, ... within the video."""
    n_targets = int(np.floor(times[-1] * target_fps + 1e-9)) + 1
    targets = np.arange(n_targets, dtype=np.float64) / target_fps
    right = np.clip(np.searchsorted(times, targets), 1, len(times) - 1)
    left = right - 1
    nearest = np.where(times[right] - targets < targets - times[left], right, left)
    return [int(i) for i in np.unique(nearest)]


def _to_rgb(frame: av.VideoFrame) -> Image.Image:
    """A decoded frame as an RGB PIL image."""
    image = frame.to_image()
    return image if image.mode == "RGB" else image.convert("RGB")


def _reason(exc: BaseException) -> str:
    """FFmpeg's or the OS's short reason for an error."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
