# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Time the camera-size path (`adds export --camera-size`) per backend on one device.

`python -m adds_training.tools.bench.camera_path --device cuda --out camera.json` times
`DepthEstimator.predict` on one rgb8 camera frame for each way this machine can run the
camera-size model: the host path (plain export: crop/resize and upsample on the host) against
the in-graph path, on ONNX Runtime (its CUDA provider on `cuda`), PyTorch (fp32, and on CUDA
fp16 with a CUDA graph) and TensorRT where it is usable. A row that cannot run here says why.
`scripts/gpu_measure.sh PART=camera` runs it on a lent GPU; its CPU dry run (`SIZE=tiny`) runs
the same code at toy size, so it cannot rot.
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

Size = Tuple[int, int]


def variants(device: str) -> List[Tuple[str, str, str, Dict[str, Any]]]:
    """(row name, model kind 'onnx'/'checkpoint', backend, estimator options) to try."""
    rows = [('onnxruntime', 'onnx', 'onnxruntime', {'device': device}),
            ('torch fp32', 'checkpoint', 'torch', {'device': device})]
    if device.startswith('cuda'):
        rows += [('torch fp16 cuda graph', 'checkpoint', 'torch',
                  {'device': device, 'precision': 'fp16', 'cuda_graph': True}),
                 ('tensorrt fp16', 'onnx', 'tensorrt', {'device': device, 'precision': 'fp16'})]
    return rows


def time_predict(estimator: Any, rgb: np.ndarray, iterations: int, warmup: int) -> List[float]:
    """Milliseconds of `predict` per frame after `warmup` untimed frames."""
    for _ in range(warmup):
        estimator.predict(rgb)
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        estimator.predict(rgb)
        times.append(1e3 * (time.perf_counter() - start))
    return times


def measure(open_estimator: Callable[[], Any], rgb: np.ndarray, iterations: int,
            warmup: int) -> Dict[str, Any]:
    """One row: p50/p90 ms, or the one-line reason it cannot run here."""
    try:
        estimator = open_estimator()
    except Exception as err:  # noqa: BLE001 - a backend missing here is a row, not a failure
        return {'skipped': f'{type(err).__name__}: {str(err).splitlines()[0][:200]}'}
    try:
        times = time_predict(estimator, rgb, iterations, warmup)
        return {'backend': estimator.describe(), 'p50_ms': float(np.median(times)),
                'p90_ms': float(np.percentile(times, 90)), 'n': len(times)}
    finally:
        estimator.close()


def camera_rows(checkpoint: Path, work: Path, camera: Size, network: Size, device: str,
                iterations: int, warmup: int) -> List[Dict[str, Any]]:
    """Host path and in-graph path for every variant this machine offers."""
    from adds_ros.estimator import DepthEstimator
    from adds_training.tools.bench.models import export_for_size
    from adds_ros.testing.camera import camera_frame

    height, width = camera
    host = export_for_size(checkpoint, work / 'host.onnx', network)
    in_graph = export_for_size(checkpoint, work / f'camera_{width}x{height}.onnx', network,
                               camera=camera)
    rgb = camera_frame('rgb8', height, width)
    rows = []
    for name, kind, backend, options in variants(device):
        for path in ('host', 'in-graph'):
            if kind == 'onnx':
                model, extra = (host if path == 'host' else in_graph), {}
            else:
                model, extra = checkpoint, ({'metadata': host} if path == 'host'
                                            else {'camera_size': camera})
            row = measure(lambda: DepthEstimator(model, backend, **options, **extra), rgb,
                          iterations, warmup)
            rows.append({'variant': name, 'path': path, **row})
    return rows


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', type=Path, help='checkpoint (default: random ADDS)')
    parser.add_argument('--camera', default='1280x960', help='camera WxH')
    parser.add_argument('--network', default='512x256', help='network input WxH')
    parser.add_argument('--device', default='cuda', help="'cuda[:N]' or 'cpu' (dry run)")
    parser.add_argument('--iterations', type=int, default=50)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--work', type=Path, default=Path('/tmp/adds_camera_path'))
    parser.add_argument('--out', type=Path, required=True, help='JSON file to write')
    args = parser.parse_args(argv)
    from adds_training.export import camera_size
    from adds_training.tools.bench.models import random_checkpoint

    camera, network = camera_size(args.camera), camera_size(args.network)
    args.work.mkdir(parents=True, exist_ok=True)
    checkpoint = args.checkpoint or random_checkpoint(args.work / 'random.pt', network)
    rows = camera_rows(checkpoint, args.work, camera, network, args.device, args.iterations,
                       args.warmup)
    result = {'camera': args.camera, 'network': args.network, 'device': args.device,
              'rows': rows}
    from adds_ros.atomic import write_text_atomic

    write_text_atomic(args.out, json.dumps(result, indent=1) + '\n')
    for row in rows:
        timing = (f"p50 {row['p50_ms']:.2f} ms, p90 {row['p90_ms']:.2f} ms"
                  if 'p50_ms' in row else f"skipped: {row['skipped']}")
        print(f"{row['variant']:>22} {row['path']:>8}: {timing}")
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
