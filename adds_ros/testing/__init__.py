# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Made-up inputs for tests and benchmarks: a tiny real ONNX depth model, camera pictures.

`tiny_model` needs the `onnx` package (test and train extras), which the vehicle does not
install; the node itself never imports this package.
"""
