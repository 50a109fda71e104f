"""Guards against a Qt binding that cannot survive a long session's worth of signals.

PySide6 6.12.0's ``SignalInstance.emit`` returns ``True`` without taking a reference; on
Python < 3.12 (where ``True`` is not immortal) every emit from Python code lowers its count
and after some hundreds the interpreter aborts ("bool_dealloc"). Pin another PySide6 or run on
Python 3.12+.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

EMITS = 20_000


def test_emitting_many_signals_does_not_abort_the_interpreter() -> None:
    script = textwrap.dedent(
        f"""
        from PySide6.QtCore import QCoreApplication, QObject, Signal

        class Source(QObject):
            changed = Signal(int)

        app = QCoreApplication([])
        source = Source()
        seen = []
        source.changed.connect(seen.append)
        for i in range({EMITS}):
            source.changed.emit(i)
        print(len(seen))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == str(EMITS)
