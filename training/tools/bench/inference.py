# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Inference per backend: the network alone, on a prepared input, against the matmul floor.

Every candidate is what a user could run instead: PyTorch eager on the checkpoint (as trained;
also in channels_last memory order, oneDNN's preferred layout), the project's ONNX Runtime
backend, and on a GPU PyTorch CUDA, ONNX Runtime CUDA and TensorRT FP32 / FP16. A candidate
that cannot run here is reported with the reason, never silently left out.

On CUDA the project's PyTorch backend at its fastest (fp16, channels_last, CUDA graph; numpy in
and out, as the node calls it) is compared with the best plain-PyTorch variant of the same
network (fp32, fp16, fp16 channels_last, fp16 channels_last in a CUDA graph; input already on
the device, output left there): `vs_best_pytorch` is its latency over the best one's.
"""

import logging
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from adds_ros.tools.stats import summarize, time_interleaved

LOGGER = logging.getLogger(__name__)
Infer = Callable[[np.ndarray], Any]
TORCH = 'pytorch eager'
# ONNX Runtime's default: idle intra-op threads spin. Timed on its own, after the others: its
# spinning threads would slow whatever runs next in this process.
SPINNING = 'onnxruntime, spin-wait on (ORT default)'
# plain-PyTorch variants on CUDA: name -> (fp16, channels_last, CUDA graph)
TORCH_VARIANTS = {'pytorch on device fp32': (False, False, False),
                  'pytorch on device fp16': (True, False, False),
                  'pytorch on device fp16 channels_last': (True, True, False),
                  'pytorch on device fp16 channels_last CUDA graph': (True, True, True)}
PROJECT_TORCH = 'torch backend fp16 channels_last CUDA graph'
NO_CUDA = 'no CUDA device (torch.cuda.is_available() is False)'


class Unavailable(Exception):
    """A candidate that cannot run on this machine; the message says why."""


def torch_eager(checkpoint: Path, onnx: Path, device: str,
                channels_last: bool = False) -> Infer:
    """Load the PyTorch backend (inference_mode), optionally with channels_last weights."""
    import torch

    from adds_training.torch_backend import TorchBackend

    if device == 'cuda' and not torch.cuda.is_available():
        raise Unavailable(NO_CUDA)
    backend = TorchBackend(checkpoint, device=device, metadata=onnx)
    if not channels_last:
        return backend.infer
    graph = backend.graph.to(memory_format=torch.channels_last)

    def infer(image: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            tensor = torch.from_numpy(image).to(backend.device)
            out = graph(tensor.contiguous(memory_format=torch.channels_last))
        return (out[0] if isinstance(out, tuple) else out).cpu().numpy()
    return infer


def torch_fast_backend(checkpoint: Path, onnx: Path) -> Infer:
    """Load the project's PyTorch backend with every CUDA option on (numpy in and out)."""
    import torch

    from adds_training.torch_backend import TorchBackend

    if not torch.cuda.is_available():
        raise Unavailable(NO_CUDA)
    return TorchBackend(checkpoint, device='cuda', metadata=onnx, precision='fp16',
                        channels_last=True, cuda_graph=True).infer


def torch_variant(checkpoint: Path, onnx: Path, half: bool, channels_last: bool,
                  cuda_graph: bool) -> Infer:
    """Run the exported module in plain PyTorch on CUDA on a device-resident input, no copies.

    The returned call ignores its numpy argument: the input was put on the device once, so
    this is the best the network itself can do in PyTorch.
    """
    import torch

    from adds_training.torch_backend import CapturedGraph
    from adds_ros.metadata import ModelMetadata
    from adds_training.export import depth_graph
    from adds_training.networks import load_depth_net

    if not torch.cuda.is_available():
        raise Unavailable(NO_CUDA)
    meta = ModelMetadata.from_onnx(onnx)
    net, _ = load_depth_net(checkpoint)
    net = depth_graph(net.half() if half else net.float(), meta).cuda()
    image = torch.rand(1, 3, meta.input_height, meta.input_width, device='cuda',
                       dtype=torch.float16 if half else torch.float32)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        image = image.contiguous(memory_format=torch.channels_last)
    if cuda_graph:
        captured = CapturedGraph(net, image)
        step = captured.graph.replay
    else:
        def step() -> None:
            with torch.inference_mode():
                net(image)

    def infer(_: np.ndarray) -> None:
        step()
        torch.cuda.synchronize()
    return infer


def onnxruntime_backend(onnx: Path, device: str, threads: int) -> Infer:
    """Load the project's ONNX Runtime backend, as the node builds it."""
    import onnxruntime

    from adds_ros.backends.onnxruntime_backend import CUDA, OnnxRuntimeBackend

    if device == 'cuda' and CUDA not in onnxruntime.get_available_providers():
        raise Unavailable(f'this onnxruntime has no {CUDA} (install onnxruntime-gpu)')
    return OnnxRuntimeBackend(onnx, device=device, threads=threads if device == 'cpu' else 0
                              ).infer


def onnxruntime_spinning(onnx: Path, threads: int, spinning: bool) -> Infer:
    """Open a CPU session with intra-op spin-waiting forced on or off.

    Spinning threads burn the core while they wait for work: faster on an idle machine, slower
    when the cores are shared with other processes.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.add_session_config_entry('session.intra_op.allow_spinning', str(int(spinning)))
    session = onnxruntime.InferenceSession(str(onnx), options,
                                           providers=['CPUExecutionProvider'])
    name = session.get_inputs()[0].name
    return lambda image: session.run(None, {name: image})


def tensorrt_engine(onnx: Path, precision: str) -> Infer:
    """Build (or take from the cache) a TensorRT engine for this ONNX file.

    A precision this TensorRT cannot build (fp16 from an FP32 graph on TensorRT 11, which has no
    FP16 builder flag) is reported as unavailable, with TensorRT's reason, not an abort.
    """
    from adds_ros.backends import tensorrt_usable
    from adds_ros.backends.engine_cache import EngineError

    if not tensorrt_usable():
        raise Unavailable('TensorRT and a CUDA layer (cuda-python or pycuda) are not installed, '
                          'or no CUDA device is present')
    from adds_ros.backends.tensorrt_backend import TensorRTBackend
    try:
        return TensorRTBackend(onnx, device='cuda', precision=precision, log=LOGGER.info).infer
    except EngineError as why:
        raise Unavailable(f'TensorRT {precision}: {why}') from None


def candidates(checkpoint: Path, onnx: Path, device: str, threads: int
               ) -> List[Tuple[str, Callable[[], Infer]]]:
    """(name, factory) of every backend the benchmark compares on `device`."""
    if device == 'cuda':
        return [(TORCH, lambda: torch_eager(checkpoint, onnx, 'cuda')),
                (PROJECT_TORCH, lambda: torch_fast_backend(checkpoint, onnx))] + [
                (name, lambda options=options: torch_variant(checkpoint, onnx, *options))
                for name, options in TORCH_VARIANTS.items()] + [
                ('onnxruntime', lambda: onnxruntime_backend(onnx, 'cuda', 0)),
                ('tensorrt fp32', lambda: tensorrt_engine(onnx, 'fp32')),
                ('tensorrt fp16', lambda: tensorrt_engine(onnx, 'fp16'))]
    return [(TORCH, lambda: torch_eager(checkpoint, onnx, 'cpu')),
            (f'{TORCH} channels_last', lambda: torch_eager(checkpoint, onnx, 'cpu', True)),
            ('onnxruntime', lambda: onnxruntime_backend(onnx, 'cpu', threads))
            ] + ([(SPINNING, lambda: onnxruntime_spinning(onnx, threads, True))]
                 if threads > 1 else [])


def bench_inference(checkpoint: Path, onnx: Path, size: Tuple[int, int], device: str,
                    threads: int, floor_ms: Optional[float], iterations: int, warmup: int,
                    progress: Callable[[], None] = lambda: None) -> List[Dict[str, Any]]:
    """One row per candidate on `device` at `size`: latency, frames/s, x floor, x PyTorch.

    The candidates are timed interleaved, so their ratios share the same load. `threads` is
    the intra-op thread count (the caller sets torch's; ONNX Runtime sessions get their own).
    """
    height, width = size
    image = np.random.default_rng(0).random((1, 3, height, width), dtype=np.float32)
    rows, calls = [], {}
    for name, factory in candidates(checkpoint, onnx, device, threads):
        row = {'backend': name, 'device': device, 'threads': threads if device == 'cpu'
               else None, 'size': f'{width}x{height}'}
        try:
            calls[name] = factory()
        except Unavailable as why:
            row['skipped'] = str(why)
        rows.append(row)
    if not calls:
        return rows
    groups = [[n for n in calls if n != SPINNING], [n for n in calls if n == SPINNING]]
    seconds: Dict[str, List[float]] = {}
    for group in filter(None, groups):
        seconds.update(time_interleaved({n: (lambda c=calls[n]: c(image)) for n in group},
                                        iterations, warmup, progress))
    reference = seconds.get(TORCH)
    best = min((float(np.median(seconds[n])) for n in TORCH_VARIANTS if n in seconds),
               default=None)
    for row in rows:
        if row['backend'] in seconds:
            mine = seconds[row['backend']]
            row.update(summarize(mine))
            row['floor_ratio'] = row['p50_ms'] / floor_ms if floor_ms else None
            row['speedup_vs_pytorch'] = (float(np.median(reference) / np.median(mine))
                                         if reference else None)
            if row['backend'] == PROJECT_TORCH and best:
                row['vs_best_pytorch'] = float(np.median(mine)) / best
    return rows


def onnxruntime_profile(onnx: Path, threads: int, runs: int, work: Path
                        ) -> List[Dict[str, Any]]:
    """Where ONNX Runtime's time goes: per operator type, ms per frame and share of kernel time.

    Uses ONNX Runtime's own profiler (kernel times of the optimised graph, so fused and
    layout-reordering nodes appear as they really run).
    """
    import json

    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')  # as the backend
    options.enable_profiling = True
    options.profile_file_prefix = str(work / 'ort_profile')
    session = onnxruntime.InferenceSession(str(onnx), options,
                                           providers=['CPUExecutionProvider'])
    shape = [d if isinstance(d, int) else 1 for d in session.get_inputs()[0].shape]
    image = np.random.default_rng(0).random(shape, dtype=np.float32)
    session.run(None, {session.get_inputs()[0].name: image})  # warm-up, profiled too
    for _ in range(runs):
        session.run(None, {session.get_inputs()[0].name: image})
    trace = Path(session.end_profiling())
    events = json.loads(trace.read_text())
    trace.unlink()
    micros: Dict[str, float] = {}
    nodes: Dict[str, set] = {}
    for event in events:
        if event.get('cat') == 'Node' and event['name'].endswith('_kernel_time'):
            op = event['args']['op_name']
            micros[op] = micros.get(op, 0.0) + event['dur']
            nodes.setdefault(op, set()).add(event['name'])
    total = sum(micros.values())
    return [{'op': op, 'ms_per_frame': us / (runs + 1) / 1e3, 'nodes': len(nodes[op]),
             'share': us / total}
            for op, us in sorted(micros.items(), key=lambda kv: -kv[1])]
