# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""TensorRT backend: TensorRT 10 / 11 named-tensor API over a small CUDA layer (cuda_layer.py).

Threading: the backend uses the device's primary context, made current only around its own
calls, so several backends can live on one thread and close in any order (engine_cache.py rules
13-16 give the reasons). One backend is still used from one thread only: its execution context
and staging buffers are not thread-safe, so a call from another thread is refused with a clear
error; the node creates, uses and closes its estimator in its inference thread.

Precision (`resolve_precision`), per TensorRT release:
- 'auto': an FP16 graph (`adds export --half`) -> fp16; else fp16 where TensorRT still has
  weak typing (10.x, the FP16 builder flag) and the GPU has fast FP16 (compute capability 5.3,
  6.0, 6.2 or >= 7.0: Jetson Nano/TX2/Xavier/Orin, Volta and newer); else fp32.
- fp32: TF32 is switched off, so fp32 engines agree with ONNX Runtime to ~1e-5.
- fp16: TensorRT 10.x: the FP16 builder flag on an FP32 graph, or an FP16 graph built strongly
  typed. TensorRT 11 removed the precision flags: every network is strongly typed and the graph
  sets the types, so fp16 needs an FP16 graph (`adds export --half`).
- int8: implicit quantisation with an entropy calibrator (TensorRT 10.x only; 11 removed it:
  explicitly quantised Q/DQ graphs only, reported as an error).
Engine caching and validation are in `engine_cache` (plain Python, tested without a GPU).
"""

import logging
import sys
import threading
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from adds_ros.atomic import write_bytes_atomic
from adds_ros.backends import Backend, parse_device, tensorrt_usable
from adds_ros.backends.cuda_layer import CudaLayer, load_cuda_layer, PrimaryContext
from adds_ros.backends.engine_cache import (
    BuildSettings, cache_folder, calibration_cache_path, calibration_of, EngineError,
    find_calibration_caches,
    load_engine_file, load_or_build, Platform, search_folders, sha256_file,
    sha256_files, timing_cache_path)
from adds_ros.backends.trt_rules import check_model, release_for
from adds_ros.errors import UserError, UserValueError
from adds_ros.metadata import ModelMetadata
from adds_ros.precision import PRECISIONS, REQUESTS
from adds_ros.preprocess import image_files, to_network_input

WORKSPACE_MIB = 1024
# host-memory traffic the backend counts per kind (bytes): the frame copied into the pinned
# input, uploads, downloads, FP16 outputs converted to float32
TRAFFIC = ('staging', 'upload', 'download', 'convert')
_info = logging.getLogger(__name__).info   # progress: see engine_cache
_LOGGERS: Dict[int, object] = {}


def trt_logger(trt):
    """Return the process's one TensorRT logger (rule 13); it outlives every runtime."""
    if id(trt) not in _LOGGERS:
        _LOGGERS[id(trt)] = trt.Logger(trt.Logger.WARNING)
    return _LOGGERS[id(trt)]


def fast_fp16(compute_capability: str) -> bool:
    """Tell whether a GPU runs FP16 at least as fast as FP32 (CUDA's arithmetic tables)."""
    major, minor = (int(part) for part in compute_capability.split('.'))
    return (major, minor) >= (7, 0) or (major, minor) in ((5, 3), (6, 0), (6, 2))


def resolve_precision(requested: str, graph_precision: str, weak_typing: bool,
                      platform: Platform) -> Tuple[str, bool]:
    """Return (engine precision, strongly typed) for a request on this TensorRT and GPU.

    `weak_typing` is whether this TensorRT still has precision builder flags (10.x, not 11).
    """
    if requested not in REQUESTS:
        raise UserValueError(f'precision must be one of {", ".join(REQUESTS)}, got {requested!r}')
    if graph_precision == 'fp16':
        if requested in ('auto', 'fp16'):
            return 'fp16', True
        raise EngineError(f'an FP16 graph (adds export --half) builds only fp16 engines, not '
                          f'{requested}; export without --half for fp32/int8')
    if requested == 'auto':
        requested = 'fp16' if weak_typing and fast_fp16(platform.compute_capability) else 'fp32'
    if weak_typing:
        return requested, False
    if requested == 'fp32':
        return 'fp32', True
    remedy = ('export an FP16 graph with `adds export --half` and build that'
              if requested == 'fp16' else 'use fp16/fp32, or an explicitly quantised (Q/DQ) '
              'ONNX graph')
    raise EngineError(f'TensorRT {platform.tensorrt_version} has no {requested.upper()} builder '
                      f'flag (strongly typed networks only); {remedy}')


def current_platform(index: int = 0, layer: Optional[CudaLayer] = None) -> Platform:
    """Return the TensorRT release and GPU engines are built for."""
    import tensorrt as trt

    info = (layer or load_cuda_layer()).device_info(index)
    return Platform(trt.__version__, info.name, info.compute_capability, info.sm_count,
                    info.total_memory >> 20)


def onnx_input_dims(onnx_path: Path) -> Tuple[str, Tuple[int, ...]]:
    """Return the ONNX graph's one input: name and dims (-1 where dynamic)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    inputs = onnxruntime.InferenceSession(str(onnx_path), options,
                                          providers=['CPUExecutionProvider']).get_inputs()
    if len(inputs) != 1:
        raise EngineError(f'{onnx_path} has {len(inputs)} inputs; the depth graph has one')
    return inputs[0].name, tuple(d if isinstance(d, int) and d > 0 else -1
                                 for d in inputs[0].shape)


def build_settings(onnx_path: Path, precision: str, strongly_typed: bool, max_batch: int,
                   workspace_mib: int) -> BuildSettings:
    """Return the settings for `onnx_path`: its input shape, a batch profile if dynamic."""
    name, dims = onnx_input_dims(onnx_path)
    if any(d < 0 for d in dims[1:]):
        raise EngineError(f'{onnx_path}: input {name} {dims} is dynamic beyond the batch; '
                          f'export it at a fixed size')
    one = (1,) + dims[1:]
    profile = (one, one, (max(max_batch, 1),) + dims[1:]) if dims[0] < 0 else ()
    return BuildSettings(precision, one, profile, int(workspace_mib), strongly_typed)


def _progress_monitor(trt, log: Callable[[str], None]):
    """Make a TensorRT progress monitor logging each top-level phase (builds take minutes)."""
    class Progress(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self.lock = threading.Lock()

        def phase_start(self, phase_name, parent_phase, num_steps):
            if parent_phase is None:
                with self.lock:
                    log(f'  TensorRT: {phase_name} ({num_steps} steps)')

        def step_complete(self, phase_name, step):
            return True

        def phase_finish(self, phase_name):
            pass

    return Progress()


def calibration_sample(rgb: np.ndarray, metadata: ModelMetadata) -> np.ndarray:
    """Turn a camera image into the graph's input exactly as at run time.

    In-graph models take the uint8 camera frame (resized to the export's camera size), the
    others the cropped, resized float32 network input.
    """
    import cv2

    if metadata.in_graph:
        frame = cv2.resize(rgb, (metadata.camera_width, metadata.camera_height),
                           interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(frame[None], dtype=np.uint8)
    return np.ascontiguousarray(to_network_input(rgb, metadata.crop, metadata.input_height,
                                                 metadata.input_width), dtype=np.float32)


def _entropy_calibrator(trt, cuda: CudaLayer, images: Sequence[Path], metadata: ModelMetadata,
                        cache_path: Path, log: Callable[[str], None]):
    """Make an IInt8EntropyCalibrator2 feeding the images as the graph sees them at run time.

    Runs inside the build, with the backend's context current; its device buffer is freed by
    `free()` before the context is released (rule 15).
    """
    import cv2

    class Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.index, self.device = 0, None

        def free(self) -> None:
            if self.device is not None:
                cuda.mem_free(self.device)
                self.device = None

        def get_batch_size(self):
            return 1

        def get_batch(self, names):
            if self.index >= len(images):
                return None
            path = images[self.index]
            self.index += 1
            log(f'  calibration image {self.index}/{len(images)}: {path.name}')
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError(f'cannot read calibration image {path}')
            sample = calibration_sample(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), metadata)
            if self.device is None:
                self.device = cuda.mem_alloc(sample.nbytes)
            cuda.copy_to_device(self.device, sample)
            return [self.device]

        def read_calibration_cache(self):
            return cache_path.read_bytes() if cache_path.is_file() else None

        def write_calibration_cache(self, cache):
            write_bytes_atomic(cache_path, bytes(cache))

    return Calibrator()


def precision_flags(settings: BuildSettings) -> Tuple[str, ...]:
    """Builder flags of a weakly typed build: INT8 also allows FP16 for layers without INT8.

    With INT8 alone, TensorRT runs such layers in FP32. Strongly typed builds (FP16 graphs, and
    every build on TensorRT 11, which has no precision flags) set none.
    """
    if settings.strongly_typed or settings.precision == 'fp32':
        return ()
    return ('INT8', 'FP16') if settings.precision == 'int8' else ('FP16',)


def build_serialized_engine(trt, onnx_path: Path, settings: BuildSettings, folder: Path,
                            platform: Platform, calibrator=None,
                            log: Callable[[str], None] = _info) -> bytes:
    """Parse the ONNX file and build a serialised plan, reusing and updating the timing cache."""
    logger = trt_logger(trt)
    builder = trt.Builder(logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) \
        if settings.strongly_typed else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    data = Path(onnx_path).read_bytes()
    refused = check_model(data, [release_for(trt.__version__)])
    if not parser.parse(data):
        errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
        known = ''.join(f'; {v}' for v in refused if str(v) not in errors)
        raise EngineError(f'TensorRT cannot parse {onnx_path}: {errors}{known}'
                          + ('. Re-export it with the current `adds export`' if refused else ''))
    for violation in refused:   # the written rules are stricter than this parser: say so
        log(f'  note: TensorRT {trt.__version__} parsed what its documented rules refuse: '
            f'{violation}')
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, settings.workspace_mib << 20)
    if hasattr(trt.BuilderFlag, 'TF32'):
        config.clear_flag(trt.BuilderFlag.TF32)
    for flag in precision_flags(settings):
        config.set_flag(getattr(trt.BuilderFlag, flag))
    if hasattr(trt, 'IProgressMonitor'):
        config.progress_monitor = _progress_monitor(trt, log)
    if settings.profile:
        profile = builder.create_optimization_profile()
        profile.set_shape(network.get_input(0).name, *settings.profile)
        config.add_optimization_profile(profile)
        if calibrator is not None:
            config.set_calibration_profile(profile)
    if calibrator is not None:
        config.int8_calibrator = calibrator
    cache_path = timing_cache_path(folder, platform)
    timing = config.create_timing_cache(cache_path.read_bytes() if cache_path.is_file() else b'')
    if timing is None or not config.set_timing_cache(timing, ignore_mismatch=False):
        log(f'  timing cache {cache_path.name} unusable; starting an empty one')
        config.set_timing_cache(config.create_timing_cache(b''), ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineError(f'TensorRT failed to build an engine from {onnx_path} (see log)')
    write_bytes_atomic(cache_path, bytes(config.get_timing_cache().serialize()))
    return bytes(plan)


class Buffer:
    """One tensor's host array and device address; `mapped`: the same memory (zero-copy).

    `lent` says whether anyone but this backend still references the host memory: a result
    handed out is a view of it, and a view keeps a reference to the array or its memory.
    """

    def __init__(self, cuda: CudaLayer, shape: Tuple[int, ...], dtype, mapped: bool) -> None:
        self.cuda, self.mapped = cuda, mapped
        if mapped:
            self.host, self.device = cuda.host_mapped(shape, dtype)
        else:
            self.host = cuda.host_empty(shape, dtype)
            self.device = cuda.mem_alloc(self.host.nbytes)
        # a view's base is the array or, collapsed by numpy, the memory's owner: watch both
        self.watched = (self.host,) if self.host.base is None else (self.host, self.host.base)
        self.references = self._references()

    def _references(self) -> Tuple[int, ...]:
        return tuple(sys.getrefcount(obj) for obj in self.watched)

    @property
    def lent(self) -> bool:
        return any(now > then for now, then in zip(self._references(), self.references))

    def free(self) -> None:
        if not self.mapped:
            self.cuda.mem_free(self.device)
        self.cuda.host_free(self.host)


class TensorRTBackend(Backend):
    """A cached TensorRT engine with its bindings, in the device's primary context.

    Host traffic per call is kept low (and counted in `traffic`, bytes by kind): a frame
    already in the pinned input buffer (`input_buffer()`, which the node decodes into) is not
    copied again; only the outputs asked for are downloaded; results are views of the pinned
    output buffers, not copies: a buffer still referenced when the next frame comes is left to
    its holder and another one takes its place (reused once released). With `mapped_memory`
    (default: on integrated GPUs, Jetson, where host and device share DRAM) the buffers are
    mapped page-locked memory the engine reads and writes in place: no uploads or downloads.
    """

    name = 'tensorrt'
    suffixes = ('.onnx', '.engine', '.plan')
    precisions = PRECISIONS
    usable = staticmethod(tensorrt_usable)

    def __init__(self, model: Union[str, Path], device: str = 'auto', precision: str = 'auto',
                 calib: Optional[Union[str, Path]] = None, max_batch: int = 1,
                 rebuild: bool = False, workspace_mib: Optional[int] = None,
                 log: Callable[[str], None] = _info,
                 cuda_layer: Optional[CudaLayer] = None,
                 mapped_memory: Optional[bool] = None) -> None:
        import tensorrt as trt

        kind, index = parse_device(device)
        if kind == 'cpu':
            raise ValueError('the TensorRT backend needs a GPU; use device cuda[:N] or auto')
        self.trt, self.owner = trt, threading.get_ident()
        self.buffers: Dict[str, Buffer] = {}
        self.spare: List[Tuple[str, Buffer]] = []      # output buffers handed out earlier
        self.traffic: Dict[str, int] = dict.fromkeys(TRAFFIC, 0)
        self.stream = self.context = self.engine = self.runtime = None
        self.cuda = cuda_layer or load_cuda_layer()
        self.mapped = self.cuda.device_integrated(index) if mapped_memory is None \
            else bool(mapped_memory)
        self.primary = PrimaryContext(self.cuda, index)
        try:
            with self.primary.active():
                self._load(Path(model), index, precision, calib, max_batch, rebuild,
                           workspace_mib, log)
        except BaseException:
            self.close()
            raise

    def _load(self, model: Path, index: int, precision: str, calib, max_batch: int,
              rebuild: bool, workspace_mib: int, log: Callable[[str], None]) -> None:
        trt = self.trt
        platform = current_platform(index, self.cuda)
        self.runtime = trt.Runtime(trt_logger(trt))
        deserialize = self.runtime.deserialize_cuda_engine
        if model.suffix.lower() == '.onnx':
            cached = self._load_onnx(model, platform, precision, calib, max_batch, rebuild,
                                     workspace_mib, log)
        else:
            cached = load_engine_file(model, platform, deserialize)
        self.metadata, self.engine = cached.metadata, cached.engine
        cached.engine = None                             # one owner, freed in close()
        self.cached = cached
        if precision not in ('auto', cached.key.precision):
            raise EngineError(f'{model} is a {cached.key.precision} engine, not {precision}: '
                              f'give the .onnx file to build a {precision} one')
        self.context = self.engine.create_execution_context()
        self.stream = self.cuda.stream_create()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names
                       if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if n not in self.inputs]
        if len(self.inputs) != 1:
            raise EngineError(f'{model}: the engine has inputs {self.inputs}; expected one')
        self.wanted: List[str] = list(self.outputs)
        shape = tuple(self.engine.get_tensor_shape(self.inputs[0]))
        self._bind((1,) + shape[1:] if shape[0] < 0 else shape)

    def _load_onnx(self, model: Path, platform: Platform, requested: str, calib,
                   max_batch: int, rebuild: bool, workspace_mib: int, log: Callable[[str], None]):
        trt = self.trt
        metadata = ModelMetadata.from_onnx(model)
        precision, strongly_typed = resolve_precision(
            requested, metadata.precision, hasattr(trt.BuilderFlag, 'FP16'), platform)
        settings = build_settings(model, precision, strongly_typed, max_batch,
                                  workspace_mib or WORKSPACE_MIB)
        folder = cache_folder(model)
        calibrator, calibration = None, ''
        if precision == 'int8':
            images, cache, calibration = self._calibration(model, calib, folder, platform)
            calibrator = _entropy_calibrator(trt, self.cuda, images, metadata, cache, log)
        try:
            return load_or_build(
                model, settings, platform, metadata,
                lambda: build_serialized_engine(trt, model, settings, folder, platform,
                                                calibrator, log),
                self.runtime.deserialize_cuda_engine, calibration, force=rebuild,
                folder=folder, log=log,
                open_fields=() if workspace_mib else ('workspace_mib',))
        finally:
            if calibrator is not None:
                calibrator.free()

    @staticmethod
    def _calibration(model: Path, calib, folder: Path,
                     platform: Platform) -> Tuple[List[Path], Path, str]:
        """INT8 calibration: (images, calibration cache, its hash for the key), rule 12.

        Without `calib`, an existing calibration cache for this ONNX and platform is used; it is
        looked for before any image folder is touched. `calib` may also name that cache (a
        `.calib` file: the node's `calib` parameter), which must be this ONNX's and platform's.
        """
        onnx_sha256 = sha256_file(model)
        if calib is not None and Path(calib).suffix == '.calib':
            calibration = calibration_of(Path(calib), model, onnx_sha256, platform)
            if calibration is None:
                raise UserError(f'calibration cache {calib} is missing, empty or not one of '
                                f'{model.name} (these weights) on this GPU and TensorRT; give '
                                f'the calibration images instead')
            return [], Path(calib), calibration
        if calib is None:
            folders = search_folders(model, folder)
            caches = find_calibration_caches(folders, model, onnx_sha256, platform)
            if len(caches) == 1:
                return [], caches[0][0], caches[0][1]
            where = ', '.join(str(f) for f in folders)
            raise UserError(
                'precision int8 needs calibration images (--calib DIR): '
                + ('no calibration cache' if not caches else f'{len(caches)} calibration caches')
                + f' for {model.name} on this GPU in {where}')
        try:
            images = image_files(calib)
        except ValueError as err:
            raise UserValueError(f'--calib: {err}') from None
        calibration = sha256_files(images)
        return images, calibration_cache_path(folder, model, onnx_sha256, calibration,
                                              platform), calibration

    @property
    def host(self) -> Dict[str, np.ndarray]:
        """The page-locked host array of each tensor."""
        return {name: buffer.host for name, buffer in self.buffers.items()}

    @property
    def device_buffers(self) -> Dict[str, int]:
        """The device address of each tensor."""
        return {name: buffer.device for name, buffer in self.buffers.items()}

    def _bind(self, shape: Tuple[int, ...]) -> None:
        """(Re)allocate page-locked host and device buffers per named tensor for `shape`."""
        engine, context = self.engine, self.context
        if not context.set_input_shape(self.inputs[0], shape):   # old buffers stay valid
            raise ValueError(f'input shape {shape} is outside the engine\'s profile '
                             f'{tuple(engine.get_tensor_shape(self.inputs[0]))}')
        self._free_buffers()
        for name in self.inputs + self.outputs:
            dims = tuple(context.get_tensor_shape(name))
            if any(d < 0 for d in dims):
                raise EngineError(f'tensor {name} has unresolved shape {dims}')
            self._set(name, Buffer(self.cuda, dims, self.trt.nptype(
                engine.get_tensor_dtype(name)), self.mapped))

    def _set(self, name: str, buffer: Buffer) -> None:
        self.buffers[name] = buffer
        self.context.set_tensor_address(name, buffer.device)

    def _free_buffers(self) -> int:
        """Free every buffer nobody else holds (held ones stay spares); return the held count."""
        spare = []
        for name, buffer in [*self.buffers.items(), *self.spare]:
            if buffer.lent:
                spare.append((name, buffer))
            else:
                buffer.free()
        self.buffers, self.spare = {}, spare
        return len(spare)

    def _renew_lent_outputs(self) -> None:
        """Give each output whose buffer the caller still holds a free one (rule 16)."""
        for out in self.wanted:
            if not self.buffers[out].lent:
                continue
            shape, dtype = self.buffers[out].host.shape, self.buffers[out].host.dtype
            free = next((i for i, (name, b) in enumerate(self.spare)
                         if name == out and not b.lent and b.host.shape == shape), None)
            replacement = self.spare.pop(free)[1] if free is not None else \
                Buffer(self.cuda, shape, dtype, self.mapped)
            self.spare.append((out, self.buffers[out]))
            self._set(out, replacement)
        kept, free = [], set()
        for name, buffer in self.spare:   # the held ones and one free spare per output
            if buffer.lent:
                kept.append((name, buffer))
            elif name not in free and buffer.host.shape == self.buffers[name].host.shape:
                free.add(name)
                kept.append((name, buffer))
            else:
                buffer.free()
        self.spare = kept

    def input_buffer(self) -> np.ndarray:
        """Return the pinned host array of the input: a frame written here is not copied."""
        return self.buffers[self.inputs[0]].host

    def use_outputs(self, names: Sequence[str]) -> None:
        """Copy back only `names` (rule 16); an unknown name is an error naming the outputs."""
        unknown = [n for n in names if n not in self.outputs]
        if unknown:
            raise ValueError(f'the engine has no output {unknown}; it has {self.outputs}')
        self.wanted = list(names)

    def infer(self, image: np.ndarray) -> Dict[str, np.ndarray]:
        if threading.get_ident() != self.owner:
            raise RuntimeError('the TensorRT backend must be used from the thread that created '
                               'it (its execution context and buffers are not thread-safe)')
        cuda, name = self.cuda, self.inputs[0]
        with self.primary.active():
            if image.shape != self.buffers[name].host.shape:
                self._bind(tuple(image.shape))
            self._renew_lent_outputs()
            staged = self.buffers[name]
            if not np.shares_memory(image, staged.host):
                np.copyto(staged.host, image, casting='same_kind')
                self.traffic['staging'] += staged.host.nbytes
            if not self.mapped:
                cuda.copy_to_device(staged.device, staged.host, self.stream)
                self.traffic['upload'] += staged.host.nbytes
            if not self.context.execute_async_v3(cuda.stream_handle(self.stream)):
                raise RuntimeError('TensorRT execute_async_v3 failed')
            for out in self.wanted if not self.mapped else ():
                cuda.copy_to_host(self.buffers[out].host, self.buffers[out].device, self.stream)
                self.traffic['download'] += self.buffers[out].host.nbytes
            cuda.stream_synchronize(self.stream)
            return {out: self._result(self.buffers[out].host) for out in self.wanted}

    def _result(self, host: np.ndarray) -> np.ndarray:
        """Return a view of an output buffer (float32), or a float32 copy (FP16 outputs)."""
        if host.dtype == np.float32:
            return host.view()
        self.traffic['convert'] += host.size * 4
        return host.astype(np.float32)

    def describe(self) -> str:
        return f'tensorrt ({self.cached.key.precision}, {self.cached.path.name}, {self.cuda.name})'

    def close(self) -> None:
        """Free everything in the context, then release it (rule 15); safe to call twice."""
        if self.primary.context is None:
            return
        held = 0
        try:
            with self.primary.active():
                held = self._free_buffers()
                if self.stream is not None:
                    self.cuda.stream_destroy(self.stream)
                # TensorRT frees device memory when these objects die: with the context current.
                self.stream = self.context = self.engine = self.runtime = None
        finally:
            if held:   # results still referenced live in page-locked memory of this context
                _info(f'{held} TensorRT results are still referenced after close(): their '
                      f'page-locked memory and the CUDA context stay until the process ends')
                self.primary.context = None
            else:
                self.primary.release()
