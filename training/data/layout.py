# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The processed-data layout, shared by RobotCar, the synthetic world and the authors' release.

One on-disk format (docs/data.md):

    <root>/<folder>/<index:010d>.png              RGB frames at the network resolution
    <root>/<folder>_fake_night/<same name>.png    day-to-night twin of each day frame
    <root>/<folder>_gt/<same name>.png            16-bit depth, metres = value / 256, 0 = invalid
    <root>/splits/<name>.txt                      one `folder/index` per line
    <root>/dataset.json                           intrinsics and GT geometry (DatasetInfo)
    <root>/<folder>.timestamps                    `index µs` per line: each frame's camera time

The authors' release has no dataset.json; `DatasetInfo.load` falls back to the RobotCar values
for it, so a user who downloaded that release can train at once.
"""

import json
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Collection, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

from adds_ros.atomic import atomic_path, write_text_atomic
from adds_ros.errors import UserValueError

GT_SCALE = 256.0
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
PNG_END = b'IEND\xaeB`\x82'   # the IEND chunk's type and CRC close every complete PNG
FAKE_NIGHT_SUFFIX = '_fake_night'
GT_SUFFIX = '_gt'
DATASET_INFO = 'dataset.json'

SplitEntry = Tuple[str, int]


@dataclass
class DatasetInfo:
    """Geometry of a processed dataset, stored beside the data instead of hard-coded.

    `K` is the 3x3 intrinsics *normalised* by the processed image's width and height (row 0
    divided by W, row 1 by H), for the image after crop: it is resolution independent.
    `gt_size` is (H, W) of the ground-truth PNGs and `gt_crop` (top, bottom, left, right) the
    region of the GT image that the processed frames show; evaluation compares predictions
    resized to that region.
    """

    K: List[List[float]]
    image_size: Tuple[int, int]
    gt_size: Tuple[int, int]
    gt_crop: Tuple[int, int, int, int]
    name: str = ''
    extra: dict = field(default_factory=dict)

    def K_for(self, height: int, width: int) -> np.ndarray:
        """Pixel intrinsics (3x3 float32) for an image of `height` x `width`."""
        K = np.array(self.K, dtype=np.float32)
        K[0] *= width
        K[1] *= height
        return K

    def save(self, root: Path) -> None:
        write_text_atomic(Path(root) / DATASET_INFO, json.dumps(asdict(self), indent=1) + '\n')

    @classmethod
    def load(cls, root: Path) -> 'DatasetInfo':
        path = Path(root) / DATASET_INFO
        if not path.exists():
            return robotcar_info()
        data = json.loads(path.read_text())
        for key in ('image_size', 'gt_size', 'gt_crop'):
            data[key] = tuple(data[key])
        return cls(**data)


# RobotCar stereo_wide_left (Bumblebee XB3), 1280x960, cropped to rows 160:800 (1280x640).
ROBOTCAR_FULL_SIZE = (960, 1280)
ROBOTCAR_CROP = (160, 800, 0, 1280)
ROBOTCAR_FOCAL = 983.044006
ROBOTCAR_PRINCIPAL = (643.646973, 493.378998)


def robotcar_info(image_size: Tuple[int, int] = (256, 512)) -> DatasetInfo:
    """Return the geometry of RobotCar frames processed as ADDS (and `adds prepare`) does."""
    top, bottom, left, right = ROBOTCAR_CROP
    h, w = bottom - top, right - left
    cx, cy = ROBOTCAR_PRINCIPAL
    K = [[ROBOTCAR_FOCAL / w, 0.0, (cx - left) / w],
         [0.0, ROBOTCAR_FOCAL / h, (cy - top) / h],
         [0.0, 0.0, 1.0]]
    return DatasetInfo(K=K, image_size=tuple(image_size), gt_size=ROBOTCAR_FULL_SIZE,
                       gt_crop=ROBOTCAR_CROP, name='robotcar_stereo_left')


def frame_name(index: int) -> str:
    return f'{int(index):010d}.png'


def frame_path(root: Path, folder: str, index: int) -> Path:
    return Path(root) / folder / frame_name(index)


def fake_night_path(root: Path, folder: str, index: int) -> Path:
    return frame_path(root, folder + FAKE_NIGHT_SUFFIX, index)


def gt_path(root: Path, folder: str, index: int) -> Path:
    return frame_path(root, folder + GT_SUFFIX, index)


def split_path(root: Path, name: str) -> Path:
    return Path(root) / 'splits' / f'{name}.txt'


def timestamps_path(root: Path, folder: str) -> Path:
    return Path(root) / f'{folder}.timestamps'


def write_index_timestamps(root: Path, folder: str, stamps: Mapping[int, int]) -> None:
    """Write `<root>/<folder>.timestamps` (index -> µs), sorted by index, atomically."""
    text = ''.join(f'{index:010d} {stamp}\n' for index, stamp in sorted(stamps.items()))
    write_text_atomic(timestamps_path(root, folder), text)


def read_index_timestamps(root: Path, folder: str) -> Dict[int, int]:
    """Read `<root>/<folder>.timestamps` (index -> µs): how frames map back to camera time."""
    path = timestamps_path(root, folder)
    if not path.exists():
        raise FileNotFoundError(f'{path} not found: run `adds prepare` for {folder} first')
    pairs = (line.split() for line in path.read_text().splitlines() if line.strip())
    return {int(index): int(stamp) for index, stamp in pairs}


def parse_split_line(line: str) -> Optional[SplitEntry]:
    """Parse `folder/index` (the ADDS split format); blank lines and `#` comments give None."""
    line = line.split('#', 1)[0].strip()
    if not line:
        return None
    folder, sep, index = line.replace('\\', '/').rpartition('/')
    if not sep or not folder or not index.isdigit():
        raise ValueError(f'not a split line of the form folder/index: {line!r}')
    return folder, int(index)


def read_split(path: Path) -> List[SplitEntry]:
    """Read a split file; a malformed line raises ValueError naming the file and line."""
    entries = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        try:
            entry = parse_split_line(line)
        except ValueError as err:
            raise UserValueError(f'{path}:{number}: {err}') from None
        if entry is not None:
            entries.append(entry)
    return entries


def write_split(path: Path, entries: Iterable[SplitEntry]) -> None:
    write_text_atomic(path, ''.join(f'{folder}/{int(index):010d}\n' for folder, index in entries))


def read_rgb(path: Path) -> np.ndarray:
    """Read an image as RGB uint8 HxWx3; raise ValueError if missing or undecodable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise UserValueError(f'cannot read image {path}')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image atomically (format from the extension)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f'expected HxWx3 uint8 RGB, got {rgb.dtype} {rgb.shape}')
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise OSError(f'cannot write image {path}')


def _png_problem(data: bytes) -> Optional[str]:
    """Say what makes `data` no complete PNG (None: signature, chunks and CRCs are right).

    Checked before decoding: libpng stops a truncated file with a C-level error on stderr, and
    a decoder may hand back the rows it got, which would score as missing ground truth.
    """
    if not data:
        return 'the file is empty'
    if not data.startswith(PNG_SIGNATURE):
        return 'not a PNG file (wrong signature)'
    if not data.endswith(PNG_END):
        return 'truncated PNG (no IEND chunk at the end)'
    offset = len(PNG_SIGNATURE)
    while offset < len(data):  # chunks: length, type, data, CRC-32 of type + data
        if offset + 12 > len(data):
            return f'corrupt PNG (chunk header cut at byte {offset})'
        length = int.from_bytes(data[offset:offset + 4], 'big')
        end = offset + 8 + length
        if end + 4 > len(data):
            return f'corrupt PNG (chunk at byte {offset} runs past the end)'
        if zlib.crc32(data[offset + 4:end]) != int.from_bytes(data[end:end + 4], 'big'):
            kind = data[offset + 4:offset + 8].decode('latin-1')
            return f'corrupt PNG (CRC mismatch in the {kind!r} chunk at byte {offset})'
        offset = end + 4
    return None


def read_gt_png(path: Path) -> np.ndarray:
    """Read 16-bit PNG ground truth as float32 metres (0 = invalid); UserValueError if bad."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UserValueError(f'ground truth {path}: cannot read it ({err.strerror})') from None
    problem = _png_problem(data)
    raw = None if problem else cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise UserValueError(f'ground truth {path}: {problem or "corrupt PNG data"}')
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise UserValueError(f'ground truth {path}: not a single-channel 16-bit PNG '
                             f'({raw.dtype}, {raw.shape[2] if raw.ndim == 3 else 1} channels)')
    return raw.astype(np.float32) / GT_SCALE


def write_gt_png(path: Path, depth: np.ndarray) -> None:
    """Write metres as 16-bit PNG (value = metres * 256, 0 = invalid), atomically.

    Depth beyond the format's range (255.99 m) or non-finite is stored as 0 (invalid).
    """
    depth = np.asarray(depth, dtype=np.float64)
    valid = np.isfinite(depth) & (depth > 0) & (depth * GT_SCALE < 65535.5)
    raw = np.zeros(depth.shape, np.uint16)
    raw[valid] = np.round(depth[valid] * GT_SCALE).astype(np.uint16)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), raw):
            raise OSError(f'cannot write ground truth {path}')


def triplet_ok(present: Collection[int], index: int, offsets: Sequence[int] = (-1, 1)) -> bool:
    """Tell whether every neighbour index+offset is present (triplets never cross a gap).

    Pass a set: membership is tested once per offset.
    """
    return all(index + o in present for o in offsets)
