# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""TensorRT backend: TensorRT 10 named-tensor API, pycuda buffers and stream.

Threading: a CUDA context belongs to the thread that made it current. The backend creates its
context in its constructor and every `infer` must run on that same thread, so the node builds
the `DepthEstimator` *inside* its inference thread (never on the executor thread) and closes it
there. A call from another thread is refused with a clear error instead of corrupting state.

Precision on different TensorRT releases:
- fp32: TF32 is switched off, so fp32 engines agree with ONNX Runtime to ~1e-5.
- fp16: with the FP16 builder flag where it exists (TensorRT 10.x; deprecated from 10.12),
  otherwise (TensorRT 11) a strongly typed network from an FP16 graph (`adds export --half`).
  An FP16 graph is always built strongly typed: the graph, not the builder, picks the types.
- int8: implicit quantisation with an entropy calibrator over a folder of images; TensorRT 11
  removed it (explicitly quantised Q/DQ graphs only), which is reported as an error.
Engine caching and validation are in `engine_cache` (plain Python, tested without a GPU).
"""

import threading
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from adds_ros.atomic import write_bytes_atomic
from adds_ros.backends import Backend, parse_device
from adds_ros.backends.engine_cache import (
    EngineError, load_engine_file, load_or_build, Platform, sha256_files, timing_cache_path)
from adds_ros.metadata import ModelMetadata
from adds_ros.preprocess import image_files, to_network_input

WORKSPACE_MIB = 1024


def current_platform(device_index: int = 0) -> Platform:
    """Return the TensorRT release and GPU (name, compute capability) engines are built for."""
    import pycuda.driver as cuda
    import tensorrt as trt

    cuda.init()
    device = cuda.Device(device_index)
    major, minor = device.compute_capability()
    return Platform(trt.__version__, device.name(), f'{major}.{minor}')


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


def _entropy_calibrator(trt, cuda, images: Sequence[Path], metadata: ModelMetadata,
                        cache_path: Path, log: Callable[[str], None]):
    """Make an IInt8EntropyCalibrator2 feeding images preprocessed exactly as at run time."""
    import cv2

    class Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.index = 0
            shape = (1, 3, metadata.input_height, metadata.input_width)
            self.device = cuda.mem_alloc(int(np.prod(shape)) * 4)

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
            batch = to_network_input(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), metadata.crop,
                                     metadata.input_height, metadata.input_width)
            cuda.memcpy_htod(self.device, np.ascontiguousarray(batch))
            return [int(self.device)]

        def read_calibration_cache(self):
            return cache_path.read_bytes() if cache_path.is_file() else None

        def write_calibration_cache(self, cache):
            write_bytes_atomic(cache_path, bytes(cache))

    return Calibrator()


def _configure_precision(trt, config, precision: str, strongly_typed: bool) -> None:
    if hasattr(trt.BuilderFlag, 'TF32'):
        config.clear_flag(trt.BuilderFlag.TF32)
    if strongly_typed and precision != 'fp16':
        raise EngineError(f'an FP16 graph (adds export --half) builds only fp16 engines, not '
                          f'{precision}; export without --half for fp32/int8')
    if precision == 'fp32' or strongly_typed:
        return
    flag = getattr(trt.BuilderFlag, precision.upper(), None)
    if flag is None or (precision == 'int8' and not hasattr(config, 'int8_calibrator')):
        remedy = ('export an FP16 graph with `adds export --half` and build that'
                  if precision == 'fp16' else
                  'use fp16/fp32, or an explicitly quantised (Q/DQ) ONNX graph')
        raise EngineError(f'TensorRT {trt.__version__} has no {precision.upper()} builder flag; '
                          f'{remedy}')
    config.set_flag(flag)


def build_serialized_engine(onnx_path: Path, precision: str, metadata: ModelMetadata,
                            platform: Platform, calibration: Sequence[Path] = (),
                            max_batch: int = 1, workspace_mib: int = WORKSPACE_MIB,
                            log: Callable[[str], None] = print) -> bytes:
    """Parse the ONNX file and build a serialised plan, reusing and updating the timing cache."""
    import pycuda.driver as cuda
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    strongly_typed = metadata.precision == 'fp16'
    typed_flag = getattr(trt.NetworkDefinitionCreationFlag, 'STRONGLY_TYPED', None)
    network = builder.create_network(
        (1 << int(typed_flag)) if strongly_typed and typed_flag is not None else 0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f'TensorRT cannot parse {onnx_path}: {errors}')
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mib << 20)
    _configure_precision(trt, config, precision, strongly_typed)
    if hasattr(config, 'progress_monitor'):
        config.progress_monitor = _progress_monitor(trt, log)
    image = network.get_input(0)
    shape = (1, 3, metadata.input_height, metadata.input_width)
    dynamic = image.shape[0] == -1
    if dynamic:
        profile = builder.create_optimization_profile()
        profile.set_shape(image.name, shape, shape, (max_batch,) + shape[1:])
        config.add_optimization_profile(profile)
    if precision == 'int8':
        if dynamic:
            config.set_calibration_profile(profile)
        config.int8_calibrator = _entropy_calibrator(
            trt, cuda, list(calibration), metadata,
            Path(onnx_path).with_name(f'.{Path(onnx_path).stem}.int8-'
                                      f'{sha256_files(calibration)[:16]}-{platform.slug()}.calib'),
            log)
    cache_path = timing_cache_path(onnx_path, platform)
    timing = config.create_timing_cache(cache_path.read_bytes() if cache_path.is_file() else b'')
    if timing is None or not config.set_timing_cache(timing, ignore_mismatch=False):
        log(f'  timing cache {cache_path.name} unusable; starting an empty one')
        config.set_timing_cache(config.create_timing_cache(b''), ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineError(f'TensorRT failed to build an engine from {onnx_path} (see log)')
    write_bytes_atomic(cache_path, bytes(config.get_timing_cache().serialize()))
    return bytes(plan)


class TensorRTBackend(Backend):
    name = 'tensorrt'

    def __init__(self, model: Union[str, Path], device: str = 'auto', precision: str = 'fp32',
                 calib: Optional[Union[str, Path]] = None, max_batch: int = 1,
                 rebuild: bool = False, workspace_mib: int = WORKSPACE_MIB,
                 log: Callable[[str], None] = print) -> None:
        import pycuda.driver as cuda
        import tensorrt as trt

        kind, index = parse_device(device)
        if kind == 'cpu':
            raise ValueError('the TensorRT backend needs a GPU; use device cuda[:N] or auto')
        cuda.init()
        self.cuda = cuda
        self.owner = threading.get_ident()
        self.cuda_context = cuda.Device(index).make_context()
        try:
            self._load(trt, Path(model), index, precision, calib, max_batch, rebuild,
                       workspace_mib, log)
        except BaseException:
            self.close()
            raise

    def _load(self, trt, model: Path, index: int, precision: str, calib, max_batch: int,
              rebuild: bool, workspace_mib: int, log: Callable[[str], None]) -> None:
        platform = current_platform(index)
        self.logger = trt.Logger(trt.Logger.WARNING)    # must outlive the runtime
        self.runtime = trt.Runtime(self.logger)
        deserialize = self.runtime.deserialize_cuda_engine
        if model.suffix.lower() == '.onnx':
            metadata = ModelMetadata.from_onnx(model)
            images = image_files(calib) if precision == 'int8' else []
            shape = (max_batch, 3, metadata.input_height, metadata.input_width)
            cached = load_or_build(
                model, precision, shape, platform, metadata,
                lambda: build_serialized_engine(model, precision, metadata, platform, images,
                                                max_batch, workspace_mib, log),
                deserialize, sha256_files(images) if images else '', force=rebuild, log=log)
        else:
            cached = load_engine_file(model, platform, deserialize)
        self.metadata, self.engine = cached.metadata, cached.engine
        cached.engine = None                             # one owner, freed in close()
        self.cached = cached
        self.context = self.engine.create_execution_context()
        self.stream = self.cuda.Stream()
        self.host: Dict[str, np.ndarray] = {}
        self.device_buffers = {}
        self.inputs: List[str] = []
        self._allocate(trt)

    def _allocate(self, trt) -> None:
        """Page-locked host and device buffers per named tensor, bound by address (TRT 10)."""
        shape = (1, 3, self.metadata.input_height, self.metadata.input_width)
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        for name in names:
            if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                self.inputs.append(name)
                self.context.set_input_shape(name, shape)
        for name in names:
            dims = tuple(self.context.get_tensor_shape(name))
            dtype = trt.nptype(self.engine.get_tensor_dtype(name))
            self.host[name] = self.cuda.pagelocked_empty(dims, dtype)
            self.device_buffers[name] = self.cuda.mem_alloc(self.host[name].nbytes)
            self.context.set_tensor_address(name, int(self.device_buffers[name]))

    def infer(self, image: np.ndarray) -> Dict[str, np.ndarray]:
        if threading.get_ident() != self.owner:
            raise RuntimeError('the TensorRT backend must be used from the thread that created '
                               'it (its CUDA context is bound to that thread)')
        cuda, stream = self.cuda, self.stream
        np.copyto(self.host[self.inputs[0]], image, casting='same_kind')
        for name in self.inputs:
            cuda.memcpy_htod_async(self.device_buffers[name], self.host[name], stream)
        if not self.context.execute_async_v3(stream.handle):
            raise RuntimeError('TensorRT execute_async_v3 failed')
        outputs = [n for n in self.host if n not in self.inputs]
        for name in outputs:
            cuda.memcpy_dtoh_async(self.host[name], self.device_buffers[name], stream)
        stream.synchronize()
        return {name: self.host[name].astype(np.float32) for name in outputs}

    def describe(self) -> str:
        return f'tensorrt ({self.cached.key.precision}, {self.cached.path.name})'

    def close(self) -> None:
        """Free buffers and pop/detach the CUDA context (call from the owning thread)."""
        context = getattr(self, 'cuda_context', None)
        if context is None:
            return
        for attr in ('device_buffers', 'context', 'engine', 'runtime', 'stream'):
            if hasattr(self, attr):
                delattr(self, attr)
        context.pop()
        context.detach()
        self.cuda_context = None
