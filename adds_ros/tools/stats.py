# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Timing statistics: medians and tails of repeated measurements, taken side by side.

The machines are shared, so a benchmark reports the median (robust to a neighbour's burst) and
the 99th percentile (what a control loop must budget for), and times the alternatives it
compares in turn, iteration by iteration, so that a change of load hits all of them alike.
"""

import time
from typing import Callable, Dict, List, Mapping, Sequence

import numpy as np


def percentile(values: Sequence[float], q: float) -> float:
    """Return the `q`-th percentile, q in [0, 100], interpolating between order statistics."""
    if len(values) == 0:
        raise ValueError('percentile of no values')
    if not 0 <= q <= 100:
        raise ValueError(f'percentile must be in [0, 100], got {q}')
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def summarize(seconds: Sequence[float]) -> Dict[str, float]:
    """Latency summary of per-call durations: n, p50/p99/mean in ms and frames/s at the median."""
    p50 = median(seconds)
    return {'n': len(seconds), 'p50_ms': p50 * 1e3, 'p99_ms': percentile(seconds, 99) * 1e3,
            'mean_ms': float(np.mean(seconds)) * 1e3, 'fps': 1.0 / p50 if p50 > 0 else 0.0}


def time_interleaved(calls: Mapping[str, Callable[[], object]], iterations: int,
                     warmup: int = 1, progress: Callable[[], None] = lambda: None,
                     ) -> Dict[str, List[float]]:
    """Time each call `iterations` times, rotating the order every round; return seconds each.

    `warmup` untimed rounds come first (allocators, thread pools, caches). The rotation keeps a
    slow start or end of a neighbour's job from always landing on the same candidate.
    """
    if iterations < 1:
        raise ValueError(f'iterations must be at least 1, got {iterations}')
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            calls[name]()
    seconds: Dict[str, List[float]] = {name: [] for name in names}
    for i in range(iterations):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            calls[name]()
            seconds[name].append(time.perf_counter() - start)
        progress()
    return seconds
