# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The CUDA calls the TensorRT backend needs, behind one small interface with two implementations.

- `CudaPythonLayer` (default): NVIDIA's cuda-python driver bindings (`cuda.bindings.driver`,
  `cuda.cuda` on cuda-python < 12.6). A wheel on PyPI for x86_64 and aarch64, nothing to
  compile on the target, and what NVIDIA's own TensorRT samples use.
- `PyCudaLayer`: pycuda, accepted where it is installed (it must compile against the local CUDA,
  which often fails on Jetson images, hence not the default).

Context rules (the reasons are in engine_cache.py's module docstring, rules 13-16):
- Every backend uses the device's *primary* context, retained once per backend
  (`PrimaryContext`) and released once at close: the driver reference-counts it, so any number of
  backends, in any close order, share one context and none destroys it under another.
- A backend makes the context current only for the duration of its own calls (`active()`:
  push, work, pop) and pops only what it pushed: before popping it checks that the top of this
  thread's stack is the context it pushed, and raises instead of popping someone else's.
"""

import abc
import contextlib
import ctypes
import importlib.util
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np


class CudaError(RuntimeError):
    """A CUDA driver call failed, or the context stack is not what this process left it."""


@dataclass(frozen=True)
class DeviceInfo:
    """What tells GPUs apart for an engine: Orin modules share a name and compute capability."""

    name: str
    compute_capability: str
    sm_count: int
    total_memory: int


class CudaLayer(abc.ABC):
    """Driver-level operations on integer device pointers and numpy host arrays."""

    name = ''

    @abc.abstractmethod
    def device_count(self) -> int:
        """Return the number of CUDA devices."""

    @abc.abstractmethod
    def device_info(self, index: int) -> DeviceInfo:
        """Describe device `index`."""

    @abc.abstractmethod
    def retain_primary(self, index: int) -> Any:
        """Take one reference to the device's primary context and return its handle."""

    @abc.abstractmethod
    def release_primary(self, index: int, context: Any) -> None:
        """Drop the reference taken by `retain_primary`."""

    @abc.abstractmethod
    def push(self, context: Any) -> None:
        """Make `context` current on this thread (on top of its stack)."""

    @abc.abstractmethod
    def pop(self) -> Any:
        """Pop this thread's current context and return it."""

    @abc.abstractmethod
    def current(self) -> Optional[int]:
        """Return this thread's current context as an integer handle, or None."""

    @staticmethod
    def handle(context: Any) -> int:
        """Convert a context or stream to an integer, 0 for none."""
        return native_handle(context)

    @abc.abstractmethod
    def stream_create(self) -> Any:
        """Create a stream in the current context."""

    @abc.abstractmethod
    def stream_handle(self, stream: Any) -> int:
        """Return the stream's integer handle (what TensorRT's execute_async_v3 takes)."""

    @abc.abstractmethod
    def stream_synchronize(self, stream: Any) -> None:
        """Wait for all work queued on `stream`."""

    @abc.abstractmethod
    def stream_destroy(self, stream: Any) -> None:
        """Destroy `stream` (current context required)."""

    @abc.abstractmethod
    def mem_alloc(self, nbytes: int) -> int:
        """Allocate device memory; return its address."""

    @abc.abstractmethod
    def mem_free(self, pointer: int) -> None:
        """Free device memory from `mem_alloc`."""

    @abc.abstractmethod
    def host_empty(self, shape: Sequence[int], dtype: Any) -> np.ndarray:
        """Allocate a page-locked host array (asynchronous copies need page-locked memory)."""

    @abc.abstractmethod
    def host_free(self, array: np.ndarray) -> None:
        """Free an array from `host_empty` or `host_mapped`; it must not be used afterwards."""

    @abc.abstractmethod
    def device_integrated(self, index: int) -> bool:
        """Tell whether device `index` shares DRAM with the host (Jetson: zero-copy pays)."""

    @abc.abstractmethod
    def host_mapped(self, shape: Sequence[int], dtype: Any) -> Tuple[np.ndarray, int]:
        """Allocate page-locked host memory mapped into the device's address space.

        Returns the array and its device address: kernels read and write the array in place,
        no copy needed (on an integrated GPU the same DRAM; on a discrete one each access
        crosses PCIe, so only integrated GPUs use it by default).
        """

    @abc.abstractmethod
    def copy_to_device(self, pointer: int, array: np.ndarray, stream: Any = None) -> None:
        """Copy a contiguous host array to device memory (asynchronously on `stream` if given)."""

    @abc.abstractmethod
    def copy_to_host(self, array: np.ndarray, pointer: int, stream: Any) -> None:
        """Queue a copy of device memory into a page-locked host array on `stream`."""


class PrimaryContext:
    """One backend's reference to a device's primary context, current only inside `active()`."""

    def __init__(self, layer: CudaLayer, index: int) -> None:
        self.layer, self.index = layer, index
        self.context = layer.retain_primary(index)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Push the context, run the block, then pop exactly what was pushed."""
        if self.context is None:
            raise CudaError('this backend was closed: its CUDA context is released')
        layer, mine = self.layer, self.layer.handle(self.context)
        layer.push(self.context)
        try:
            yield
        finally:
            top = layer.current()
            if top != mine:
                raise CudaError(f'CUDA context stack corrupted: expected this backend\'s context '
                                f'{mine:#x} on top, found {top or 0:#x}; not popping it')
            layer.pop()

    def release(self) -> None:
        """Drop the reference (idempotent); call after everything in the context is freed."""
        if self.context is not None:
            context, self.context = self.context, None
            self.layer.release_primary(self.index, context)


def native_handle(obj: Any) -> int:
    """Return the address behind a cuda-python driver object (0 for None).

    cuda-bindings 13 deprecates `int(obj)` for this (subject to removal) and recommends
    `cuda.bindings.utils.get_cuda_native_handle`, which 12.9 added too; older cuda-python has
    no `utils` and `int()` is its only conversion.
    """
    if obj is None:
        return 0
    if isinstance(obj, int):
        return obj
    try:
        from cuda.bindings.utils import get_cuda_native_handle
    except ImportError:
        return int(obj)
    return int(get_cuda_native_handle(obj))


def _driver():
    """Import cuda-python's driver module (new and old package layouts)."""
    try:
        from cuda.bindings import driver
    except ImportError:
        from cuda import cuda as driver
    return driver


class CudaPythonLayer(CudaLayer):
    """cuda-python driver API: every call returns (CUresult, values...), checked here."""

    name = 'cuda-python'

    def __init__(self) -> None:
        self.driver = _driver()
        self._check('cuInit', self.driver.cuInit(0))
        self._hosts: Dict[int, int] = {}   # array data address -> page-locked allocation

    def _check(self, call: str, result) -> Any:
        error, values = result[0], result[1:]
        if error != self.driver.CUresult.CUDA_SUCCESS:
            name = self.driver.cuGetErrorName(error)[1]
            raise CudaError(f'{call} failed: {name.decode() if isinstance(name, bytes) else name}')
        return values[0] if len(values) == 1 else values

    def _device(self, index: int) -> Any:
        return self._check('cuDeviceGet', self.driver.cuDeviceGet(index))

    def device_count(self) -> int:
        return int(self._check('cuDeviceGetCount', self.driver.cuDeviceGetCount()))

    def device_info(self, index: int) -> DeviceInfo:
        driver, device = self.driver, self._device(index)
        attribute = driver.CUdevice_attribute

        def get(name: str) -> int:
            return int(self._check('cuDeviceGetAttribute', driver.cuDeviceGetAttribute(
                getattr(attribute, f'CU_DEVICE_ATTRIBUTE_{name}'), device)))

        raw = self._check('cuDeviceGetName', driver.cuDeviceGetName(256, device))
        name = bytes(raw).split(b'\0', 1)[0].decode()
        return DeviceInfo(name, f'{get("COMPUTE_CAPABILITY_MAJOR")}.'
                                f'{get("COMPUTE_CAPABILITY_MINOR")}',
                          get('MULTIPROCESSOR_COUNT'),
                          int(self._check('cuDeviceTotalMem', driver.cuDeviceTotalMem(device))))

    def retain_primary(self, index: int) -> Any:
        return self._check('cuDevicePrimaryCtxRetain',
                           self.driver.cuDevicePrimaryCtxRetain(self._device(index)))

    def release_primary(self, index: int, context: Any) -> None:
        self._check('cuDevicePrimaryCtxRelease',
                    self.driver.cuDevicePrimaryCtxRelease(self._device(index)))

    def push(self, context: Any) -> None:
        self._check('cuCtxPushCurrent', self.driver.cuCtxPushCurrent(context))

    def pop(self) -> Any:
        return self._check('cuCtxPopCurrent', self.driver.cuCtxPopCurrent())

    def current(self) -> Optional[int]:
        return self.handle(self._check('cuCtxGetCurrent', self.driver.cuCtxGetCurrent())) or None

    def stream_create(self) -> Any:
        return self._check('cuStreamCreate', self.driver.cuStreamCreate(0))

    def stream_handle(self, stream: Any) -> int:
        return self.handle(stream)

    def stream_synchronize(self, stream: Any) -> None:
        self._check('cuStreamSynchronize', self.driver.cuStreamSynchronize(stream))

    def stream_destroy(self, stream: Any) -> None:
        self._check('cuStreamDestroy', self.driver.cuStreamDestroy(stream))

    def mem_alloc(self, nbytes: int) -> int:
        pointer = self._check('cuMemAlloc', self.driver.cuMemAlloc(max(int(nbytes), 1)))
        return native_handle(pointer)

    def mem_free(self, pointer: int) -> None:
        self._check('cuMemFree', self.driver.cuMemFree(pointer))

    def host_empty(self, shape: Sequence[int], dtype: Any) -> np.ndarray:
        dtype = np.dtype(dtype)
        nbytes = max(int(np.prod(shape)) * dtype.itemsize, 1)
        address = native_handle(self._check('cuMemAllocHost',
                                            self.driver.cuMemAllocHost(nbytes)))
        return self._host_array(address, nbytes, shape, dtype)

    def _host_array(self, address: int, nbytes: int, shape: Sequence[int],
                    dtype: np.dtype) -> np.ndarray:
        buffer = (ctypes.c_char * nbytes).from_address(address)
        array = np.frombuffer(buffer, dtype=dtype, count=int(np.prod(shape))).reshape(shape)
        self._hosts[array.ctypes.data] = address
        return array

    def host_free(self, array: np.ndarray) -> None:
        address = self._hosts.pop(array.ctypes.data)
        self._check('cuMemFreeHost', self.driver.cuMemFreeHost(address))

    def device_integrated(self, index: int) -> bool:
        attribute = self.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_INTEGRATED
        return bool(self._check('cuDeviceGetAttribute', self.driver.cuDeviceGetAttribute(
            attribute, self._device(index))))

    def host_mapped(self, shape: Sequence[int], dtype: Any) -> Tuple[np.ndarray, int]:
        dtype = np.dtype(dtype)
        nbytes = max(int(np.prod(shape)) * dtype.itemsize, 1)
        address = native_handle(self._check('cuMemHostAlloc', self.driver.cuMemHostAlloc(
            nbytes, self.driver.CU_MEMHOSTALLOC_DEVICEMAP)))
        array = self._host_array(address, nbytes, shape, dtype)
        pointer = self._check('cuMemHostGetDevicePointer',
                              self.driver.cuMemHostGetDevicePointer(address, 0))
        return array, native_handle(pointer)

    def copy_to_device(self, pointer: int, array: np.ndarray, stream: Any = None) -> None:
        array = np.ascontiguousarray(array)
        if stream is None:
            self._check('cuMemcpyHtoD',
                        self.driver.cuMemcpyHtoD(pointer, array.ctypes.data, array.nbytes))
        else:
            self._check('cuMemcpyHtoDAsync', self.driver.cuMemcpyHtoDAsync(
                pointer, array.ctypes.data, array.nbytes, stream))

    def copy_to_host(self, array: np.ndarray, pointer: int, stream: Any) -> None:
        self._check('cuMemcpyDtoHAsync', self.driver.cuMemcpyDtoHAsync(
            array.ctypes.data, pointer, array.nbytes, stream))


class PyCudaLayer(CudaLayer):
    """pycuda, where installed: the same operations through its objects."""

    name = 'pycuda'

    def __init__(self) -> None:
        import pycuda.driver as cuda

        cuda.init()
        self.cuda = cuda
        self._device_memory: Dict[int, Any] = {}

    def device_count(self) -> int:
        return int(self.cuda.Device.count())

    def device_info(self, index: int) -> DeviceInfo:
        device = self.cuda.Device(index)
        major, minor = device.compute_capability()
        return DeviceInfo(device.name(), f'{major}.{minor}', int(device.get_attribute(
            self.cuda.device_attribute.MULTIPROCESSOR_COUNT)), int(device.total_memory()))

    def retain_primary(self, index: int) -> Any:
        return self.cuda.Device(index).retain_primary_context()

    def release_primary(self, index: int, context: Any) -> None:
        context.detach()          # pycuda releases a primary context's reference on detach

    def push(self, context: Any) -> None:
        context.push()

    def pop(self) -> Any:
        return self.cuda.Context.pop()

    def current(self) -> Optional[int]:
        context = self.cuda.Context.get_current()
        return int(context.handle) if context is not None else None

    @staticmethod
    def handle(context: Any) -> int:
        return int(getattr(context, 'handle', context) or 0)

    def stream_create(self) -> Any:
        return self.cuda.Stream()

    def stream_handle(self, stream: Any) -> int:
        return int(stream.handle)

    def stream_synchronize(self, stream: Any) -> None:
        stream.synchronize()

    def stream_destroy(self, stream: Any) -> None:
        del stream                # pycuda destroys a stream with its last reference

    def mem_alloc(self, nbytes: int) -> int:
        allocation = self.cuda.mem_alloc(max(int(nbytes), 1))
        self._device_memory[int(allocation)] = allocation
        return int(allocation)

    def mem_free(self, pointer: int) -> None:
        self._device_memory.pop(pointer).free()

    def host_empty(self, shape: Sequence[int], dtype: Any) -> np.ndarray:
        return self.cuda.pagelocked_empty(tuple(shape), dtype)

    def host_free(self, array: np.ndarray) -> None:
        array.base.free()

    def device_integrated(self, index: int) -> bool:
        return bool(self.cuda.Device(index).get_attribute(
            self.cuda.device_attribute.INTEGRATED))

    def host_mapped(self, shape: Sequence[int], dtype: Any) -> Tuple[np.ndarray, int]:
        array = self.cuda.pagelocked_empty(tuple(shape), dtype,
                                           mem_flags=self.cuda.host_alloc_flags.DEVICEMAP)
        return array, int(array.base.get_device_pointer())

    def copy_to_device(self, pointer: int, array: np.ndarray, stream: Any = None) -> None:
        if stream is None:
            self.cuda.memcpy_htod(pointer, np.ascontiguousarray(array))
        else:
            self.cuda.memcpy_htod_async(pointer, array, stream)

    def copy_to_host(self, array: np.ndarray, pointer: int, stream: Any) -> None:
        self.cuda.memcpy_dtoh_async(array, pointer, stream)


LAYERS = {'cuda-python': CudaPythonLayer, 'pycuda': PyCudaLayer}


def installed_layers() -> List[str]:
    """Names of the CUDA layers whose Python package is importable, preferred first."""
    found = []
    if importlib.util.find_spec('cuda') is not None:
        found.append('cuda-python')
    if importlib.util.find_spec('pycuda') is not None:
        found.append('pycuda')
    return found


def load_cuda_layer() -> CudaLayer:
    """Return the first CUDA layer that imports and initialises (cuda-python, then pycuda)."""
    errors = []
    for name in installed_layers():
        try:
            return LAYERS[name]()
        except Exception as err:  # noqa: BLE001 - a broken layer means "try the next one"
            errors.append(f'{name}: {err}')
    raise CudaError('no usable CUDA layer: install cuda-python (pip install cuda-python) or '
                    'pycuda' + (f' ({"; ".join(errors)})' if errors else ''))
