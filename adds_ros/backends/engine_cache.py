# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The whole life of a TensorRT engine in one place: cache key, build, validate, rebuild.

A TensorRT engine (plan) is only valid for the exact TensorRT release and GPU it was built on,
and for the exact network, precision, input shapes and builder settings. Loading a plan built
elsewhere is at best refused by TensorRT and at worst undefined (wrong depth, a crash). So every
rule below decides *before* any byte reaches TensorRT whether a file may be used, and each says
why it exists.

Cache and key
1. The key covers everything that changes the plan: the ONNX content hash (not its name or
   date: a re-export with other weights must rebuild), and for INT8 the hash of the calibration
   images (other images give other scales).
2. The GPU is identified by name, compute capability, SM count and total memory (MiB). Name
   and compute capability alone cannot tell Jetson Orin modules apart (AGX Orin 64/32 GB, Orin
   NX 16/8 GB and Orin Nano 8/4 GB all report "Orin", SM 8.7) while their tactics differ; an
   engine tuned for 16 SMs is not the best, and may not fit, on 8.
3. The builder settings are in the key (`BuildSettings`): precision, the workspace limit (a
   plan built with 4 GiB of scratch may pick tactics a 512 MiB build on a small Jetson cannot
   run), the optimisation-profile shapes (a plan only accepts shapes inside its profile), the
   strongly-typed flag (it changes which types layers run in) and the TensorRT version.
4. The file name carries the key's digest, `<onnx stem>.<precision>.<digest>.engine`: engines
   for several GPUs (a Jetson and a desktop sharing a folder) and settings live side by side and
   never overwrite each other.
4a. A setting the caller left unset (`open_fields`: the node's workspace limit when its
   `workspace_mib` parameter is 0) does not pick the engine: a valid engine for this key that
   differs only there is reused, so `adds engine --workspace-mib 512` (the Jetson recipe)
   followed by the node loads that engine instead of building a second one with 1024 MiB.
   Only when none exists is an engine built with the default value.
5. Beside every engine is a JSON record written *after* the engine: the full key, the engine's
   size and SHA-256, the model metadata. An engine without a record (a build killed half-way, a
   file copied from elsewhere) is never used.
6. On load, the record's key must equal the key computed now, field by field (a mismatch names
   the field), and the engine bytes must hash to the recorded SHA-256 (a truncated or corrupt
   file is caught here rather than inside TensorRT).
7. A cached engine that fails any check, or that TensorRT still refuses to deserialise, is
   rebuilt from the ONNX file with a log line saying why. If a freshly built engine cannot be
   deserialised, that is an error (no build loop).
8. An engine file given directly (no ONNX beside it to rebuild from) that fails a check is a
   clear error telling the user how to rebuild it, never a silent fallback.

Files
9. Engines are cached beside the ONNX file (where `adds engine` put them, found by the node
   without configuration). When that folder is read-only (a model shipped in a package, a
   read-only root file system) engines are built into `$XDG_CACHE_HOME/adds_ros/engines`
   (default `~/.cache/adds_ros/engines`) with a log line saying so; a valid engine beside the
   ONNX is still used first.
10. Building holds an exclusive `fcntl` lock on `<engine>.lock`: two processes starting at once
   (two camera nodes, the node and `adds engine`) would otherwise both spend minutes building
   and race to write the same file. The second waits, then finds the first one's engine valid
   (the check is repeated under the lock) and loads it.
11. Files are written atomically (adds_ros.atomic), so a reader never sees a half-written
   engine; the kernel timing cache (valid per TensorRT version and GPU) is kept in the cache
   folder so a rebuild after a re-export takes seconds instead of minutes.
12. The INT8 calibration cache is named after the ONNX content hash, the calibration images'
   hash and the platform: scales computed for other weights or other images are never reused.
   Without calibration images, an existing calibration cache for this exact ONNX and platform
   is used (exactly one, else the user must name the images); none is a clear error.

Engine life at run time (tensorrt_backend.py and cuda_layer.py follow these)
13. One `trt.Logger` per process: TensorRT keeps a global logger, and the first one given is
   the one it uses, so more instances only mislead; it must outlive every runtime.
14. Each backend retains the device's *primary* context and makes it current only around its
   own calls (push, work, pop), popping only what it pushed. Contexts created per backend form
   a per-thread stack: with two backends on one thread (day and night models, `adds parity`)
   one engine ran in the other's context and closing them in the "wrong" order popped a foreign
   context. The primary context is shared and reference-counted, so any close order is safe.
15. Everything allocated in a context (page-locked and device buffers, the stream, TensorRT's
   execution context, engine and runtime) is freed with that context current, and before the
   context reference is released: freeing after release touches a destroyed context.
16. Only the outputs the caller reads are copied back to the host (chosen by name): copying the
   unused `depth` output every frame costs a device-to-host transfer per frame for nothing.

TensorRT itself is only touched through the `build` and `deserialize` callables, which the
TensorRT backend supplies; everything here is plain Python and tested without a GPU.
"""

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from adds_ros.atomic import write_bytes_atomic, write_text_atomic
from adds_ros.errors import UserError
from adds_ros.metadata import ModelMetadata
from adds_ros.precision import PRECISIONS

# Progress (engine builds take minutes) goes to logging: the `adds` console handler, or the
# node's rclpy logger (adds_ros.log.route_to_rclpy). Callers may pass their own `log`.
_info = logging.getLogger(__name__).info
RECORD_FORMAT = 'adds_ros.engine/2'
PathLike = Union[str, Path]
Shape = Tuple[int, ...]


class EngineError(UserError, RuntimeError):
    """An engine cannot be used or built here; the message says what to do (`adds` prints it)."""


@dataclass(frozen=True)
class Platform:
    """What a plan is tied to besides the network: the TensorRT release and the GPU (rule 2)."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    sm_count: int
    total_memory_mib: int

    def slug(self) -> str:
        """Return a file-name-safe identifier (timing and calibration caches)."""
        text = (f'trt{self.tensorrt_version}-{self.gpu_name}-sm{self.compute_capability}-'
                f'{self.sm_count}sm-{self.total_memory_mib}mib')
        return re.sub(r'[^A-Za-z0-9.+-]+', '_', text)


@dataclass(frozen=True)
class BuildSettings:
    """The builder settings that change a plan (rule 3).

    `profile` is (min, opt, max) input shapes for a dynamic-batch graph, () for a static one.
    """

    precision: str
    input_shape: Shape
    profile: Tuple[Shape, ...] = ()
    workspace_mib: int = 1024
    strongly_typed: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {PRECISIONS}, got {self.precision!r}')
        object.__setattr__(self, 'input_shape', tuple(int(d) for d in self.input_shape))
        object.__setattr__(self, 'profile',
                           tuple(tuple(int(d) for d in s) for s in self.profile))


@dataclass(frozen=True)
class EngineKey:
    onnx_sha256: str
    precision: str
    input_shape: Shape
    profile: Tuple[Shape, ...]
    workspace_mib: int
    strongly_typed: bool
    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    sm_count: int
    total_memory_mib: int
    calibration_sha256: str = ''

    def digest(self) -> str:
        """16 hex digits of the SHA-256 of the canonical JSON of every field."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]

    def differences(self, other: 'EngineKey') -> List[str]:
        """Describe each field where `other` (the record) differs from this (the expected) key."""
        return [f'{f.name}: engine has {getattr(other, f.name)!r}, needed '
                f'{getattr(self, f.name)!r}'
                for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'EngineKey':
        data = dict(data)
        data['input_shape'] = tuple(int(d) for d in data['input_shape'])
        data['profile'] = tuple(tuple(int(d) for d in s) for s in data['profile'])
        return cls(**data)


@dataclass
class CachedEngine:
    """What `load_or_build` hands back: the deserialised engine and how it was obtained."""

    engine: Any
    path: Path
    key: EngineKey
    metadata: ModelMetadata
    built: bool
    reason: str


def sha256_file(path: PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for block in iter(lambda: stream.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def sha256_files(paths: Sequence[PathLike]) -> str:
    """Hash a set of files by name and content, independent of the order given."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.name.encode('utf-8'))
        digest.update(bytes.fromhex(sha256_file(path)))
    return digest.hexdigest()


def make_key(onnx_path: PathLike, settings: BuildSettings, platform: Platform,
             calibration_sha256: str = '') -> EngineKey:
    if settings.precision == 'int8' and not calibration_sha256:
        raise ValueError('an INT8 engine needs calibration (its hash is in the key)')
    return EngineKey(onnx_sha256=sha256_file(onnx_path),
                     **asdict(settings), **asdict(platform),
                     calibration_sha256=calibration_sha256 if settings.precision == 'int8'
                     else '')


def fallback_folder() -> Path:
    """Return the per-user engine cache, used when the model folder is read-only (rule 9)."""
    base = os.environ.get('XDG_CACHE_HOME') or str(Path.home() / '.cache')
    return Path(base) / 'adds_ros' / 'engines'


def cache_folder(onnx_path: PathLike) -> Path:
    """Where engines for `onnx_path` are written: beside it, else the fallback folder (rule 9)."""
    folder = Path(onnx_path).resolve().parent
    if os.access(folder, os.W_OK | os.X_OK):
        return folder
    fallback = fallback_folder()
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def search_folders(onnx_path: PathLike, folder: Optional[Path] = None) -> List[Path]:
    """Folders that may hold engines of `onnx_path`: beside it first, then `folder`."""
    beside = Path(onnx_path).resolve().parent
    found = [beside]
    for extra in (folder, fallback_folder()):
        if extra is not None and Path(extra).resolve() not in found:
            found.append(Path(extra).resolve())
    return found


def engine_path_for(onnx_path: PathLike, key: EngineKey, folder: Optional[Path] = None) -> Path:
    onnx_path = Path(onnx_path)
    name = f'{onnx_path.stem}.{key.precision}.{key.digest()}.engine'
    return (Path(folder) if folder is not None else onnx_path.parent) / name


def record_path_for(engine_path: PathLike) -> Path:
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + '.json')


def timing_cache_path(folder: PathLike, platform: Platform) -> Path:
    return Path(folder) / f'.timing-{platform.slug()}.cache'


def calibration_cache_path(folder: PathLike, onnx_path: PathLike, onnx_sha256: str,
                           calibration_sha256: str, platform: Platform) -> Path:
    """Rule 12: the calibration cache of these weights, these images, this platform."""
    return Path(folder) / (f'.{Path(onnx_path).stem}.int8-{onnx_sha256[:16]}-'
                           f'{calibration_sha256}-{platform.slug()}.calib')


def calibration_of(cache: Path, onnx_path: PathLike, onnx_sha256: str,
                   platform: Platform) -> Optional[str]:
    """Return the images hash of a calibration cache of this ONNX and platform, else None.

    Rule 12 puts the hash in the name; an empty file or another model's cache gives None.
    """
    prefix = f'.{Path(onnx_path).stem}.int8-{onnx_sha256[:16]}-'
    suffix = f'-{platform.slug()}.calib'
    name = cache.name
    calibration = name[len(prefix):-len(suffix)] if name.startswith(prefix) and \
        name.endswith(suffix) else ''
    if re.fullmatch(r'[0-9a-f]{64}', calibration) and cache.is_file() \
            and cache.stat().st_size > 0:
        return calibration
    return None


def find_calibration_caches(folders: Sequence[Path], onnx_path: PathLike, onnx_sha256: str,
                            platform: Platform) -> List[Tuple[Path, str]]:
    """Non-empty calibration caches for this ONNX and platform: (path, calibration hash)."""
    found = []
    for folder in folders:
        for path in sorted(Path(folder).glob(f'.{Path(onnx_path).stem}.int8-*.calib')):
            calibration = calibration_of(path, onnx_path, onnx_sha256, platform)
            if calibration is not None:
                found.append((path, calibration))
    return found


@contextlib.contextmanager
def build_lock(engine_path: PathLike, log: Callable[[str], None] = _info) -> Iterator[None]:
    """Hold an exclusive lock on `<engine>.lock` while checking and building (rule 10)."""
    lock_path = Path(str(engine_path) + '.lock')
    with open(lock_path, 'a+') as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f'waiting for another process building {Path(engine_path).name}')
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_engine(engine_path: PathLike, data: bytes, key: EngineKey, metadata: ModelMetadata,
                 onnx_path: Optional[PathLike] = None) -> None:
    """Write the engine, then its record (rule 5: the record's presence means 'complete')."""
    engine_path = Path(engine_path)
    record_path_for(engine_path).unlink(missing_ok=True)
    write_bytes_atomic(engine_path, data)
    record = {'format': RECORD_FORMAT, 'key': asdict(key), 'engine_bytes': len(data),
              'engine_sha256': hashlib.sha256(data).hexdigest(),
              'metadata': json.loads(metadata.to_json()),
              'onnx': str(onnx_path) if onnx_path else ''}
    write_text_atomic(record_path_for(engine_path), json.dumps(record, indent=1) + '\n')


def read_record(engine_path: PathLike) -> Tuple[Optional[dict], str]:
    """Return (record, '') or (None, why it cannot be used)."""
    path = record_path_for(engine_path)
    if not path.is_file():
        return None, f'no record {path.name} of what built it'
    try:
        record = json.loads(path.read_text())
        if record.get('format') != RECORD_FORMAT:
            return None, f'record {path.name} has format {record.get("format")!r}'
        EngineKey.from_dict(record['key'])
        ModelMetadata(**record['metadata'])
    except (ValueError, KeyError, TypeError) as err:
        return None, f'record {path.name} is unreadable ({err})'
    return record, ''


def check_engine(engine_path: PathLike, expected: Optional[EngineKey] = None,
                 platform: Optional[Platform] = None) -> Tuple[Optional[dict], str]:
    """Apply rules 5 and 6; return (record, '') when the engine may be loaded, else (None, why).

    With `expected`, the whole key must match; with only `platform` (an engine given directly),
    the TensorRT version and GPU must.
    """
    engine_path = Path(engine_path)
    if not engine_path.is_file():
        return None, 'no engine file'
    record, why = read_record(engine_path)
    if record is None:
        return None, why
    found = EngineKey.from_dict(record['key'])
    if expected is None and platform is not None:
        expected = EngineKey(**{**asdict(found), **asdict(platform)})
    if expected is not None and found != expected:
        return None, 'built for something else (' + '; '.join(expected.differences(found)) + ')'
    if engine_path.stat().st_size != record['engine_bytes'] \
            or sha256_file(engine_path) != record['engine_sha256']:
        return None, 'engine file is corrupt (size or SHA-256 differs from its record)'
    return record, ''


def deserialize_or_none(deserialize: Callable[[bytes], Any], data: bytes) -> Tuple[Any, str]:
    """Call TensorRT's deserialiser; a None result or an exception becomes (None, why)."""
    try:
        engine = deserialize(data)
    except Exception as err:  # noqa: BLE001 - TensorRT raises several types; all mean "unusable"
        return None, f'TensorRT could not deserialise it ({err})'
    return engine, '' if engine is not None else 'TensorRT could not deserialise it'


def engines_differing_only_in(onnx_path: PathLike, key: EngineKey, folders: Sequence[Path],
                              open_fields: Sequence[str]) -> List[Tuple[Path, EngineKey]]:
    """Return the cached engines whose key equals `key` except in `open_fields` (rule 4a)."""
    found = []
    closed = {f.name for f in fields(key)} - set(open_fields)
    for folder in folders:
        for path in sorted(Path(folder).glob(f'{Path(onnx_path).stem}.{key.precision}.*.engine')):
            record, _ = read_record(path)
            if record is None:
                continue
            other = EngineKey.from_dict(record['key'])
            if other != key and all(getattr(other, n) == getattr(key, n) for n in closed):
                found.append((path, other))
    return found


def _load_valid(candidates: Sequence[Tuple[Path, EngineKey]], deserialize: Callable[[bytes], Any]
                ) -> Tuple[Any, Optional[Path], Optional[EngineKey], str]:
    """Load the first candidate (path, its expected key) that passes every check.

    Returns (engine, path, key, '') or (None, None, None, why); `why` is the first reason other
    than a missing file (that one says most).
    """
    reasons = []
    for path, key in candidates:
        record, why = check_engine(path, key)
        if record is not None:
            engine, why = deserialize_or_none(deserialize, path.read_bytes())
            if engine is not None:
                return engine, path, key, ''
        reasons.append(why)
    return None, None, None, next((r for r in reasons if r != 'no engine file'), 'no engine file')


def load_or_build(onnx_path: PathLike, settings: BuildSettings, platform: Platform,
                  metadata: ModelMetadata, build: Callable[[], bytes],
                  deserialize: Callable[[bytes], Any], calibration_sha256: str = '',
                  force: bool = False, folder: Optional[PathLike] = None,
                  log: Callable[[str], None] = _info,
                  open_fields: Sequence[str] = ()) -> CachedEngine:
    """Return a usable engine for `onnx_path`: the cached one if every check passes, else rebuilt.

    `build()` returns serialised plan bytes (minutes on a Jetson); `deserialize(bytes)` returns
    an engine or None. `folder` is where a build is written (default: `cache_folder`); a valid
    engine in any of `search_folders` is used. `force` rebuilds even a valid cache entry.
    `open_fields` are key fields the caller left unset (rule 4a): an engine differing only there
    is used when the exact key has none; `settings` holds the values a build uses.
    """
    key = make_key(onnx_path, settings, platform, calibration_sha256)
    folder = Path(folder) if folder is not None else cache_folder(onnx_path)
    path = engine_path_for(onnx_path, key, folder)
    folders = search_folders(onnx_path, folder)
    candidates = [(engine_path_for(onnx_path, key, f), key) for f in folders]
    if open_fields:
        candidates += engines_differing_only_in(onnx_path, key, folders, open_fields)
    with build_lock(path, log):
        engine, found, found_key, reason = (None, None, None, 'rebuild requested') if force \
            else _load_valid(candidates, deserialize)
        if engine is not None:
            return CachedEngine(engine, found, found_key, metadata, built=False, reason='cached')
        beside = Path(onnx_path).resolve().parent
        if path.parent.resolve() != beside:
            log(f'model folder {beside} is read-only: caching TensorRT engines in {path.parent}')
        log(f'building TensorRT engine {path} ({settings.precision}, {platform.gpu_name}, '
            f'TensorRT {platform.tensorrt_version}): {reason}')
        data = bytes(build())
        if not data:
            raise EngineError(f'TensorRT built no engine from {onnx_path} (see the log above)')
        write_engine(path, data, key, metadata, onnx_path)
    engine, why = deserialize_or_none(deserialize, data)
    if engine is None:
        raise EngineError(f'the engine just built from {onnx_path} is unusable: {why}')
    return CachedEngine(engine, path, key, metadata, built=True, reason=reason)


def load_engine_file(engine_path: PathLike, platform: Platform,
                     deserialize: Callable[[bytes], Any]) -> CachedEngine:
    """Load an engine the user named directly (rule 8): any failed check is an EngineError."""
    engine_path = Path(engine_path)
    record, why = check_engine(engine_path, platform=platform)
    if record is not None:
        engine, why = deserialize_or_none(deserialize, engine_path.read_bytes())
        if engine is not None:
            return CachedEngine(engine, engine_path, EngineKey.from_dict(record['key']),
                                ModelMetadata(**record['metadata']), built=False,
                                reason='given')
    source = (read_record(engine_path)[0] or {}).get('onnx') or '<model.onnx>'
    raise EngineError(f'cannot use {engine_path}: {why}. Rebuild it on this machine with '
                      f'`adds engine --onnx {source}`, or give the node the .onnx file and it '
                      f'builds and caches the engine itself')
