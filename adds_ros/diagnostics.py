# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""What the depth node tells operators: counters, latency percentiles, throttled warnings.

Constant memory however long the node runs (a bounded latency window, one counter per drop
reason), and at most one warning per reason per period, so a camera sending garbage at 30 Hz
fills neither the memory nor the log.
"""

import collections
import threading
import time
from typing import Any, Deque, Dict, Mapping, Optional, Tuple

import numpy as np

from adds_ros.messages import DiagnosticArray, DiagnosticStatus, Header, KeyValue, Time

DIAGNOSTICS_TOPIC = '/diagnostics'
DIAGNOSTIC_NAME = 'adds_ros: depth'
# Drop reasons that are not the input's fault, so they are counted but never warned about.
QUIET_DROPS = ('superseded', 'no_subscribers', 'inactive')


class Throttle:
    """At most one warning per kind per `period` seconds, saying how many were held back."""

    def __init__(self, logger: Any, period: float) -> None:
        self._logger, self._period = logger, period
        self._last: Dict[str, float] = {}
        self._held: Dict[str, int] = collections.Counter()
        self._lock = threading.Lock()

    def warn(self, kind: str, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(kind, -np.inf) < self._period:
                self._held[kind] += 1
                return
            held = self._held.pop(kind, 0)
            self._last[kind] = now
        suffix = f' ({held} more like this since the last warning)' if held else ''
        self._logger.warning(f'{message}{suffix}')

    def once(self, kind: str, message: str) -> None:
        """Warn the first time only: for a steady state, such as an uncalibrated camera."""
        with self._lock:
            if kind in self._last:
                return
            self._last[kind] = np.inf
        self._logger.warning(message)


class Statistics:
    """Counters and a bounded latency window, shared by the transport and worker threads."""

    def __init__(self, window: int) -> None:
        self.lock = threading.Lock()
        self.received = 0
        self.published = 0
        self.dropped: Dict[str, int] = collections.Counter()
        self.latencies = collections.deque(maxlen=window)
        self._period_start = time.monotonic()
        # monotonic time of the newest input frame (or of the start, before the first one)
        self.last_received = self._period_start
        self._period_published = 0
        # how the last `window` frames the node tried to serve ended: None published, else
        # the drop reason (QUIET_DROPS are no attempt): what says whether the node is useful
        self.outcomes: Deque[Optional[str]] = collections.deque(maxlen=window)

    def receive(self) -> None:
        with self.lock:
            self.received += 1
            self.last_received = time.monotonic()

    def drop(self, reason: str) -> None:
        with self.lock:
            self.dropped[reason] += 1
            if reason not in QUIET_DROPS:
                self.outcomes.append(reason)

    def done(self, latency: float) -> None:
        with self.lock:
            self.published += 1
            self.latencies.append(latency)
            self.outcomes.append(None)

    def snapshot(self) -> Dict[str, Any]:
        """Return current values; the rate covers the time since the previous snapshot.

        `recent` counts the outcomes of the last `window` frames (None: published).
        """
        with self.lock:
            now = time.monotonic()
            rate = (self.published - self._period_published) / max(now - self._period_start,
                                                                   1e-9)
            self._period_start, self._period_published = now, self.published
            latencies = np.asarray(self.latencies, dtype=np.float64) * 1e3
            p50, p90, p99 = (np.percentile(latencies, (50, 90, 99)) if len(latencies)
                             else (np.nan,) * 3)
            return {'received': self.received, 'published': self.published,
                    'rate_hz': rate, 'latency_p50_ms': p50, 'latency_p90_ms': p90,
                    'latency_p99_ms': p99, 'dropped': dict(self.dropped),
                    'recent': collections.Counter(self.outcomes),
                    'seconds_since_input': now - self.last_received}


def drop_health(recent: Mapping[Optional[str], int],
                warn_share: float) -> Optional[Tuple[int, str]]:
    """(level, message) when the recent frames (Statistics.outcomes) were mostly dropped.

    Counts only frames the node tried to serve: QUIET_DROPS are a fast camera, nobody
    listening or an inactive node, not a fault. ERROR when every such frame was dropped,
    WARN above `warn_share`; the message names the most frequent reason. None otherwise.
    """
    published = recent.get(None, 0)
    faults = {reason: n for reason, n in recent.items()
              if reason is not None and reason not in QUIET_DROPS and n}
    lost = sum(faults.values())
    if not lost or lost <= warn_share * (lost + published):
        return None
    top = max(sorted(faults), key=faults.get)
    share = f'{lost} of the last {lost + published} frames dropped'
    reason = f'mostly {top} ({faults[top]}; dropped_{top} in values)'
    if not published:
        return DiagnosticStatus.ERROR, f'no output: {share}, {reason}'
    return DiagnosticStatus.WARN, f'{share}, {reason}'


def status_array(level: int, message: str, hardware_id: str, values: Mapping[str, Any],
                 stamp: Time) -> DiagnosticArray:
    """One DiagnosticArray with the node's single status."""
    status = DiagnosticStatus(level=level, name=DIAGNOSTIC_NAME, message=message,
                              hardware_id=hardware_id,
                              values=[KeyValue(k, str(v)) for k, v in values.items()])
    return DiagnosticArray(header=Header(stamp=stamp), status=[status])
