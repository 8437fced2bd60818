# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The whole life of a TensorRT engine in one place: cache key, build, validate, rebuild.

A TensorRT engine (plan) is only valid for the exact TensorRT release and GPU model it was built
on, and for the exact network, precision and input shape. Loading a plan built elsewhere is at
best refused by TensorRT and at worst undefined (wrong depth, a crash). So every rule below
decides *before* any byte reaches TensorRT whether a file may be used:

1. The key covers everything that changes the plan: the ONNX content hash (not its name or
   date: a re-export with other weights must rebuild), the precision, the input shape, the
   TensorRT version, the GPU name and its compute capability, and for INT8 the hash of the
   calibration images (other images give other scales).
2. The file name carries the key's digest, `<onnx stem>.<precision>.<digest>.engine`, beside the
   ONNX file: engines for several GPUs (a Jetson and a desktop sharing a folder) and precisions
   live side by side and never overwrite each other.
3. Beside every engine is a JSON record written *after* the engine: the full key, the engine's
   size and SHA-256, the model metadata and the TensorRT version that built it. An engine
   without a record (a build killed half-way, a file copied from elsewhere) is never used.
4. On load, the record's key must equal the key computed now, field by field (a mismatch names
   the field), and the engine bytes must hash to the recorded SHA-256 (a truncated or corrupt
   file is caught here rather than inside TensorRT).
5. A cached engine that fails any check, or that TensorRT still refuses to deserialise, is
   rebuilt from the ONNX file with a log line saying why. If a freshly built engine cannot be
   deserialised, that is an error (no build loop).
6. An engine file given directly (no ONNX beside it to rebuild from) that fails a check is a
   clear error telling the user how to rebuild it, never a silent fallback.
7. Files are written atomically (adds_ros.atomic), so a reader never sees a half-written engine;
   the timing cache (kernel timings, valid per TensorRT version and GPU) is kept beside the ONNX
   so a rebuild after a re-export takes seconds instead of minutes.

TensorRT itself is only touched through the `build` and `deserialize` callables, which the
TensorRT backend supplies; everything here is plain Python and tested without a GPU.
"""

import hashlib
import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from adds_ros.atomic import write_bytes_atomic, write_text_atomic
from adds_ros.metadata import ModelMetadata

PRECISIONS = ('fp32', 'fp16', 'int8')
RECORD_FORMAT = 'adds_ros.engine/1'
PathLike = Union[str, Path]


class EngineError(RuntimeError):
    """An engine cannot be used and cannot be rebuilt here; the message says what to do."""


@dataclass(frozen=True)
class Platform:
    """What a plan is tied to besides the network: the TensorRT release and the GPU."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str

    def slug(self) -> str:
        """Return a file-name-safe identifier (used for the timing cache)."""
        text = f'trt{self.tensorrt_version}-{self.gpu_name}-sm{self.compute_capability}'
        return re.sub(r'[^A-Za-z0-9.+-]+', '_', text)


@dataclass(frozen=True)
class EngineKey:
    onnx_sha256: str
    precision: str
    input_shape: Tuple[int, ...]
    tensorrt_version: str
    gpu_name: str
    compute_capability: str
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


def make_key(onnx_path: PathLike, precision: str, input_shape: Sequence[int],
             platform: Platform, calibration_sha256: str = '') -> EngineKey:
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
    if precision == 'int8' and not calibration_sha256:
        raise ValueError('an INT8 engine needs calibration images (their hash is in the key)')
    return EngineKey(onnx_sha256=sha256_file(onnx_path), precision=precision,
                     input_shape=tuple(int(d) for d in input_shape),
                     tensorrt_version=platform.tensorrt_version, gpu_name=platform.gpu_name,
                     compute_capability=platform.compute_capability,
                     calibration_sha256=calibration_sha256 if precision == 'int8' else '')


def engine_path_for(onnx_path: PathLike, key: EngineKey) -> Path:
    onnx_path = Path(onnx_path)
    return onnx_path.with_name(f'{onnx_path.stem}.{key.precision}.{key.digest()}.engine')


def record_path_for(engine_path: PathLike) -> Path:
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + '.json')


def timing_cache_path(onnx_path: PathLike, platform: Platform) -> Path:
    return Path(onnx_path).with_name(f'.timing-{platform.slug()}.cache')


def write_engine(engine_path: PathLike, data: bytes, key: EngineKey, metadata: ModelMetadata,
                 onnx_path: Optional[PathLike] = None) -> None:
    """Write the engine, then its record (rule 3: the record's presence means 'complete')."""
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
    """Apply rules 3 and 4; return (record, '') when the engine may be loaded, else (None, why).

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


def load_or_build(onnx_path: PathLike, precision: str, input_shape: Sequence[int],
                  platform: Platform, metadata: ModelMetadata, build: Callable[[], bytes],
                  deserialize: Callable[[bytes], Any], calibration_sha256: str = '',
                  force: bool = False, log: Callable[[str], None] = print) -> CachedEngine:
    """Return a usable engine for `onnx_path`: the cached one if every check passes, else rebuilt.

    `build()` returns serialised plan bytes (minutes on a Jetson); `deserialize(bytes)` returns
    an engine or None. `force` rebuilds even a valid cache entry.
    """
    key = make_key(onnx_path, precision, input_shape, platform, calibration_sha256)
    path = engine_path_for(onnx_path, key)
    record, reason = (None, 'rebuild requested') if force else check_engine(path, key)
    if record is not None:
        engine, reason = deserialize_or_none(deserialize, path.read_bytes())
        if engine is not None:
            return CachedEngine(engine, path, key, metadata, built=False, reason='cached')
    log(f'building TensorRT engine {path.name} ({precision}, {platform.gpu_name}, '
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
    """Load an engine the user named directly (rule 6): any failed check is an EngineError."""
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
