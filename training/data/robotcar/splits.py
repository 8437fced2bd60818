# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Readers for the published RobotCar split files, so their frames can be reproduced.

Three formats exist: ADDS (`folder/index`, frames of the authors' processed release), md4all /
WSGD ("prev cur next" µs timestamps) and RNW ("<ts> <chunk>", `#` comments, `------` lines
between sequences). All are read into `SplitRecord`s; `timestamps()` lists the raw frames a
split needs so `adds prepare --split-file` can write exactly those.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from adds_training.data.layout import parse_split_line

FORMATS = ('adds', 'md4all', 'rnw')


@dataclass(frozen=True)
class SplitRecord:
    """One evaluation/training frame of a published split.

    `timestamp` is the raw frame (µs) for md4all / RNW; ADDS entries name a processed frame by
    `folder` and `index` instead. `neighbours` holds md4all's (prev, next) timestamps.
    """

    timestamp: Optional[int] = None
    folder: Optional[str] = None
    index: Optional[int] = None
    chunk: Optional[int] = None
    neighbours: Tuple[int, ...] = ()


def detect_format(lines: List[str]) -> str:
    """Guess the format from the first non-comment line."""
    for line in lines:
        text = line.split('#', 1)[0].strip()
        if not text or set(text) == {'-'}:
            continue
        if '/' in text or '\\' in text:
            return 'adds'
        return 'md4all' if len(text.split()) == 3 else 'rnw'
    raise ValueError('split file has no entries')


def _parse_adds(text: str) -> SplitRecord:
    folder, index = parse_split_line(text)
    return SplitRecord(folder=folder, index=index)


def _parse_md4all(text: str) -> SplitRecord:
    fields = text.split()
    if len(fields) != 3 or not all(f.isdigit() for f in fields):
        raise ValueError(f'expected "prev cur next" timestamps, got {text!r}')
    prev, cur, nxt = (int(f) for f in fields)
    return SplitRecord(timestamp=cur, neighbours=(prev, nxt))


def _parse_rnw(text: str) -> SplitRecord:
    fields = text.split()
    if len(fields) not in (1, 2) or not all(f.isdigit() for f in fields):
        raise ValueError(f'expected "<timestamp> <chunk>", got {text!r}')
    return SplitRecord(timestamp=int(fields[0]),
                       chunk=int(fields[1]) if len(fields) == 2 else None)


PARSERS = {'adds': _parse_adds, 'md4all': _parse_md4all, 'rnw': _parse_rnw}


def read_published_split(path: Path, fmt: str = 'auto') -> List[SplitRecord]:
    """Read a published split file (`fmt`: adds, md4all, rnw or auto) into SplitRecords."""
    lines = Path(path).read_text().splitlines()
    if fmt == 'auto':
        fmt = detect_format(lines)
    if fmt not in PARSERS:
        raise ValueError(f'unknown split format {fmt!r}; expected one of {FORMATS} or auto')
    records = []
    for number, line in enumerate(lines, 1):
        text = line.split('#', 1)[0].strip()
        if not text or set(text) == {'-'}:
            continue
        try:
            records.append(PARSERS[fmt](text))
        except ValueError as err:
            raise ValueError(f'{path}:{number}: {err}') from None
    return records


def timestamps(records: List[SplitRecord], with_neighbours: bool = False) -> List[int]:
    """Sorted unique raw timestamps the records need; ADDS records have none (ValueError)."""
    if any(r.timestamp is None for r in records):
        raise ValueError('ADDS split entries name processed frames (folder/index), not raw '
                         'timestamps: use them with the authors\' processed release')
    stamps = {r.timestamp for r in records}
    if with_neighbours:
        stamps.update(t for r in records for t in r.neighbours)
    return sorted(stamps)
