"""Peak resident memory of one phase of a benchmark process.

On Linux the kernel keeps the RSS high-water mark (``VmHWM`` in
``/proc/self/status``), and writing ``5`` to ``/proc/self/clear_refs`` resets it to
the current RSS: so a phase's exact peak is read without sampling. Elsewhere (or if
the reset is not permitted) a background thread polls the RSS with psutil.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def _status_kb(field: str) -> int | None:
    try:
        m = re.search(rf"^{field}:\s+(\d+)\s+kB", _STATUS.read_text(), re.M)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def _can_reset() -> bool:
    try:
        _CLEAR.write_text("5")
    except OSError:
        return False
    return _status_kb("VmHWM") is not None


def rss_mb() -> float:
    """Current resident set size in MB."""
    kb = _status_kb("VmRSS")
    if kb is not None:
        return kb / 1024.0
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


class PeakMeter:
    """Measure the RSS peak of a phase: ``with meter.phase() as p: ...; p.peak_mb``."""

    def __init__(self, interval: float = 0.002) -> None:
        self.exact = _can_reset()
        self.interval = interval
        self._peak = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not self.exact:
            import psutil

            self._proc = psutil.Process()
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, self._proc.memory_info().rss / 2**20)

    def reset(self) -> float:
        """Start a phase now; returns the current RSS (the phase's baseline)."""
        if self.exact:
            _CLEAR.write_text("5")
        now = rss_mb()
        self._peak = now
        return now

    def peak(self) -> float:
        """Peak RSS (MB) since the last :meth:`reset`."""
        if self.exact:
            kb = _status_kb("VmHWM")
            return kb / 1024.0 if kb is not None else rss_mb()
        return max(self._peak, rss_mb())

    def close(self) -> None:
        """Stop the polling thread (if any)."""
        self._stop.set()

    def phase(self) -> _Phase:
        """A context manager measuring one phase."""
        return _Phase(self)


class _Phase:
    def __init__(self, meter: PeakMeter) -> None:
        self.meter = meter
        self.base_mb = 0.0
        self.peak_mb = 0.0

    def __enter__(self) -> _Phase:
        self.base_mb = self.meter.reset()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.peak_mb = self.meter.peak()

    @property
    def extra_mb(self) -> float:
        """Peak above the RSS at the start of the phase."""
        return self.peak_mb - self.base_mb
