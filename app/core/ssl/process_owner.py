"""Which process owns a long job's record, and whether that process still exists.

A job records its owner (pid, host, and on Linux the process start time, which tells a reused pid
apart) when it starts. A listing that finds the owner gone knows the job was killed (``kill -9``,
a crash, a power cut) rather than still running. Owners on other hosts are never judged gone.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ZOMBIE = "Z"
"""A killed process its parent has not reaped yet: it exists, but runs no more."""


@dataclass(frozen=True)
class ProcessOwner:
    pid: int
    host: str
    started: int | None = None
    """Start time in clock ticks after boot (``/proc/<pid>/stat``); None where unknown."""

    @classmethod
    def current(cls) -> ProcessOwner:
        return cls.of(os.getpid())

    @classmethod
    def of(cls, pid: int) -> ProcessOwner:
        return cls(pid, socket.gethostname(), start_time(pid))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessOwner | None:
        """The owner stored by :meth:`to_dict`; None for anything else."""
        try:
            started = data.get("started")
            started = None if started is None else int(started)
            return cls(int(data["pid"]), str(data["host"]), started)
        except (AttributeError, KeyError, TypeError, ValueError):
            return None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def is_current(self) -> bool:
        """Whether this owner is the calling process."""
        me = ProcessOwner.current()
        same_start = self.started is None or self.started == me.started
        return self.pid == me.pid and self.host == me.host and same_start

    def is_gone(self) -> bool:
        """Whether the owner's process certainly no longer exists (judged on its own host)."""
        if self.host != socket.gethostname():
            return False
        if not process_exists(self.pid):
            return True
        stat = _proc_stat(self.pid)
        if stat is None:
            return False
        return stat[0] == ZOMBIE or (self.started is not None and int(stat[19]) != self.started)


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks after boot (Linux), else None."""
    stat = _proc_stat(pid)
    return None if stat is None else int(stat[19])


def _proc_stat(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` from its third field (the state) on; None without procfs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def process_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _windows_process_exists(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _windows_process_exists(pid: int) -> bool:
    """OpenProcess + GetExitCodeProcess (``os.kill(pid, 0)`` would terminate it on Windows)."""
    import ctypes

    kernel32 = ctypes.windll.kernel32
    query_limited_information, still_active, access_denied = 0x1000, 259, 5
    handle = kernel32.OpenProcess(query_limited_information, False, pid)
    if not handle:
        return kernel32.GetLastError() == access_denied
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == still_active
    finally:
        kernel32.CloseHandle(handle)
