# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""rosbag2 reading and writing with `rosbags`, shaped for `ros2 bag play` on Humble and newer.

Three choices make a bag written here play like a recorded one:
- rosbag2 format version 8: Humble's reader takes it, and its metadata stores the offered QoS
  profiles with numeric enums, the form Humble parses (version 9 writes names Humble rejects);
- every topic carries the QoS profile its live publisher would offer (sensor data: best effort,
  keep last), because `ros2 bag play` republishes with the recorded profiles;
- output is atomic: a bag is assembled in a hidden folder beside its destination and renamed
  into place only once its metadata is complete, so a killed job never leaves a bag that looks
  whole; Ctrl-C and SIGTERM remove that folder and say so (only SIGKILL leaves it behind);
- a size split starts a new file only where the log time changes, so the messages of one
  frame (image and camera_info share their stamp) always land in the same file.

Reading takes any recording: a rosbag2 folder (MCAP or sqlite3; the files its metadata.yaml
lists, whatever its version: Humble writes 5, Jazzy and Kilted 9), a single .mcap or .db3 file,
or a folder of them without metadata.yaml (split files of one recording); the files' messages
are merged by log time. Types the Humble store does not know are learned from the definitions
stored in the files. Inputs that cannot be read (not a recording, an MCAP cut short, a
malformed sqlite3 file or metadata.yaml) raise UserValueError naming the input, the file and
the problem.

Messages cross into rosbags from the project's plain dataclasses (`adds_ros.messages`) by a
field-by-field copy driven by the ROS type definitions, so the bag tools and the node share one
message model and one decoder.
"""

import contextlib
import dataclasses
import functools
import heapq
import logging
import os
import secrets
import shutil
import signal
import threading
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np
import yaml
from rosbags.interfaces import (MessageDefinitionFormat, Qos, QosDurability, QosHistory,
                                QosLiveliness, QosReliability, QosTime)
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore
from rosbags.typesys.base import Nodetype

from adds_ros.atomic import write_text_atomic
from adds_ros.errors import UserValueError
from adds_ros.messages import from_fields, Time

PathLike = Union[str, os.PathLike]

BAG_VERSION = 8
STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
STORAGE_SUFFIX = {'mcap': '.mcap', 'sqlite3': '.db3'}
STORAGE_FILES = tuple(STORAGE_SUFFIX.values())
METADATA = 'metadata.yaml'
# First bytes of a complete file of each storage: MCAP also ends with its magic.
MCAP_MAGIC = b'\x89MCAP0\r\n'
SQLITE_MAGIC = b'SQLite format 3\x00'

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage'
CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'
TF_MESSAGE = 'tf2_msgs/msg/TFMessage'

LOGGER = logging.getLogger(__name__)
_UNSET = QosTime(0, 0)  # rmw "unspecified": the middleware default, as `ros2 bag record` stores


def qos_profile(reliability: QosReliability, depth: int,
                durability: QosDurability = QosDurability.VOLATILE) -> Qos:
    """Return a keep-last QoS profile with the remaining policies at their defaults."""
    return Qos(QosHistory.KEEP_LAST, depth, reliability, durability, _UNSET, _UNSET,
               QosLiveliness.AUTOMATIC, _UNSET, False)


# rclcpp's SensorDataQoS (cameras), the default publisher profile (depth output), and tf2's
# static broadcaster (latched, so a late subscriber still gets the camera pose).
SENSOR_QOS = qos_profile(QosReliability.BEST_EFFORT, 5)
RELIABLE_QOS = qos_profile(QosReliability.RELIABLE, 10)
STATIC_TF_QOS = qos_profile(QosReliability.RELIABLE, 1, QosDurability.TRANSIENT_LOCAL)


@functools.lru_cache(maxsize=1)
def typestore():
    """Return the message definitions of ROS 2 Humble, which every newer distribution reads."""
    return get_typestore(Stores.ROS2_HUMBLE)


def camera_info_topic(image_topic: str) -> str:
    """Name the camera_info topic of an image topic: beside it, as image_transport expects."""
    if image_topic.endswith('/compressed'):
        image_topic = image_topic[:-len('/compressed')]
    return image_topic.rsplit('/', 1)[0] + '/camera_info'


# ---------------------------------------------------------------- time

def time_from_ns(nanoseconds: int) -> Time:
    """builtin_interfaces/Time of an integer nanosecond timestamp (exact, no float rounding)."""
    sec, nanosec = divmod(int(nanoseconds), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def stamp_ns(stamp) -> int:
    """Integer nanoseconds of a Time (project dataclass or rosbags message)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


# ---------------------------------------------------------------- message conversion

def _numpy_dtype(ros_type: str) -> Optional[np.dtype]:
    if ros_type == 'string':
        return None
    return np.dtype(np.uint8 if ros_type in ('byte', 'char') else ros_type)


def _to_field(value, kind: int, detail):
    if kind == Nodetype.NAME:
        return to_rosbags(value, detail)
    if kind == Nodetype.BASE:
        return value
    (sub_kind, sub_detail), _ = detail
    dtype = _numpy_dtype(sub_detail[0]) if sub_kind == Nodetype.BASE else None
    if dtype is None:
        return [_to_field(item, sub_kind, sub_detail) for item in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return np.frombuffer(value, dtype=dtype)
    return np.asarray(value, dtype=dtype)


def to_rosbags(msg, msgtype: str):
    """Copy a project message dataclass into the rosbags message class of `msgtype`."""
    store = typestore()
    if msgtype not in store.types:
        raise ValueError(f'unknown message type {msgtype!r}')
    _, fields = store.fielddefs[msgtype]
    values = {}
    for name, (kind, detail) in fields:
        if not hasattr(msg, name):
            raise ValueError(f'{type(msg).__name__} has no field {name!r} of {msgtype}')
        values[name] = _to_field(getattr(msg, name), kind, detail)
    return store.types[msgtype](**values)


def from_rosbags(msg, cls: type):
    """Copy a rosbags message into the project dataclass `cls` (pixel data not copied)."""
    return from_fields(msg, cls)


def serialize(msg, msgtype: str) -> bytes:
    """CDR bytes of a rosbags message or a project dataclass of type `msgtype`."""
    store = typestore()
    if not isinstance(msg, store.types[msgtype]):
        msg = to_rosbags(msg, msgtype)
    return bytes(store.serialize_cdr(msg, msgtype))


def deserialize(data: bytes, msgtype: str):
    """Return the rosbags message held by CDR `data` (ValueError for a type never defined)."""
    store = typestore()
    if msgtype not in store.types:
        raise ValueError(f'message type {msgtype} is neither a ROS 2 Humble type nor defined '
                         'in the recording')
    return store.deserialize_cdr(data, msgtype)


# ---------------------------------------------------------------- transforms

def quaternion_from_matrix(rotation: np.ndarray) -> Tuple[float, float, float, float]:
    """Return the unit quaternion (x, y, z, w), w >= 0, of a 3x3 rotation matrix."""
    rotation = np.asarray(rotation, dtype=np.float64)
    if rotation.shape != (3, 3) or not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6) \
            or np.linalg.det(rotation) < 0:
        raise ValueError(f'not a rotation matrix:\n{rotation}')
    # The eigenvector of the largest eigenvalue of this symmetric matrix is the quaternion;
    # unlike trace-based formulas it stays accurate for rotations near 180 degrees.
    m = rotation
    k = np.array([
        [m[0, 0] - m[1, 1] - m[2, 2], m[1, 0] + m[0, 1], m[2, 0] + m[0, 2], m[2, 1] - m[1, 2]],
        [m[1, 0] + m[0, 1], m[1, 1] - m[0, 0] - m[2, 2], m[2, 1] + m[1, 2], m[0, 2] - m[2, 0]],
        [m[2, 0] + m[0, 2], m[2, 1] + m[1, 2], m[2, 2] - m[0, 0] - m[1, 1], m[1, 0] - m[0, 1]],
        [m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1], m[0, 0] + m[1, 1] + m[2, 2]],
    ]) / 3.0
    _, vectors = np.linalg.eigh(k)
    q = vectors[:, -1]
    q = -q if q[3] < 0 else q
    return tuple(float(v) for v in q)


def static_transform_message(parent: str, child: str, transform: np.ndarray, stamp: int):
    """tf2_msgs/TFMessage with one transform: `child`'s pose in `parent` (4x4, metres)."""
    store = typestore()
    types = store.types
    transform = np.asarray(transform, dtype=np.float64)
    x, y, z = transform[:3, 3]
    qx, qy, qz, qw = quaternion_from_matrix(transform[:3, :3])
    header = types['std_msgs/msg/Header'](
        stamp=types['builtin_interfaces/msg/Time'](**dataclasses.asdict(time_from_ns(stamp))),
        frame_id=parent)
    stamped = types['geometry_msgs/msg/TransformStamped'](
        header=header, child_frame_id=child,
        transform=types['geometry_msgs/msg/Transform'](
            translation=types['geometry_msgs/msg/Vector3'](x=float(x), y=float(y), z=float(z)),
            rotation=types['geometry_msgs/msg/Quaternion'](x=qx, y=qy, z=qz, w=qw)))
    return types[TF_MESSAGE](transforms=[stamped])


# ---------------------------------------------------------------- writing

def _hidden_dir(parent: Path, name: str, suffix: str) -> Path:
    """Create `.<name>.<random><suffix>` in `parent` with the umask's mode (mkdtemp's is 0700)."""
    while True:
        path = parent / f'.{name}.{secrets.token_hex(4)}{suffix}'
        try:
            path.mkdir(0o777)
            return path
        except FileExistsError:
            continue


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Defer SIGINT and SIGTERM until the block is done, then raise KeyboardInterrupt.

    Python-level handlers, not a signal mask: a process-directed signal would reach one of the
    other threads (BLAS, ONNX Runtime) that do not block it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: List[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt('' if caught[0] == signal.SIGINT else
                                signal.Signals(caught[0]).name)


def _interrupt(signum: int, frame) -> None:
    """SIGTERM handler while a bag is written: unwind like Ctrl-C, so the bag is cleaned up."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


class BagWriter:
    """A rosbag2 writer that splits into files by size and appears only when complete.

    Files are named `<bag>_<i>.mcap` (or `.db3`) inside the bag folder, as `ros2 bag record`
    names split files, and one metadata.yaml lists them all. Use as a context manager: leaving
    it by an exception removes everything written; while it is open (in the main thread)
    SIGTERM raises KeyboardInterrupt, and an interrupt is re-raised with a message that says
    what was removed.
    """

    def __init__(self, path: PathLike, storage: str = 'mcap', split_size_mb: float = 0.0,
                 overwrite: bool = False) -> None:
        if storage not in STORAGES:
            raise ValueError(f'unknown storage {storage!r}; choose one of {", ".join(STORAGES)}')
        if split_size_mb < 0:
            raise ValueError(f'split size must be >= 0 MB (0 = one file), got {split_size_mb}')
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise FileExistsError(f'{self.path} exists; remove it or pass --overwrite')
        self.storage = storage
        self.split_bytes = int(split_size_mb * 1024 * 1024)
        self.topics: Dict[str, Tuple[str, Qos]] = {}
        self.files: List[dict] = []
        self._tmp: Optional[Path] = None
        self._writer: Optional[Writer] = None
        self._connections: Dict[str, object] = {}
        self._chunk_bytes = 0
        self._group: List[Tuple[str, int, bytes]] = []   # messages of one log time, unwritten
        self._messages = 0
        self._complete = False
        self._sigterm = None

    def __enter__(self) -> 'BagWriter':
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if threading.current_thread() is threading.main_thread():
            self._sigterm = signal.signal(signal.SIGTERM, _interrupt)
        try:
            self._tmp = _hidden_dir(self.path.parent, self.path.name, '.partial')
            self._open_file()
        except BaseException:
            self._restore_sigterm()
            self.abort()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        partial = self._tmp
        try:
            if exc_type is None:
                try:
                    self.close()
                    return False
                except BaseException as err:  # noqa: B036 - clean up, then re-raise below
                    exc_type, exc = type(err), err
                    if not isinstance(err, KeyboardInterrupt):
                        self.abort()
                        raise
            self.abort()
            if issubclass(exc_type, KeyboardInterrupt) and self._complete:  # too late to matter
                raise KeyboardInterrupt(f'{str(exc) or "Ctrl-C"}: {self.path} was complete and '
                                        'is kept') from None
            if issubclass(exc_type, KeyboardInterrupt):
                kept = 'kept as it was' if self.path.exists() else 'not written'
                raise KeyboardInterrupt(f'{str(exc) or "Ctrl-C"}: removed the unfinished bag '
                                        f'{partial} ({self._messages} messages); {self.path} '
                                        f'{kept}') from None
            return False
        finally:
            self._restore_sigterm()

    def _restore_sigterm(self) -> None:
        if self._sigterm is not None:
            signal.signal(signal.SIGTERM, self._sigterm)
            self._sigterm = None

    def add_topic(self, topic: str, msgtype: str, qos: Qos = SENSOR_QOS) -> None:
        """Declare a topic with the QoS profile its publisher would offer."""
        if topic in self.topics:
            if self.topics[topic] != (msgtype, qos):
                raise ValueError(f'topic {topic} already declared as {self.topics[topic][0]}')
            return
        self.topics[topic] = (msgtype, qos)
        self._add_connection(topic)

    def write(self, topic: str, stamp: int, msg) -> None:
        """Write one message (rosbags message, project dataclass or CDR bytes) at `stamp` ns.

        Messages of one log time (a frame: image, camera_info, ...) are held until the time
        changes and then written together, into a new file if they would not fit the current
        one: a split never separates an image from its camera_info.
        """
        if self._writer is None:
            raise RuntimeError('BagWriter is not open (use it as a context manager)')
        if topic not in self.topics:
            raise KeyError(f'topic {topic} was not declared with add_topic')
        data = msg if isinstance(msg, bytes) else serialize(msg, self.topics[topic][0])
        if self._group and int(stamp) != self._group[0][1]:
            self._flush_group()
        self._group.append((topic, int(stamp), data))

    def _flush_group(self) -> None:
        """Write the held messages of one log time, all into the same file."""
        size = sum(len(data) for _, _, data in self._group)
        if self.split_bytes and self._chunk_bytes and \
                self._chunk_bytes + size > self.split_bytes:
            self._close_file()
            self._open_file()
        for topic, stamp, data in self._group:
            self._writer.write(self._connections[topic], stamp, data)
        self._chunk_bytes += size
        self._messages += len(self._group)
        self._group = []

    def close(self) -> None:
        """Finish the last file, write metadata.yaml, then move the bag into place."""
        if self._group:
            self._flush_group()
        self._close_file()
        write_text_atomic(self._tmp / METADATA, yaml.safe_dump(self._metadata(), sort_keys=False))
        with _signals_held():  # an interrupt between the renames would lose both bags
            if self.path.exists():
                old = _hidden_dir(self.path.parent, self.path.name, '.old')
                os.replace(self.path, old / self.path.name)
                os.replace(self._tmp, self.path)
                shutil.rmtree(old)
            else:
                os.replace(self._tmp, self.path)
            self._tmp = None
            self._complete = True

    def abort(self) -> None:
        """Drop everything written so far."""
        self._group = []
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _file_stem(self) -> str:
        return f'{self.path.name}_{len(self.files)}'

    def _open_file(self) -> None:
        self._writer = Writer(self._tmp / self._file_stem(), version=BAG_VERSION,
                              storage_plugin=STORAGES[self.storage])
        self._writer.open()
        self._connections = {}
        self._chunk_bytes = 0
        for topic in self.topics:
            self._add_connection(topic)

    def _add_connection(self, topic: str) -> None:
        msgtype, qos = self.topics[topic]
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=typestore(), offered_qos_profiles=[qos])

    def _close_file(self) -> None:
        """Close the current file and move it from its rosbags folder into the bag folder."""
        writer, self._writer = self._writer, None
        writer.close()
        folder = writer.path
        info = yaml.safe_load((folder / METADATA).read_text())['rosbag2_bagfile_information']
        for name in info['relative_file_paths']:
            os.replace(folder / name, self._tmp / name)
        shutil.rmtree(folder)
        self.files.append(info)

    def _metadata(self) -> dict:
        """One metadata.yaml for all files: their union, in rosbag2's own layout."""
        first = self.files[0]
        starts = [f['starting_time']['nanoseconds_since_epoch'] for f in self.files
                  if f['message_count']]
        ends = [f['starting_time']['nanoseconds_since_epoch'] + f['duration']['nanoseconds']
                for f in self.files if f['message_count']]
        start = min(starts) if starts else 0
        counts: Dict[str, int] = {}
        for info in self.files:
            for topic in info['topics_with_message_count']:
                name = topic['topic_metadata']['name']
                counts[name] = counts.get(name, 0) + topic['message_count']
        topics = [dict(topic, message_count=counts[topic['topic_metadata']['name']])
                  for topic in first['topics_with_message_count']]
        return {'rosbag2_bagfile_information': {
            'version': BAG_VERSION,
            'storage_identifier': first['storage_identifier'],
            'relative_file_paths': [p for f in self.files for p in f['relative_file_paths']],
            'duration': {'nanoseconds': (max(ends) - start) if ends else 0},
            'starting_time': {'nanoseconds_since_epoch': start},
            'message_count': sum(f['message_count'] for f in self.files),
            'topics_with_message_count': topics,
            'compression_format': '',
            'compression_mode': '',
            'files': [entry for f in self.files for entry in f['files']],
            'custom_data': None,
            'ros_distro': first.get('ros_distro', 'rosbags'),
        }}


# ---------------------------------------------------------------- reading

def normalized_type(msgtype: str) -> str:
    """ROS 2 type name with its 'msg' part: 'sensor_msgs/Image' -> 'sensor_msgs/msg/Image'."""
    parts = msgtype.split('/')
    return f'{parts[0]}/msg/{parts[1]}' if len(parts) == 2 else msgtype


def storage_files(path: PathLike) -> List[Path]:
    """List a recording's storage files when it is read without metadata.yaml, by name.

    The file itself for an .mcap or .db3 file; for a folder without metadata.yaml its own
    .mcap and .db3 files (the split files of one recording: their messages are merged by time).
    """
    path = Path(path)
    if path.is_file():
        return [path] if path.suffix in STORAGE_FILES else []
    if not path.is_dir() or (path / METADATA).is_file():
        return []
    return sorted(p for p in path.iterdir() if p.suffix in STORAGE_FILES and p.is_file()
                  and not p.name.startswith('.'))


def is_recording(path: PathLike) -> bool:
    """Tell whether the readers take `path`: a rosbag2 folder, storage file or folder of them."""
    path = Path(path)
    return (path / METADATA).is_file() or bool(storage_files(path))


def _not_a_recording(path: Path) -> UserValueError:
    """Say what `path` is instead of a recording, and what would be one."""
    takes = 'a rosbag2 folder (with metadata.yaml), an .mcap or .db3 file, or a folder of them'
    if not path.exists():
        partial = sorted(path.parent.glob(f'.{path.name}.*.partial'))
        hint = (f'; {partial[0].name} beside it is what an interrupted `adds bag` or '
                '`adds bag-depth` leaves' if partial else '')
        return UserValueError(f'{path}: no such file or folder{hint}')
    if path.is_dir() and path.name.startswith('.') and path.name.endswith('.partial'):
        return UserValueError(f'{path} is an unfinished bag: what an interrupted `adds bag` or '
                              '`adds bag-depth` leaves (remove it and run again)')
    if path.is_dir():
        inner = sorted(p.name for p in path.iterdir() if p.is_dir() and is_recording(p))
        held = f'; it holds recordings: {", ".join(inner[:5])}' if inner else ''
        return UserValueError(f'{path} is not a recording: a folder with no {METADATA} and no '
                              f'.mcap or .db3 file{held}')
    with open(path, 'rb') as f:
        head = f.read(16)
    content = next((f' (its content is {name}: name it {suffix})'
                    for magic, name, suffix in ((MCAP_MAGIC, 'MCAP', '*.mcap'),
                                                (SQLITE_MAGIC, 'SQLite', '*.db3'))
                    if head.startswith(magic)), '')
    return UserValueError(f'{path} is not a recording{content}: the bag tools read {takes}')


def _metadata_files(path: Path) -> Tuple[Optional[List[Path]], str]:
    """Return the storage files metadata.yaml lists, or None and what is wrong with it."""
    try:
        info = yaml.safe_load((path / METADATA).read_text())['rosbag2_bagfile_information']
        return [path / Path(name).name for name in info['relative_file_paths']], ''
    except Exception as err:  # noqa: BLE001 - a broken metadata.yaml is itself the problem
        return None, str(err).splitlines()[0] if str(err) else type(err).__name__


def _file_problem(file: Path) -> Optional[str]:
    """Say what is wrong with one storage file of a bag, from its first and last bytes."""
    if not file.is_file():
        return 'missing'
    size = file.stat().st_size
    with open(file, 'rb') as f:
        head = f.read(16)
        f.seek(max(0, size - len(MCAP_MAGIC)))
        tail = f.read()
    if size == 0:
        return 'empty'
    if file.suffix == STORAGE_SUFFIX['mcap']:
        if not head.startswith(MCAP_MAGIC):
            return 'not an MCAP file (wrong magic at the start)'
        if tail != MCAP_MAGIC:
            return 'MCAP cut short (no end magic: the recording or copy did not finish)'
    elif file.suffix == STORAGE_SUFFIX['sqlite3'] and not head.startswith(SQLITE_MAGIC):
        return 'not an SQLite database'
    return None


def _unreadable(path: Path, err: Exception) -> UserValueError:
    """Build the error for a recording rosbags could not read: which file, what is wrong."""
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    if (path / METADATA).is_file():
        files, problem = _metadata_files(path)
        if files is None:
            return UserValueError(f'{path}: cannot read the bag: {METADATA} is malformed '
                                  f'({problem})')
    else:
        files = storage_files(path)
    for file in files:
        problem = _file_problem(file)
        if problem:
            return UserValueError(f'{path}: cannot read{_naming(path, [file])}: {problem}')
    named = [file for file in files if str(file) in reason] or files
    return UserValueError(f'{path}: cannot read{_naming(path, named)}: '
                          f'{reason.replace(str(path) + os.sep, "")}')


def _naming(path: Path, files: List[Path]) -> str:
    """' <file names>' of a folder's files; nothing when the input is that one file."""
    return '' if files == [path] else ' ' + ', '.join(file.name for file in files)


def _learn_types(connections: Iterable) -> None:
    """Add the types a recording defines and the Humble store lacks (custom messages).

    Known types keep the store's definitions; a definition that cannot be parsed leaves its
    type unknown, which `deserialize` then names.
    """
    store = typestore()
    for connection in connections:
        msgtype = normalized_type(connection.msgtype)
        if msgtype in store.types or connection.msgdef.format == MessageDefinitionFormat.NONE:
            continue
        try:
            if connection.msgdef.format == MessageDefinitionFormat.MSG:
                types = get_types_from_msg(connection.msgdef.data, msgtype)
            else:
                types = {}
                for idl in connection.msgdef.data.split('=' * 80 + '\n'):
                    if idl.strip():
                        types.update(get_types_from_idl(idl.split('\n', 1)[1]
                                                        if idl.startswith('IDL: ') else idl))
            store.register({name: value for name, value in types.items()
                            if name not in store.types})
        except Exception as err:  # noqa: BLE001 - any parse failure leaves the type unknown
            LOGGER.debug(f'cannot use the definition of {msgtype}: {err}')


def _files_to_open(path: Path) -> Optional[List[Path]]:
    """List the storage files to open one by one, or None where rosbags must read the folder.

    A rosbag2 folder's files are opened as standalone files too, metadata.yaml naming them:
    rosbags' folder reader drops, without a word, the messages of a channel whose QoS in the
    file differs from metadata.yaml's (a metadata.yaml written for another tool's MCAP, or
    regenerated), and any metadata version that lists its files reads. Compressed bags are
    left to rosbags, which decompresses them.
    """
    if not (path / METADATA).is_file():
        return storage_files(path)
    info = yaml.safe_load((path / METADATA).read_text())['rosbag2_bagfile_information']
    if str(info.get('compression_mode') or 'none').lower() != 'none':
        return None
    return [path / Path(name).name for name in info['relative_file_paths']]


def _check_one_recording(path: Path, readers: List[Reader]) -> None:
    """Refuse a folder whose files record the same topic over the same time.

    Split files of one recording follow each other in time, and files of two recorders in one
    folder hold different topics; files that overlap on a topic are separate recordings of it,
    whose merge would interleave two streams.
    """
    for i, first in enumerate(readers):
        for second in readers[i + 1:]:
            shared = ({c.topic for c in first.connections if c.msgcount}
                      & {c.topic for c in second.connections if c.msgcount})
            overlap = (max(first.start_time, second.start_time)
                       < min(first.end_time, second.end_time) - 1)
            if shared and overlap:
                raise UserValueError(
                    f'{path}: {first.path.name} and {second.path.name} record '
                    f'{sorted(shared)[0]} over the same time: separate recordings, not the '
                    f'split files of one; pass them one by one or as a glob '
                    f'({path / ("*" + first.path.suffix)})')


class Recording:
    """One recording read by rosbags: a rosbag2 folder, or storage files merged by log time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        files = _files_to_open(path)
        self._readers = [Reader(path)] if files is None else [Reader(file) for file in files]
        self._open: List[Reader] = []

    def open(self) -> None:
        """Open every file (closing those opened if one fails); learn the types they define."""
        try:
            for reader in self._readers:
                reader.open()
                self._open.append(reader)
            if not (self.path / METADATA).is_file():
                _check_one_recording(self.path, self._readers)
        except BaseException:
            self.close()
            raise
        _learn_types(self.connections)

    def close(self) -> None:
        """Close the files opened."""
        for reader in self._open:
            reader.close()
        self._open = []

    @property
    def connections(self) -> list:
        """Every file's connections, their type names with the 'msg' part."""
        return [c._replace(msgtype=normalized_type(c.msgtype))
                for reader in self._readers for c in reader.connections]

    def messages(self, topics: Optional[Iterable[str]] = None) -> Iterator[Tuple[Any, int, bytes]]:
        """Yield (connection, log time ns, data) of `topics` (all if None) by log time."""
        wanted = None if topics is None else set(topics)
        streams = []
        for reader in self._readers:
            connections = [c for c in reader.connections if wanted is None or c.topic in wanted]
            if connections:
                streams.append(reader.messages(connections=connections))
        merged = heapq.merge(*streams, key=lambda item: item[1]) if len(streams) > 1 \
            else iter(streams[0] if streams else ())
        for connection, stamp, data in merged:
            yield connection._replace(msgtype=normalized_type(connection.msgtype)), stamp, data


def bag_topics(path: PathLike) -> Dict[str, str]:
    """Topic -> message type of a recording; UserValueError naming the path if unreadable."""
    with open_reader(path) as reader:
        return {c.topic: c.msgtype for c in reader.connections}


def message_count(path: PathLike, topics: Iterable[str]) -> int:
    """Count the messages on `topics` from the recording's summary (metadata or index)."""
    wanted = set(topics)
    with open_reader(path) as reader:
        return sum(c.msgcount for c in reader.connections if c.topic in wanted)


@contextlib.contextmanager
def open_reader(path: PathLike) -> Iterator[Recording]:
    """Open a recording (see `is_recording`); UserValueError naming the input when unreadable.

    A recording can also be damaged in the middle: iterate its messages with `read_messages`,
    which names the recording on such errors too.
    """
    path = Path(path)
    if not is_recording(path):
        raise _not_a_recording(path)
    try:
        recording = Recording(path)
        recording.open()
    except UserValueError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure to parse the user's files
        raise _unreadable(path, err) from None
    try:
        yield recording
    finally:
        recording.close()


def read_messages(path: PathLike,
                  topics: Optional[Iterable[str]] = None) -> Iterator[Tuple[str, str, int, bytes]]:
    """Yield (topic, msgtype, log time ns, CDR bytes) of a recording in time order."""
    with open_reader(path) as reader:
        messages = reader.messages(topics)
        while True:
            try:
                connection, stamp, data = next(messages)
            except StopIteration:
                return
            except Exception as err:  # noqa: BLE001 - rosbags parsing a damaged file
                raise _unreadable(Path(path), err) from None
            yield connection.topic, connection.msgtype, stamp, bytes(data)
