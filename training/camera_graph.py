# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Pre- and post-processing inside the exported graph: camera frame in, camera-size depth out.

`CameraGraph` wraps the network so that it takes the camera frame itself (`image`, uint8
1 x H x W x 3 RGB at the camera size fixed at export) and returns `depth` (model units) and
`disparity` (the sigmoid disparity), float32 H x W, NaN outside the crop: what
`adds_ros.estimator.DepthEstimator` computes on the host (crop + resize + network + upsample),
done by the backend on its device, so the host only moves bytes.

Every resize is a per-axis table of (index, weight) taps built here with OpenCV's own
coordinate rules (`cv2.INTER_AREA` when shrinking, `cv2.INTER_LINEAR` when enlarging, as
`adds_ros.preprocess.resize_image` chooses; `cv2.INTER_LINEAR` for the disparity upsample, as
`adds_ros.postprocess.upsample_into_camera`): the graph applies it as Gather + Mul + ReduceSum,
which ONNX Runtime, TensorRT and PyTorch all run, and which reproduces the host path instead of
approximating it with another filter. The crop is folded into the input taps, the NaN border
into the output taps (they point at one NaN row/column), so neither costs a pass of its own.
"""

import math
from typing import Tuple

import numpy as np

from adds_ros.metadata import ModelMetadata
from adds_ros.preprocess import crop_box

Taps = Tuple[np.ndarray, np.ndarray]  # indices (K x out, int64), weights (K x out, float32)


def area_taps(in_size: int, out_size: int) -> Taps:
    """Taps of cv2.INTER_AREA shrinking `in_size` samples to `out_size` (computeResizeAreaTab).

    Each output is the box average of the input interval it covers, partial pixels weighted by
    their overlap.
    """
    if out_size > in_size:
        raise ValueError(f'area resampling shrinks: {in_size} -> {out_size} enlarges')
    scale = in_size / out_size
    rows = []
    for dx in range(out_size):
        fsx1 = dx * scale
        fsx2 = fsx1 + scale
        cell = min(scale, in_size - fsx1)
        sx2 = min(math.floor(fsx2), in_size - 1)
        sx1 = min(math.ceil(fsx1), sx2)
        taps = []
        if sx1 - fsx1 > 1e-3:
            taps.append((sx1 - 1, (sx1 - fsx1) / cell))
        taps += [(sx, 1.0 / cell) for sx in range(sx1, sx2)]
        if fsx2 - sx2 > 1e-3:
            taps.append((sx2, min(fsx2 - sx2, 1.0, cell) / cell))
        rows.append(taps)
    return pack(rows)


def linear_taps(in_size: int, out_size: int) -> Taps:
    """Taps of cv2.INTER_LINEAR (half-pixel centres, borders clamped) from `in_size` samples."""
    scale = in_size / out_size
    rows = []
    for dx in range(out_size):
        fx = (dx + 0.5) * scale - 0.5
        sx = math.floor(fx)
        fx -= sx
        if sx < 0:
            sx, fx = 0, 0.0
        if sx >= in_size - 1:
            sx, fx = in_size - 1, 0.0
        rows.append([(sx, 1.0 - fx), (min(sx + 1, in_size - 1), fx)])
    return pack(rows)


def area_mixed_taps(in_size: int, out_size: int) -> Taps:
    """Taps of cv2.INTER_AREA when some axis enlarges: OpenCV's two-tap rule, on every axis."""
    scale, inverse = in_size / out_size, out_size / in_size
    rows = []
    for dx in range(out_size):
        sx = math.floor(dx * scale)
        fx = (dx + 1) - (sx + 1) * inverse
        fx = 0.0 if fx <= 0 else fx - math.floor(fx)
        if sx >= in_size - 1:
            sx, fx = in_size - 1, 0.0
        rows.append([(sx, 1.0 - fx), (min(sx + 1, in_size - 1), fx)])
    return pack(rows)


def pack(rows) -> Taps:
    """Pad ragged per-output tap lists to K taps (index 0, weight 0) and stack them K x out."""
    k = max(len(taps) for taps in rows)
    index = np.zeros((k, len(rows)), np.int64)
    weight = np.zeros((k, len(rows)), np.float32)
    for out, taps in enumerate(rows):
        for tap, (source, w) in enumerate(taps):
            index[tap, out], weight[tap, out] = source, w
    return index, weight


def input_taps(metadata: ModelMetadata) -> Tuple[Taps, Taps]:
    """Row and column taps from the camera frame (crop folded in) to the network input."""
    height, width = metadata.camera_height, metadata.camera_width
    top, bottom, left, right = crop_box(metadata.crop, height, width)
    net_h, net_w = metadata.input_height, metadata.input_width
    # resize_image: INTER_AREA when the picture shrinks, INTER_LINEAR when it grows; OpenCV's
    # INTER_AREA averages boxes only when no axis grows
    if (bottom - top) * (right - left) <= net_h * net_w:
        taps = linear_taps
    elif bottom - top >= net_h and right - left >= net_w:
        taps = area_taps
    else:
        taps = area_mixed_taps
    (rows, row_w), (cols, col_w) = taps(bottom - top, net_h), taps(right - left, net_w)
    return (rows + top, row_w), (cols + left, col_w)


def output_taps(size: int, start: int, stop: int, net_size: int) -> Taps:
    """Taps from a network axis padded with one NaN sample (index net_size) to a camera axis.

    Inside [start, stop) they upsample bilinearly into the crop; outside, every tap points at
    the NaN sample, so those pixels come out NaN whatever their weights.
    """
    inside, inside_w = linear_taps(net_size, stop - start)
    index = np.full((inside.shape[0], size), net_size, np.int64)
    weight = np.zeros((inside.shape[0], size), np.float32)
    weight[0] = 1.0
    index[:, start:stop], weight[:, start:stop] = inside, inside_w
    return index, weight


def camera_graph(net_graph, metadata: ModelMetadata):
    """Wrap `net_graph` (1x3xhxw float [0, 1] -> disparity 1x1xhxw) as the in-graph model."""
    import torch

    if not metadata.in_graph:
        raise ValueError('camera_graph needs metadata with in_graph=True and a camera size')
    (rows, row_w), (cols, col_w) = input_taps(metadata)
    top, bottom, left, right = crop_box(metadata.crop, metadata.camera_height,
                                        metadata.camera_width)
    out_rows, out_row_w = output_taps(metadata.camera_height, top, bottom, metadata.input_height)
    out_cols, out_col_w = output_taps(metadata.camera_width, left, right, metadata.input_width)
    min_disp, max_disp = 1.0 / metadata.max_depth, 1.0 / metadata.min_depth

    class CameraGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net_graph
            for name, value in (('rows', rows), ('row_w', row_w), ('cols', cols),
                                ('col_w', col_w), ('out_rows', out_rows),
                                ('out_row_w', out_row_w), ('out_cols', out_cols),
                                ('out_col_w', out_col_w)):
                self.register_buffer(name, torch.from_numpy(value), persistent=False)

        def forward(self, image: torch.Tensor):
            # uint8 1xHxWx3 -> rows (uint8 gather: the cast touches only the taps' rows)
            x = resample(image, 1, self.rows, self.row_w)           # 1 x h x W x 3 float
            x = resample(x, 2, self.cols, self.col_w)               # 1 x h x w x 3
            # the host resizes uint8 -> uint8 (rounded), then scales to [0, 1]
            x = torch.round(x).permute(0, 3, 1, 2) * (1.0 / 255.0)
            disparity = self.net(x)
            disparity = disparity[0] if isinstance(disparity, tuple) else disparity
            scaled = disparity[0, 0] * (max_disp - min_disp) + min_disp  # h x w
            scaled = torch.nn.functional.pad(scaled, (0, 1, 0, 1), value=float('nan'))
            scaled = resample(scaled, 0, self.out_rows, self.out_row_w)
            scaled = resample(scaled, 1, self.out_cols, self.out_col_w)  # H x W
            return torch.reciprocal(scaled), (scaled - min_disp) * (1.0 / (max_disp - min_disp))

    return CameraGraph().eval()


def resample(x, dim: int, index, weight):
    """Apply K x out taps along `dim` of `x`: sum_k weight[k] * x.index_select(dim, index[k])."""
    import torch

    k, out = index.shape
    taps = torch.index_select(x, dim, index.reshape(-1)).float()
    shape = list(taps.shape)
    shape[dim:dim + 1] = [k, out]
    view = [1] * len(shape)
    view[dim:dim + 2] = [k, out]
    return (taps.reshape(shape) * weight.reshape(view)).sum(dim)
