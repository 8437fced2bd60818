# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Atomic file output: a reader never sees a half-written file, a killed job leaves none.

Everything the project writes (frames, ground truth, checkpoints, ONNX files, engines, bags,
reports) goes through `atomic_path`: write to a temporary name in the same folder, then
`os.replace` it over the final name, which is atomic on POSIX file systems.
"""

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Union

PathLike = Union[str, os.PathLike]
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str = '') -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it to `path`, else remove it.

    The temporary name starts with '.' and keeps the final extension (OpenCV chooses the codec
    from it), so listings must skip hidden files; `suffix` overrides the extension.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix=suffix or path.suffix,
                               dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual mode

    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    write_bytes_atomic(path, text.encode('utf-8'))
