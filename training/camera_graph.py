# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Pre- and post-processing inside the exported graph: camera frame in, camera-size depth out.

`CameraGraph` wraps the network so that it takes the camera frame itself (`image`, uint8
1 x H x W x 3 RGB at the camera size fixed at export) and returns `depth` (model units) and
`disparity` (the sigmoid disparity), float32 H x W, NaN outside the crop: what
`adds_ros.estimator.DepthEstimator` computes on the host (crop + resize + network + upsample),
done by the backend on its device, so the host only moves bytes.

The camera -> network resize is a per-axis table of (index, weight) taps built here with
OpenCV's own coordinate rules (`cv2.INTER_AREA` when shrinking, `cv2.INTER_LINEAR` when
enlarging, as `adds_ros.preprocess.resize_image` chooses), applied as Cast (the uint8 frame to
float32, before any indexing: TensorRT's importer takes UINT8 only as a network input or output
or a Cast's input) + Gather + Mul + Add, which ONNX Runtime, TensorRT and PyTorch all run: it
reproduces the host path instead of approximating INTER_AREA with another filter (bilinear
with antialias is a triangle, not a box).
The crop is folded into the taps. The disparity upsample is a plain bilinear Resize (the same
rule as `cv2.INTER_LINEAR`) into the crop, padded with NaN to the camera size.
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


def camera_graph(net_graph, metadata: ModelMetadata):
    """Wrap `net_graph` (1x3xhxw float [0, 1] -> disparity 1x1xhxw) as the in-graph model."""
    import torch

    if not metadata.in_graph:
        raise ValueError('camera_graph needs metadata with in_graph=True and a camera size')
    (rows, row_w), (cols, col_w) = input_taps(metadata)
    min_disp, max_disp = 1.0 / metadata.max_depth, 1.0 / metadata.min_depth

    class CameraGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net_graph
            for name, value in (('rows', rows), ('row_w', row_w), ('cols', cols),
                                ('col_w', col_w)):
                self.register_buffer(name, torch.from_numpy(value), persistent=False)

        def forward(self, image: torch.Tensor):
            # rows first, on the NHWC frame: each tap gathers whole contiguous rows
            x = resample(image, 1, self.rows, self.row_w)               # 1 x h x W x 3
            x = resample(x.permute(0, 3, 1, 2), 3, self.cols, self.col_w)  # 1 x 3 x h x w
            # the host resizes uint8 -> uint8 (rounded), then scales to [0, 1]
            disparity = self.net(torch.round(x) * (1.0 / 255.0))
            disparity = disparity[0] if isinstance(disparity, tuple) else disparity
            scaled = upsample_into_crop(disparity * (max_disp - min_disp) + min_disp, metadata)
            return torch.reciprocal(scaled), (scaled - min_disp) * (1.0 / (max_disp - min_disp))

    return CameraGraph().eval()


def resample(x, dim: int, index, weight):
    """Apply K x out taps along `dim`: sum over k of weight[k] * x.index_select(dim, index[k]).

    `x` is cast to float32 first (one Cast): TensorRT's Gather importer refuses UINT8 data,
    which it accepts only as a network input or output or a Cast's input (trt_rules rule 4).
    Then one Gather, Mul and Add per tap, the weights broadcast over the dimensions after
    `dim` (long contiguous runs: ONNX Runtime's fast broadcasting path on the CPU).
    """
    import torch

    x = x.float()
    shape = [1] * x.dim()
    shape[dim] = -1
    out = None
    for k in range(index.shape[0]):
        term = torch.index_select(x, dim, index[k]) * weight[k].view(shape)
        out = term if out is None else out + term
    return out


def upsample_into_crop(values, metadata: ModelMetadata):
    """Bilinear 1x1xhxw -> the crop of the camera frame, NaN elsewhere: camera H x W.

    PyTorch's bilinear resize (half-pixel centres, edges clamped; ONNX Resize linear) is
    OpenCV's INTER_LINEAR, which `adds_ros.postprocess.upsample_into_camera` uses on the host.
    """
    import torch

    height, width = metadata.camera_height, metadata.camera_width
    top, bottom, left, right = crop_box(metadata.crop, height, width)
    inside = torch.nn.functional.interpolate(values, size=(bottom - top, right - left),
                                             mode='bilinear', align_corners=False)
    return torch.nn.functional.pad(inside[0, 0], (left, width - right, top, height - bottom),
                                   value=float('nan'))
