# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Which camera_info a frame is paired with, and which K it then uses: one place for both.

Real drivers send what sensor_msgs/CameraInfo.msg allows, not what a calibration tool writes:
an uncalibrated camera leaves D, K, R and P zeroed (camera_info_manager's `isCalibrated()` is
`K[0] != 0`), and many monocular drivers never fill R. The policy (`CameraInfoPolicy.choose`):

- R all zeros: not stated, taken as identity (a monocular camera's R);
- K all zeros: uncalibrated, the frame uses the model's K, as without any camera_info;
- anything else unusable (NaN, wrong size, fx <= 0 even with a valid P, binning or an ROI, a
  distortion model we do not know): ignored with a throttled warning, the model's K is used;
- `strict_camera_info`: every camera_info the check refuses drops its frame instead (the
  node's behaviour before drivers were taken as they are).

Pairing follows image_pipeline: `exact` (image_transport's CameraSubscriber) takes the
camera_info stamped like the frame, `approximate` the nearest within `camera_info_slop`
seconds, `latest` the newest received; a zero stamp is a static calibration in every mode.
The rule (`CameraInfoPairing.pick`) is written once; the live node waits for it on a condition
(`LivePairing`), `adds bag-depth` replays a recording's arrival order (`ReplayPairing`), so both
pair every frame the same way.
"""

import collections
import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple

import numpy as np

from adds_ros.image_decode import InputError, check_camera_info
from adds_ros.messages import CameraInfo, Time

SYNC_MODES = ('exact', 'approximate', 'latest')
# Where a frame's K came from: the keys of the camera_k_<source> diagnostics counters.
K_SOURCES = ('camera_info', 'no_camera_info', 'uncalibrated', 'invalid_camera_info')
# Seconds a frame waits for a camera_info stamped like it (live: wall time; replay: log time).
CAMERA_INFO_WAIT = 0.5
# Camera_info messages kept for pairing: a few frames' worth at any camera rate.
CAMERA_INFO_KEEP = 16
IDENTITY = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]


@dataclass
class CameraChoice:
    """The calibration a frame uses: `info` (R made explicit) or None for the model's K."""

    info: Optional[CameraInfo]
    source: str  # one of K_SOURCES


def all_zero(values: Any) -> bool:
    """Tell whether `values` are numbers, all zero (what an unfilled CameraInfo field holds)."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return array.size > 0 and not array.any()


class CameraInfoPolicy:
    """Choose each frame's camera K and count the choices (thread-safe counters).

    `warn(kind, message)` is the node's throttled warning; `once(kind, message)` warns the
    first time only: an uncalibrated camera stays uncalibrated, one line says so.
    """

    def __init__(self, strict: bool, warn: Any, once: Any) -> None:
        self.strict = strict
        self.warn, self.once = warn, once
        self.counts: Dict[str, int] = collections.Counter()
        self.last = ''

    def choose(self, info: Optional[CameraInfo], height: int, width: int) -> CameraChoice:
        """Return the calibration for a height x width frame; raise InputError if strict."""
        choice = self._choose(info, height, width)
        self.counts[choice.source] += 1
        self.last = choice.source
        return choice

    def _choose(self, info: Optional[CameraInfo], height: int, width: int) -> CameraChoice:
        if info is None:
            return CameraChoice(None, 'no_camera_info')
        if self.strict:
            check_camera_info(info, height, width)
            return CameraChoice(info, 'camera_info')
        if all_zero(info.k):
            self.once('camera_info_uncalibrated', 'camera_info K is all zeros (an uncalibrated '
                      "camera): using the model's K; ground-plane metres need a calibration")
            return CameraChoice(None, 'uncalibrated')
        if all_zero(info.r):
            self.once('camera_info_r', 'camera_info R is all zeros (not stated): taken as '
                      'identity, as for a monocular camera')
            info = dataclasses.replace(info, r=list(IDENTITY))
        try:
            check_camera_info(info, height, width)
        except InputError as err:
            self.warn('camera_info_ignored', f"ignoring camera_info, using the model's K: "
                      f'{err} (strict_camera_info:=true drops such frames)')
            return CameraChoice(None, 'invalid_camera_info')
        return CameraChoice(info, 'camera_info')

    def status(self) -> Dict[str, Any]:
        """Diagnostics values: the last frame's K source and a counter per source."""
        values: Dict[str, Any] = {'camera_k': self.last}
        values.update({f'camera_k_{source}': self.counts[source] for source in K_SOURCES})
        return values


def _nanoseconds(stamp: Time) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


class CameraInfoPairing:
    """The last CAMERA_INFO_KEEP camera_info messages in arrival order, and the pairing rule."""

    def __init__(self, mode: str = 'exact', slop: float = 0.0) -> None:
        if mode not in SYNC_MODES:
            raise ValueError(f'camera_info_sync must be one of {SYNC_MODES}, got {mode!r}')
        self.mode, self.slop_ns = mode, int(round(slop * 1e9))
        self.infos: Deque[CameraInfo] = collections.deque(maxlen=CAMERA_INFO_KEEP)

    def pick(self, stamp: Time) -> Optional[CameraInfo]:
        """Return the camera_info the rule pairs with a frame stamped `stamp`, or None."""
        want = _nanoseconds(stamp)
        best: Optional[Tuple[int, CameraInfo]] = None
        for info in reversed(self.infos):  # newest first: it wins ties
            got = _nanoseconds(info.header.stamp)
            if got == 0 or self.mode == 'latest':
                return info
            gap = abs(got - want)
            if gap == 0 or (self.mode == 'approximate' and gap <= self.slop_ns
                            and (best is None or gap < best[0])):
                best = (gap, info)
                if gap == 0:
                    break
        return best[1] if best else None

    def unpaired(self, stamp: Time) -> InputError:
        rule = {'exact': 'the same stamp',
                'approximate': f'a stamp within {self.slop_ns / 1e9:g} s'}.get(self.mode, '')
        return InputError('camera_info_unpaired',
                          f'no camera_info for the frame stamped {stamp.sec}.'
                          f'{stamp.nanosec:09d} (camera_info_sync {self.mode}: {rule}; '
                          'camera_info_sync:=latest for drivers with their own stamps)')


class LivePairing(CameraInfoPairing):
    """Pairing on a live graph: callbacks add, the inference thread waits for a match."""

    def __init__(self, mode: str = 'exact', slop: float = 0.0) -> None:
        super().__init__(mode, slop)
        self._cond = threading.Condition()

    def add(self, info: CameraInfo) -> None:
        with self._cond:
            self.infos.append(info)
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self.infos.clear()

    def match(self, stamp: Time, expected: bool,
              wait: float = CAMERA_INFO_WAIT) -> Optional[CameraInfo]:
        """Return the paired camera_info; None while none was ever received (model K used).

        `expected` (camera_info has a publisher): a frame waits up to `wait` seconds for the
        first camera_info too. The image and camera_info callbacks run in either order, so
        without this the first frame of a stream could take the model's K while its
        camera_info was a callback away. Once camera_info flows, raises
        InputError('camera_info_unpaired') when none pairs within `wait` seconds: a wrong K
        would silently bend every depth.
        """
        end = time.monotonic() + wait
        with self._cond:
            while True:
                if not self.infos and not expected:
                    return None
                info = self.pick(stamp)
                if info is not None:
                    return info
                left = end - time.monotonic()
                if left <= 0:
                    if not self.infos:  # none came at all: the model's K
                        return None
                    raise self.unpaired(stamp)
                self._cond.wait(left)


class ReplayPairing(CameraInfoPairing):
    """Pairing over a recording: the live node's answers, with log time as arrival time.

    `arrivals` are (log time ns, camera_info) in log-time order. A frame logged at t sees what
    the live node would have: the camera_infos logged up to t, then, one by one, those logged
    within CAMERA_INFO_WAIT after it (the live node's wait for a late one).
    """

    def __init__(self, arrivals: Sequence[Tuple[int, CameraInfo]], mode: str = 'exact',
                 slop: float = 0.0) -> None:
        super().__init__(mode, slop)
        self._arrivals: List[Tuple[int, CameraInfo]] = list(arrivals)
        self._next = 0  # first arrival not yet in self.infos

    def match(self, stamp: Time, log_time: int) -> Optional[CameraInfo]:
        """Return the camera_info for a frame logged at `log_time` (frames in log order)."""
        self._arrive_until(log_time)
        info = self.pick(stamp)
        late = log_time + int(CAMERA_INFO_WAIT * 1e9)
        while info is None and self._arrive_until(late, one=True):
            info = self.pick(stamp)
        if info is None and self.infos:
            raise self.unpaired(stamp)
        return info

    def _arrive_until(self, log_time: int, one: bool = False) -> bool:
        """Move arrivals logged up to `log_time` into the pairing (only the next if `one`)."""
        moved = False
        while self._next < len(self._arrivals) and self._arrivals[self._next][0] <= log_time:
            self.infos.append(self._arrivals[self._next][1])
            self._next += 1
            moved = True
            if one:
                break
        return moved
