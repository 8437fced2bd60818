# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A faithful fake of TensorRT's Python API (10.3 and 11), cuda-python's driver and pycuda.

Why a fake: TensorRT needs an NVIDIA GPU and cannot be installed in CI, yet the bugs that matter
(context stack, precision flags that 11 removed, profiles, bindings by name) are in how the
backend *calls* these APIs. The fake has the real names, signatures and return conventions, and
it is stricter than the real libraries where they would misbehave silently:

Driver (`FakeDriver`, installed as `cuda.bindings.driver`): calls return `(CUresult, ...)`
tuples like cuda-python. A context stack per thread; the primary context per device is
reference-counted and destroyed at its last release (a later retain gets a new handle). Memory,
streams and copies need a current, live context; memory freed after its context was destroyed,
pops of an empty stack, and releasing more than retained are errors. Device and page-locked
memory are real host memory, so copies move real bytes. `violations` records what cannot raise
(TensorRT objects destroyed without their context current, memory still allocated when its
context is destroyed).

pycuda (`make_pycuda(driver)`): the pycuda.driver calls the pycuda layer makes, over the same
fake driver (so the same discipline applies); a primary context's `detach()` releases it.

TensorRT (`make_tensorrt(version, driver)`): 10.3 has the precision builder flags, the INT8
calibrator and `platform_has_fast_fp16`; 11 has none of them (removed in 11.0) and its networks
are always strongly typed (`STRONGLY_TYPED` is accepted and ignored, with enum value 0 instead of
10.x's 1). Its ONNX parser refuses what the real importer refuses, by the rules written down in
`adds_ros.backends.trt_rules` for that release (operators, types, UINT8 only as network I/O or
a Cast's input, opsets), one error per offending node. Config objects reject unknown
attributes as pybind objects do. Plans embed the ONNX file; executing one runs it with ONNX
Runtime on the bytes in fake device memory, so outputs are real: fp32 engines match ONNX
Runtime exactly, fp16 engines round input and outputs through float16, int8 engines quantise
the input with the calibrated range.
"""

import ctypes
import enum
import importlib.machinery
import json
import sys
import threading
import types
import warnings
from typing import Dict, List, Optional

import numpy as np

from adds_ros.backends.trt_rules import check_model, release_for

# ------------------------------------------------------------------------------------ driver


class CUresult(enum.IntEnum):
    CUDA_SUCCESS = 0
    CUDA_ERROR_INVALID_VALUE = 1
    CUDA_ERROR_INVALID_DEVICE = 101
    CUDA_ERROR_INVALID_CONTEXT = 201
    CUDA_ERROR_INVALID_HANDLE = 400
    CUDA_ERROR_ILLEGAL_ADDRESS = 700
    CUDA_ERROR_CONTEXT_IS_DESTROYED = 709


CU_MEMHOSTALLOC_DEVICEMAP = 0x02


class CUdevice_attribute(enum.IntEnum):  # noqa: N801 - cuda-python's name
    CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76
    CU_DEVICE_ATTRIBUTE_INTEGRATED = 18


class _Handle:
    """An opaque driver handle like cuda-python's CUcontext/CUstream/CUdeviceptr.

    cuda-bindings 13 deprecates `int(handle)` (and may remove it): `__int__` warns as it does,
    and the test module turns that warning into an error, so the CUDA layer must convert with
    `cuda.bindings.utils.get_cuda_native_handle` (`get_cuda_native_handle` below).
    """

    def __init__(self, value: int) -> None:
        self.value = value

    def __int__(self) -> int:
        warnings.warn('int() on a CUDA handle is deprecated (cuda-bindings 13): use '
                      'cuda.bindings.utils.get_cuda_native_handle', DeprecationWarning,
                      stacklevel=2)
        return self.value


def _raw(value) -> int:
    """Return the address behind a handle or an integer (the fake's warning-free view)."""
    return value.value if isinstance(value, _Handle) else int(value)


def get_cuda_native_handle(obj) -> int:
    """cuda.bindings.utils.get_cuda_native_handle: the address of a driver object."""
    if not isinstance(obj, _Handle):
        raise TypeError(f'not a CUDA object: {obj!r}')
    return obj.value

    def __repr__(self) -> str:
        return f'<{type(self).__name__} {self.value:#x}>'


class CUcontext(_Handle):
    pass


class CUstream(_Handle):
    pass


class CUdeviceptr(_Handle):
    pass


class FakeCudaError(RuntimeError):
    """Raised by the fake where the real stack would corrupt state or crash later."""


class _Context:
    def __init__(self, handle: int, device: int) -> None:
        self.handle, self.device, self.alive = handle, device, True


class FakeDriver(types.ModuleType):
    """The part of `cuda.bindings.driver` the CUDA layer uses, with context discipline."""

    CUresult = CUresult
    CUdevice_attribute = CUdevice_attribute
    CU_MEMHOSTALLOC_DEVICEMAP = CU_MEMHOSTALLOC_DEVICEMAP
    CUcontext, CUstream, CUdeviceptr = CUcontext, CUstream, CUdeviceptr

    def __init__(self, devices=(('Orin', (8, 7), 16, 64 << 30),)) -> None:
        super().__init__('cuda.bindings.driver')
        self.devices = list(devices)
        self.initialised = False
        self._local = threading.local()
        self._next = 0x1000
        self.contexts: Dict[int, _Context] = {}
        self.primary: Dict[int, Optional[_Context]] = {}
        self.refcount: Dict[int, int] = {}
        self.memory: Dict[int, tuple] = {}       # address -> (ctypes buffer, context, kind)
        self.streams: Dict[int, _Context] = {}
        self.host_copies: List[int] = []          # device addresses copied to the host
        self.copied = {'upload': 0, 'download': 0}  # bytes moved by asynchronous copies
        self.violations: List[str] = []

    # -- bookkeeping
    def _handle(self) -> int:
        self._next += 0x100
        return self._next

    def stack(self) -> List[_Context]:
        """Return the calling thread's context stack, bottom first."""
        if not hasattr(self._local, 'stack'):
            self._local.stack = []
        return self._local.stack

    def current_context(self) -> Optional[_Context]:
        """Return the live context current on this thread, or None."""
        stack = self.stack()
        return stack[-1] if stack and stack[-1].alive else None

    def _need_context(self) -> Optional[CUresult]:
        stack = self.stack()
        if not self.initialised:
            return CUresult.CUDA_ERROR_INVALID_CONTEXT
        if not stack:
            return CUresult.CUDA_ERROR_INVALID_CONTEXT
        if not stack[-1].alive:
            return CUresult.CUDA_ERROR_CONTEXT_IS_DESTROYED
        return None

    def live_allocations(self) -> int:
        """Count the device and page-locked allocations not yet freed."""
        return sum(1 for _, context, _ in self.memory.values() if context.alive)

    def view(self, address: int, nbytes: int) -> memoryview:
        """Return memory [address, address + nbytes) of a live allocation, else raise."""
        for start, (buffer, context, kind) in self.memory.items():
            if start <= address and address + nbytes <= start + ctypes.sizeof(buffer):
                if not context.alive:
                    raise FakeCudaError(f'{address:#x} belongs to a destroyed context')
                return memoryview(buffer).cast('B')[address - start:address - start + nbytes]
        raise FakeCudaError(f'illegal address {address:#x} (+{nbytes} bytes)')

    # -- initialisation and devices
    def cuInit(self, flags: int):  # noqa: N802 - the driver's names
        self.initialised = True
        return (CUresult.CUDA_SUCCESS,)

    def cuGetErrorName(self, error):  # noqa: N802
        return CUresult.CUDA_SUCCESS, CUresult(error).name.encode()

    def cuDeviceGetCount(self):  # noqa: N802
        return CUresult.CUDA_SUCCESS, len(self.devices)

    def cuDeviceGet(self, ordinal: int):  # noqa: N802
        if not 0 <= ordinal < len(self.devices):
            return CUresult.CUDA_ERROR_INVALID_DEVICE, None
        return CUresult.CUDA_SUCCESS, ordinal

    def cuDeviceGetName(self, length: int, device: int):  # noqa: N802
        return CUresult.CUDA_SUCCESS, self.devices[device][0].encode().ljust(length, b'\0')

    def cuDeviceGetAttribute(self, attribute, device: int):  # noqa: N802
        name, (major, minor), sms, _ = self.devices[device][:4]
        values = {CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: sms,
                  CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: major,
                  CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: minor,
                  CUdevice_attribute.CU_DEVICE_ATTRIBUTE_INTEGRATED: int(self.integrated(device))}
        return CUresult.CUDA_SUCCESS, values[attribute]

    def integrated(self, device: int) -> bool:
        """Jetson modules ('Orin', 'Xavier') share DRAM with the CPU; a 5th field overrides."""
        entry = self.devices[device]
        return bool(entry[4]) if len(entry) > 4 else entry[0] in ('Orin', 'Xavier')

    def cuDeviceTotalMem(self, device: int):  # noqa: N802
        return CUresult.CUDA_SUCCESS, self.devices[device][3]

    # -- contexts
    def cuDevicePrimaryCtxRetain(self, device: int):  # noqa: N802
        if self.primary.get(device) is None:
            context = _Context(self._handle(), device)
            self.contexts[context.handle] = context
            self.primary[device] = context
        self.refcount[device] = self.refcount.get(device, 0) + 1
        return CUresult.CUDA_SUCCESS, CUcontext(self.primary[device].handle)

    def cuDevicePrimaryCtxRelease(self, device: int):  # noqa: N802
        if self.refcount.get(device, 0) <= 0:
            return (CUresult.CUDA_ERROR_INVALID_CONTEXT,)
        self.refcount[device] -= 1
        if self.refcount[device] == 0:
            context = self.primary.pop(device)
            context.alive = False                    # its memory and streams die with it
            leaked = [a for a, (_, owner, _) in self.memory.items() if owner is context]
            if leaked:
                self.violations.append(f'{len(leaked)} allocations never freed before the '
                                       f'context was destroyed')
        return (CUresult.CUDA_SUCCESS,)

    def cuCtxPushCurrent(self, context):  # noqa: N802
        found = self.contexts.get(_raw(context))
        if found is None or not found.alive:
            return (CUresult.CUDA_ERROR_CONTEXT_IS_DESTROYED,)
        self.stack().append(found)
        return (CUresult.CUDA_SUCCESS,)

    def cuCtxPopCurrent(self):  # noqa: N802
        stack = self.stack()
        if not stack:
            return CUresult.CUDA_ERROR_INVALID_CONTEXT, None
        return CUresult.CUDA_SUCCESS, CUcontext(stack.pop().handle)

    def cuCtxGetCurrent(self):  # noqa: N802
        stack = self.stack()
        return CUresult.CUDA_SUCCESS, CUcontext(stack[-1].handle if stack else 0)

    # -- streams
    def cuStreamCreate(self, flags: int):  # noqa: N802
        error = self._need_context()
        if error:
            return error, None
        handle = self._handle()
        self.streams[handle] = self.current_context()
        return CUresult.CUDA_SUCCESS, CUstream(handle)

    def _stream_error(self, stream) -> Optional[CUresult]:
        error = self._need_context()
        owner = self.streams.get(_raw(stream))
        if error:
            return error
        if owner is None or not owner.alive:
            return CUresult.CUDA_ERROR_INVALID_HANDLE
        return None

    def cuStreamSynchronize(self, stream):  # noqa: N802
        return (self._stream_error(stream) or CUresult.CUDA_SUCCESS,)

    def cuStreamDestroy(self, stream):  # noqa: N802
        error = self._stream_error(stream)
        if not error:
            del self.streams[_raw(stream)]
        return (error or CUresult.CUDA_SUCCESS,)

    # -- memory
    def _alloc(self, nbytes: int, kind: str):
        error = self._need_context()
        if error:
            return error, None
        buffer = (ctypes.c_char * int(nbytes))()
        address = ctypes.addressof(buffer)
        self.memory[address] = (buffer, self.current_context(), kind)
        return CUresult.CUDA_SUCCESS, address

    def _free(self, address: int, kind: str):
        error = self._need_context()
        if error:
            return (error,)
        entry = self.memory.get(_raw(address))
        if entry is None or entry[2] != kind:
            return (CUresult.CUDA_ERROR_INVALID_VALUE,)
        if not entry[1].alive:
            return (CUresult.CUDA_ERROR_CONTEXT_IS_DESTROYED,)
        del self.memory[_raw(address)]
        return (CUresult.CUDA_SUCCESS,)

    def cuMemAlloc(self, nbytes: int):  # noqa: N802
        error, address = self._alloc(nbytes, 'device')
        return error, CUdeviceptr(address) if address else None

    def cuMemFree(self, pointer):  # noqa: N802
        return self._free(_raw(pointer), 'device')

    def cuMemAllocHost(self, nbytes: int):  # noqa: N802
        return self._alloc(nbytes, 'host')

    def cuMemHostAlloc(self, nbytes: int, flags: int):  # noqa: N802
        """Page-locked memory; DEVICEMAP maps it into the device (kind 'mapped')."""
        return self._alloc(nbytes, 'mapped' if flags & CU_MEMHOSTALLOC_DEVICEMAP else 'host')

    def cuMemHostGetDevicePointer(self, pointer, flags: int):  # noqa: N802
        """Return the device address of mapped memory: the same, as in a Jetson's DRAM."""
        entry = self.memory.get(_raw(pointer))
        if entry is None or entry[2] != 'mapped':
            return CUresult.CUDA_ERROR_INVALID_VALUE, None
        return CUresult.CUDA_SUCCESS, CUdeviceptr(_raw(pointer))

    def cuMemFreeHost(self, pointer):  # noqa: N802
        kind = self.memory.get(_raw(pointer), (None, None, 'host'))[2]
        return self._free(_raw(pointer), 'mapped' if kind == 'mapped' else 'host')

    def _copy(self, destination: int, source: int, nbytes: int, device: int, stream=None):
        """Copy between any host address and `device`, a live device allocation."""
        error = self._stream_error(stream) if stream is not None else self._need_context()
        if error:
            return (error,)
        try:
            self.view(_raw(device), nbytes)
        except FakeCudaError:
            return (CUresult.CUDA_ERROR_ILLEGAL_ADDRESS,)
        if self.memory.get(_raw(device), (None, None, 'device'))[2] != 'device':
            return (CUresult.CUDA_ERROR_INVALID_VALUE,)
        ctypes.memmove(_raw(destination), int(source), nbytes)
        return (CUresult.CUDA_SUCCESS,)

    def cuMemcpyHtoD(self, destination, source, nbytes: int):  # noqa: N802
        return self._copy(destination, source, nbytes, destination)

    def cuMemcpyHtoDAsync(self, destination, source, nbytes: int, stream):  # noqa: N802
        self.copied['upload'] += nbytes
        return self._copy(destination, source, nbytes, destination, stream)

    def cuMemcpyDtoHAsync(self, destination, source, nbytes: int, stream):  # noqa: N802
        self.host_copies.append(_raw(source))
        self.copied['download'] += nbytes
        return self._copy(destination, source, nbytes, source, stream)


# ------------------------------------------------------------------------------------- tensorrt

_ONNX_TYPES = {1: 'FLOAT', 10: 'HALF', 2: 'UINT8', 3: 'INT8', 6: 'INT32', 7: 'INT64', 9: 'BOOL'}
_NUMPY = {'FLOAT': np.float32, 'HALF': np.float16, 'UINT8': np.uint8, 'INT8': np.int8,
          'INT32': np.int32, 'INT64': np.int64, 'BOOL': np.bool_}
MAGIC = b'FAKETRT1'


def _io_of(onnx_bytes: bytes) -> Dict[str, list]:
    """Names, dims (-1 dynamic) and TensorRT type names of an ONNX graph's inputs and outputs."""
    import onnx

    graph = onnx.load_from_string(onnx_bytes).graph
    initialisers = {i.name for i in graph.initializer}

    def describe(values):
        return [(v.name, [d.dim_value if d.HasField('dim_value') else -1
                          for d in v.type.tensor_type.shape.dim],
                 _ONNX_TYPES[v.type.tensor_type.elem_type])
                for v in values if v.name not in initialisers]
    return {'inputs': describe(graph.input), 'outputs': describe(graph.output)}


def make_tensorrt(version: str, driver: FakeDriver) -> types.ModuleType:
    """Build a fake `tensorrt` module of release `version` ('10.3.0' or '11.1.0')."""
    release = release_for(version)   # the facts trt_rules writes down for it
    trt = types.ModuleType('tensorrt')
    trt.__version__ = version
    trt.__spec__ = importlib.machinery.ModuleSpec('tensorrt', None)
    trt.loggers = []
    trt.builds = []            # (network strongly typed, set flag names, profiles) per build

    class ILogger:
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)

    class Logger(ILogger):
        def __init__(self, min_severity: int = ILogger.WARNING) -> None:
            self.min_severity = min_severity
            self.messages: List[str] = []
            trt.loggers.append(self)

        def log(self, severity: int, msg: str) -> None:
            self.messages.append(msg)

    trt.ILogger, trt.Logger = ILogger, Logger
    trt.DataType = enum.Enum('DataType', [(n, i) for i, n in enumerate(_NUMPY)])
    trt.nptype = lambda data_type: _NUMPY[data_type.name]
    trt.TensorIOMode = enum.Enum('TensorIOMode', 'NONE INPUT OUTPUT', start=0)
    trt.MemoryPoolType = enum.Enum('MemoryPoolType', 'WORKSPACE DLA_MANAGED_SRAM', start=0)
    # the C++ enum values: 11 keeps the numbers of the flags it did not remove
    flags = {'DEBUG': 2, 'GPU_FALLBACK': 3, 'REFIT': 4, 'DISABLE_TIMING_CACHE': 5, 'TF32': 6,
             'SPARSE_WEIGHTS': 7}
    if release.precision_flags:
        flags.update(FP16=0, INT8=1, OBEY_PRECISION_CONSTRAINTS=9,
                     PREFER_PRECISION_CONSTRAINTS=10, DIRECT_IO=11, FP8=15, BF16=17)
        trt.NetworkDefinitionCreationFlag = enum.IntEnum(
            'NetworkDefinitionCreationFlag', 'EXPLICIT_BATCH STRONGLY_TYPED', start=0)
    else:
        trt.NetworkDefinitionCreationFlag = enum.IntEnum(
            'NetworkDefinitionCreationFlag', 'STRONGLY_TYPED', start=0)
    trt.BuilderFlag = enum.IntEnum('BuilderFlag', flags)
    precision_flags = {'FP16', 'INT8', 'BF16', 'FP8'}

    def need_context(what: str):
        context = driver.current_context()
        if context is None:
            raise FakeCudaError(f'TensorRT {what} with no current CUDA context')
        return context

    class IProgressMonitor:
        def __init__(self) -> None:
            pass

    trt.IProgressMonitor = IProgressMonitor
    if release.implicit_int8:
        class IInt8EntropyCalibrator2:
            def __init__(self) -> None:
                pass

        trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2

    class ITensor:
        def __init__(self, name: str, shape, dtype: str) -> None:
            self.name, self.shape, self.dtype = name, tuple(shape), trt.DataType[dtype]

    class INetworkDefinition:
        def __init__(self, flags: int) -> None:
            typed = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
            self.strongly_typed = not release.precision_flags or bool(flags & typed)
            self.onnx, self.inputs, self.outputs = b'', [], []

        @property
        def num_inputs(self) -> int:
            return len(self.inputs)

        def get_input(self, index: int) -> ITensor:
            return self.inputs[index]

    class OnnxParser:
        def __init__(self, network: INetworkDefinition, logger: ILogger) -> None:
            self.network, self.errors = network, []

        @property
        def num_errors(self) -> int:
            return len(self.errors)

        def get_error(self, index: int) -> str:
            return self.errors[index]

        def parse(self, model: bytes) -> bool:
            """Refuse what the real importer refuses: the rules of trt_rules for this release."""
            try:
                io = _io_of(model)
                refused = check_model(model, [release])
            except Exception as err:  # noqa: BLE001 - the parser reports, never raises
                self.errors.append(f'ModelImporter: {err}')
                return False
            if refused:
                self.errors.extend(f'UNSUPPORTED_NODE: {v}' for v in refused)
                return False
            self.network.onnx = bytes(model)
            self.network.inputs = [ITensor(*t) for t in io['inputs']]
            self.network.outputs = [ITensor(*t) for t in io['outputs']]
            return True

    trt.OnnxParser = OnnxParser

    class IOptimizationProfile:
        def __init__(self) -> None:
            self.shapes = {}

        def set_shape(self, name: str, min, opt, max) -> None:  # noqa: A002 - TensorRT's names
            self.shapes[name] = [tuple(min), tuple(opt), tuple(max)]

    class ITimingCache:
        def __init__(self, entries: dict) -> None:
            self.entries = entries

        def serialize(self) -> bytes:
            return json.dumps(self.entries).encode()

    class IBuilderConfigBase:
        __slots__ = ('flags', 'pools', 'profiles', 'progress_monitor', 'timing_cache')

        def __init__(self) -> None:
            self.flags, self.pools, self.profiles = {trt.BuilderFlag.TF32}, {}, []
            self.progress_monitor, self.timing_cache = None, None

        def set_flag(self, flag) -> None:
            self.flags.add(trt.BuilderFlag(flag))

        def clear_flag(self, flag) -> None:
            self.flags.discard(trt.BuilderFlag(flag))

        def get_flag(self, flag) -> bool:
            return flag in self.flags

        def set_memory_pool_limit(self, pool, size: int) -> None:
            self.pools[pool] = int(size)

        def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
            self.profiles.append(profile)
            return len(self.profiles) - 1

        def create_timing_cache(self, data: bytes) -> Optional[ITimingCache]:
            try:
                return ITimingCache(json.loads(data.decode()) if data else {})
            except ValueError:
                return None

        def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
            self.timing_cache = cache
            return True

        def get_timing_cache(self) -> ITimingCache:
            return self.timing_cache

    if release.implicit_int8:
        class IBuilderConfig(IBuilderConfigBase):
            __slots__ = ('int8_calibrator', 'calibration_profile')

            def __init__(self) -> None:
                super().__init__()
                self.int8_calibrator, self.calibration_profile = None, None

            def set_calibration_profile(self, profile: IOptimizationProfile) -> bool:
                self.calibration_profile = profile
                return True
    else:
        class IBuilderConfig(IBuilderConfigBase):
            __slots__ = ()

    class IHostMemory(bytes):
        pass

    class Builder:
        def __init__(self, logger: ILogger) -> None:
            self.logger = logger

        def create_network(self, flags: int = 0) -> INetworkDefinition:
            return INetworkDefinition(flags)

        def create_builder_config(self) -> IBuilderConfig:
            return IBuilderConfig()

        def create_optimization_profile(self) -> IOptimizationProfile:
            return IOptimizationProfile()

        def _fail(self, message: str):
            self.logger.log(ILogger.ERROR, message)
            return None

        def build_serialized_network(self, network: INetworkDefinition,
                                     config: IBuilderConfig) -> Optional[IHostMemory]:
            need_context('build')
            names = {f.name for f in config.flags}
            trt.builds.append({'strongly_typed': network.strongly_typed, 'flags': names,
                               'profiles': [p.shapes for p in config.profiles],
                               'workspace': config.pools.get(trt.MemoryPoolType.WORKSPACE)})
            if network.strongly_typed and names & precision_flags:
                return self._fail(f'strongly typed: precision flags {names & precision_flags}')
            dynamic = [t for t in network.inputs if -1 in t.shape]
            for tensor in dynamic:
                if not any(tensor.name in p.shapes for p in config.profiles):
                    return self._fail(f'input {tensor.name} is dynamic and has no profile')
            for profile in config.profiles:
                for tensor in network.inputs:
                    low, opt, high = profile.shapes[tensor.name]
                    if not all(a <= b <= c and (d == -1 or a == c == d)
                               for a, b, c, d in zip(low, opt, high, tensor.shape)):
                        return self._fail(f'profile {profile.shapes} does not fit {tensor.shape}')
            if network.strongly_typed:
                graph_half = any(t.dtype == trt.DataType.HALF for t in network.inputs)
                precision = 'fp16' if graph_half else 'fp32'
            else:
                precision = 'int8' if 'INT8' in names else 'fp16' if 'FP16' in names else 'fp32'
            scale = self._calibrate(network, config) if precision == 'int8' else None
            if precision == 'int8' and scale is None:
                return None
            if config.progress_monitor is not None:
                config.progress_monitor.phase_start('Building engine', None, 1)
                config.progress_monitor.step_complete('Building engine', 0)
                config.progress_monitor.phase_finish('Building engine')
            if config.timing_cache is not None:
                config.timing_cache.entries[str(len(config.timing_cache.entries))] = precision
            header = {'version': version, 'precision': precision, 'scale': scale,
                      'profiles': [p.shapes for p in config.profiles]}
            text = json.dumps(header).encode()
            return IHostMemory(MAGIC + len(text).to_bytes(4, 'little') + text + network.onnx)

        def _calibrate(self, network: INetworkDefinition, config: IBuilderConfig):
            calibrator = config.int8_calibrator
            if calibrator is None:
                return self._fail('INT8 without a calibrator or Q/DQ nodes')
            if any(-1 in t.shape for t in network.inputs) and config.calibration_profile is None:
                return self._fail('dynamic network needs a calibration profile')
            cache = calibrator.read_calibration_cache()
            if cache:
                return json.loads(bytes(cache).decode())['scale']
            tensor = network.inputs[0]
            shape = [1 if d == -1 else d for d in tensor.shape]
            nbytes = int(np.prod(shape)) * np.dtype(_NUMPY[tensor.dtype.name]).itemsize
            peak = 0.0
            while True:
                pointers = calibrator.get_batch([tensor.name])
                if pointers is None:
                    break
                data = np.frombuffer(driver.view(_raw(pointers[0]), nbytes),
                                     _NUMPY[tensor.dtype.name]).astype(np.float32)
                peak = max(peak, float(np.abs(data).max()))
            if peak == 0.0:
                return self._fail('calibration saw no data')
            calibrator.write_calibration_cache(json.dumps({'scale': peak / 127}).encode())
            return peak / 127

    if release.precision_flags:   # 11 removed platform_has_fast_fp16 too
        def fast_fp16(self) -> bool:
            context = need_context('platform query')
            return driver.devices[context.device][1] >= (5, 3)

        Builder.platform_has_fast_fp16 = property(fast_fp16)
    trt.Builder = Builder

    class ICudaEngine:
        def __init__(self, header: dict, onnx: bytes, context) -> None:
            import onnxruntime

            self.header, self.cuda_context = header, context
            io = _io_of(onnx)
            self.tensors = {name: (dims, trt.DataType[dtype], mode)
                            for mode, key in ((trt.TensorIOMode.INPUT, 'inputs'),
                                              (trt.TensorIOMode.OUTPUT, 'outputs'))
                            for name, dims, dtype in io[key]}
            self.names = list(self.tensors)
            self.session = onnxruntime.InferenceSession(onnx, providers=['CPUExecutionProvider'])
            error, self.workspace = driver._alloc(256, 'device')   # the engine's device memory
            assert error == CUresult.CUDA_SUCCESS

        @property
        def num_io_tensors(self) -> int:
            return len(self.names)

        def get_tensor_name(self, index: int) -> str:
            return self.names[index]

        def get_tensor_mode(self, name: str):
            return self.tensors[name][2] if name in self.tensors else trt.TensorIOMode.NONE

        def get_tensor_dtype(self, name: str):
            return self.tensors[name][1]

        def get_tensor_shape(self, name: str):
            return tuple(self.tensors[name][0])

        @property
        def num_optimization_profiles(self) -> int:
            return max(len(self.header['profiles']), 1)

        def get_tensor_profile_shape(self, name: str, profile_index: int):
            return self.header['profiles'][profile_index][name]

        def create_execution_context(self) -> 'IExecutionContext':
            if need_context('create_execution_context') is not self.cuda_context:
                raise FakeCudaError('execution context created outside the engine\'s context')
            return IExecutionContext(self)

        def __del__(self) -> None:
            current = driver.current_context()
            if current is not self.cuda_context or not self.cuda_context.alive:
                driver.violations.append('engine destroyed without its CUDA context current')
            else:
                driver.memory.pop(self.workspace, None)

    class IExecutionContext:
        def __init__(self, engine: ICudaEngine) -> None:
            self.engine, self.shapes, self.addresses = engine, {}, {}

        def set_input_shape(self, name: str, shape) -> bool:
            dims, _, mode = self.engine.tensors[name]
            shape = tuple(int(d) for d in shape)
            if mode != trt.TensorIOMode.INPUT or len(shape) != len(dims):
                return False
            profiles = self.engine.header['profiles']
            if profiles:
                low, _, high = profiles[0][name]
                ok = all(a <= s <= c for a, s, c in zip(low, shape, high))
            else:
                ok = shape == tuple(dims)
            if ok:
                self.shapes[name] = shape
            return ok

        def get_tensor_shape(self, name: str):
            dims, _, mode = self.engine.tensors[name]
            if mode == trt.TensorIOMode.INPUT:
                return self.shapes.get(name, tuple(dims))
            batch = next(iter(self.shapes.values()), (-1,))[0]
            return tuple(batch if d == -1 and i == 0 else d for i, d in enumerate(dims))

        def set_tensor_address(self, name: str, address: int) -> bool:
            driver.view(_raw(address), 1)
            self.addresses[name] = _raw(address)
            return True

        def execute_async_v3(self, stream_handle: int) -> bool:
            context = need_context('execute_async_v3')
            if context is not self.engine.cuda_context:
                raise FakeCudaError('engine executed in another engine\'s CUDA context')
            if driver.streams.get(_raw(stream_handle)) is not context:
                raise FakeCudaError('execute_async_v3 on a stream of another context')
            feeds = {}
            for name, (dims, dtype, mode) in self.engine.tensors.items():
                if name not in self.addresses:
                    raise FakeCudaError(f'no address set for tensor {name}')
                if mode == trt.TensorIOMode.INPUT:
                    shape = self.get_tensor_shape(name)
                    if -1 in shape:
                        raise FakeCudaError(f'input shape of {name} not set')
                    kind = np.dtype(trt.nptype(dtype))
                    raw = driver.view(self.addresses[name], int(np.prod(shape)) * kind.itemsize)
                    feeds[name] = self._quantise(np.frombuffer(raw, kind).reshape(shape))
            outputs = self.engine.session.run(None, feeds)
            for (name, value) in zip([o.name for o in self.engine.session.get_outputs()],
                                     outputs):
                value = self._quantise(value)
                kind = trt.nptype(self.engine.tensors[name][1])
                data = np.ascontiguousarray(value, dtype=kind).tobytes()
                driver.view(self.addresses[name], len(data))[:] = data
            return True

        def _quantise(self, array: np.ndarray) -> np.ndarray:
            precision, scale = self.engine.header['precision'], self.engine.header['scale']
            if precision == 'fp16' and array.dtype == np.float32:
                return array.astype(np.float16).astype(np.float32)
            if precision == 'int8' and array.dtype == np.float32:
                return (np.clip(np.round(array / scale), -127, 127) * scale).astype(np.float32)
            return array

    class Runtime:
        def __init__(self, logger: ILogger) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, data: bytes) -> Optional[ICudaEngine]:
            context = need_context('deserialize_cuda_engine')
            data = bytes(data)
            if not data.startswith(MAGIC):
                self.logger.log(ILogger.ERROR, 'magic tag does not match')
                return None
            size = int.from_bytes(data[len(MAGIC):len(MAGIC) + 4], 'little')
            header = json.loads(data[len(MAGIC) + 4:len(MAGIC) + 4 + size].decode())
            if header['version'] != version:
                self.logger.log(ILogger.ERROR, f'plan built by TensorRT {header["version"]}')
                return None
            return ICudaEngine(header, data[len(MAGIC) + 4 + size:], context)

    trt.Runtime = Runtime
    return trt


# --------------------------------------------------------------------------------------- pycuda


def make_pycuda(driver: FakeDriver) -> types.ModuleType:
    """Build a fake `pycuda.driver` (the calls PyCudaLayer makes) over the same fake driver."""
    cuda = types.ModuleType('pycuda.driver')
    cuda.__spec__ = importlib.machinery.ModuleSpec('pycuda.driver', None)

    def check(result):
        if result[0] != CUresult.CUDA_SUCCESS:
            raise RuntimeError(f'pycuda: {CUresult(result[0]).name}')
        return result[1] if len(result) > 1 else None

    cuda.init = lambda: check(driver.cuInit(0))
    cuda.device_attribute = types.SimpleNamespace(
        MULTIPROCESSOR_COUNT=CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
        INTEGRATED=CUdevice_attribute.CU_DEVICE_ATTRIBUTE_INTEGRATED)
    cuda.host_alloc_flags = types.SimpleNamespace(DEVICEMAP=CU_MEMHOSTALLOC_DEVICEMAP)

    class Context:
        def __init__(self, handle, device: int) -> None:
            self.handle, self.device, self.attached = _raw(handle), device, True

        def push(self) -> None:
            check(driver.cuCtxPushCurrent(CUcontext(self.handle)))

        @staticmethod
        def pop() -> None:
            check(driver.cuCtxPopCurrent())

        @staticmethod
        def get_current():
            handle = _raw(check(driver.cuCtxGetCurrent()))
            return Context(handle, -1) if handle else None

        def detach(self) -> None:                 # a primary context: release one reference
            if self.attached:
                self.attached = False
                check(driver.cuDevicePrimaryCtxRelease(self.device))

    class Device:
        def __init__(self, index: int) -> None:
            self.index = check(driver.cuDeviceGet(index))

        @staticmethod
        def count() -> int:
            return check(driver.cuDeviceGetCount())

        def name(self) -> str:
            return check(driver.cuDeviceGetName(256, self.index)).rstrip(b'\0').decode()

        def compute_capability(self):
            return driver.devices[self.index][1]

        def get_attribute(self, attribute) -> int:
            return check(driver.cuDeviceGetAttribute(attribute, self.index))

        def total_memory(self) -> int:
            return check(driver.cuDeviceTotalMem(self.index))

        def retain_primary_context(self) -> Context:
            return Context(check(driver.cuDevicePrimaryCtxRetain(self.index)), self.index)

    class DeviceAllocation:
        def __init__(self, nbytes: int) -> None:
            self.address = _raw(check(driver.cuMemAlloc(nbytes)))

        def __int__(self) -> int:
            return self.address

        def free(self) -> None:
            check(driver.cuMemFree(self.address))

    def pagelocked_empty(shape, dtype, mem_flags: int = 0) -> np.ndarray:
        """Return a plain ndarray whose `base` is the allocation, as in pycuda.

        The allocation has `free()` and, mapped, `get_device_pointer()`.
        """
        dtype = np.dtype(dtype)
        nbytes = max(int(np.prod(shape)) * dtype.itemsize, 1)
        address = check(driver.cuMemHostAlloc(nbytes, mem_flags))
        allocation = type('HostAllocation', (ctypes.c_char * nbytes,), {
            'free': lambda self: check(driver.cuMemFreeHost(address)),
            'get_device_pointer': lambda self: _raw(check(
                driver.cuMemHostGetDevicePointer(address, 0)))}).from_address(address)
        return np.ndarray(tuple(shape), dtype, buffer=allocation)

    class Stream:
        def __init__(self) -> None:
            self.handle = _raw(check(driver.cuStreamCreate(0)))

        def synchronize(self) -> None:
            check(driver.cuStreamSynchronize(CUstream(self.handle)))

        def __del__(self) -> None:
            if driver.cuStreamDestroy(CUstream(self.handle))[0] != CUresult.CUDA_SUCCESS:
                driver.violations.append('pycuda stream destroyed outside its context')

    cuda.Context, cuda.Device, cuda.Stream = Context, Device, Stream
    cuda.mem_alloc = DeviceAllocation
    cuda.pagelocked_empty = pagelocked_empty
    cuda.memcpy_htod = lambda pointer, array: check(
        driver.cuMemcpyHtoD(int(pointer), array.ctypes.data, array.nbytes))
    cuda.memcpy_htod_async = lambda pointer, array, stream: check(driver.cuMemcpyHtoDAsync(
        int(pointer), array.ctypes.data, array.nbytes, CUstream(stream.handle)))
    cuda.memcpy_dtoh_async = lambda array, pointer, stream: check(driver.cuMemcpyDtoHAsync(
        array.ctypes.data, int(pointer), array.nbytes, CUstream(stream.handle)))
    return cuda


def install(monkeypatch, version: str, devices=None, layer: str = 'cuda-python'
            ) -> types.ModuleType:
    """Put a fake TensorRT `version` and a fake CUDA layer (`layer`) into sys.modules.

    Returns the fake tensorrt module; its `driver` attribute is the fake driver underneath.
    """
    driver = FakeDriver(devices) if devices is not None else FakeDriver()
    trt = make_tensorrt(version, driver)
    trt.driver = driver
    monkeypatch.setitem(sys.modules, 'tensorrt', trt)
    if layer == 'pycuda':
        pycuda = types.ModuleType('pycuda')
        pycuda.__spec__ = importlib.machinery.ModuleSpec('pycuda', None, is_package=True)
        pycuda.driver = make_pycuda(driver)
        for name, module in (('pycuda', pycuda), ('pycuda.driver', pycuda.driver),
                             ('cuda', None)):
            monkeypatch.setitem(sys.modules, name, module)
        return trt
    cuda = types.ModuleType('cuda')
    cuda.__spec__ = importlib.machinery.ModuleSpec('cuda', None, is_package=True)
    bindings = types.ModuleType('cuda.bindings')
    bindings.__spec__ = importlib.machinery.ModuleSpec('cuda.bindings', None, is_package=True)
    utils = types.ModuleType('cuda.bindings.utils')
    utils.__spec__ = importlib.machinery.ModuleSpec('cuda.bindings.utils', None)
    utils.get_cuda_native_handle = get_cuda_native_handle
    bindings.driver, bindings.utils, cuda.bindings = driver, utils, bindings
    driver.__spec__ = importlib.machinery.ModuleSpec('cuda.bindings.driver', None)
    for name, module in (('cuda', cuda), ('cuda.bindings', bindings),
                         ('cuda.bindings.driver', driver), ('cuda.bindings.utils', utils),
                         ('pycuda', None)):
        monkeypatch.setitem(sys.modules, name, module)
    return trt
