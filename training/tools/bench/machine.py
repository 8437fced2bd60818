# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The machine's own limit: what it is, how fast it multiplies matrices, what a frame costs.

A dense matrix multiply is the fastest work a CPU or GPU does, so model FLOPs divided by the
measured matmul rate is a floor no backend can beat; how far above it a backend lands says how
much is left to gain. FLOPs are counted from the modules that actually run (forward hooks on
convolutions and linear layers, 2 FLOPs per multiply-accumulate), not from a formula.
"""

import importlib
import importlib.metadata
import os
import platform
import time
from typing import Any, Dict, List, Optional, Tuple

import psutil

LIBRARIES = ('torch', 'onnxruntime', 'numpy', 'cv2', 'rclpy', 'tensorrt', 'onnx')


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (Linux), else what the platform module knows."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def library_versions() -> Dict[str, Optional[str]]:
    """Version of each library the numbers depend on; None when it is not installed."""
    versions: Dict[str, Optional[str]] = {'python': platform.python_version()}
    for name in LIBRARIES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            versions[name] = None
            continue
        try:
            versions[name] = str(getattr(module, '__version__', None)
                                 or importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            versions[name] = 'unknown'

    return versions


def gpu_name() -> Optional[str]:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def machine_info() -> Dict[str, Any]:
    """Describe the machine: CPU, cores, memory, GPU, load average and library versions."""
    return {'cpu': cpu_model(), 'physical_cores': psutil.cpu_count(logical=False),
            'logical_cores': psutil.cpu_count(logical=True),
            'memory_gib': psutil.virtual_memory().total / 2 ** 30, 'gpu': gpu_name(),
            'os': platform.platform(), 'load_average': list(os.getloadavg()),
            'libraries': library_versions()}


def matmul_rate(size: int = 2048, repeats: int = 5, device: str = 'cpu',
                threads: Optional[int] = None, dtype: str = 'float32') -> float:
    """Best FLOP/s of `repeats` size x size matrix products (2 size^3 FLOPs each) in `dtype`.

    `threads` sets torch's intra-op threads for the measurement (restored afterwards).
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads or previous)
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator).to(device, getattr(torch, dtype))
            for _ in range(2))
    best = float('inf')
    try:
        for _ in range(repeats + 1):  # the first product warms the BLAS up
            synchronize(device)
            start = time.perf_counter()
            torch.mm(a, b)
            synchronize(device)
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return 2.0 * size ** 3 / best


def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        import torch

        torch.cuda.synchronize()


def layer_macs(layer: Any, inputs: Any, output: Any) -> int:
    """Multiply-accumulates of one call of a Conv2d, ConvTranspose2d or Linear layer.

    A convolution's output element costs (in_channels / groups) x kernel area; a transposed
    convolution spreads each input element over (out_channels / groups) x kernel area; a linear
    layer's output element costs in_features.
    """
    from torch import nn

    if isinstance(layer, nn.Linear):
        return output.numel() * layer.in_features
    kernel = layer.kernel_size[0] * layer.kernel_size[1]
    if isinstance(layer, nn.ConvTranspose2d):
        return inputs[0].numel() * (layer.out_channels // layer.groups) * kernel
    return output.numel() * (layer.in_channels // layer.groups) * kernel


def mac_hooks(module: Any) -> Tuple[Dict[str, int], List[Any]]:
    """Count, by layer type, the multiply-accumulates of the forwards that follow.

    Returns the running counts and the hook handles (remove them to stop counting). Bias adds,
    normalisation and activations are not counted: the floor compares with matrix
    multiplication, and these are a few percent of a convolutional network's arithmetic.
    """
    from torch import nn

    macs: Dict[str, int] = {}

    def hook(layer: nn.Module, layer_inputs: Any, output: Any) -> None:
        name = type(layer).__name__
        macs[name] = macs.get(name, 0) + int(layer_macs(layer, layer_inputs, output))

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    return macs, handles


def count_macs(module: Any, *inputs: Any) -> Dict[str, int]:
    """Multiply-accumulates of one forward pass of `module`, by layer type (`mac_hooks`)."""
    import torch

    macs, handles = mac_hooks(module)
    try:
        with torch.inference_mode():
            module(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return macs
