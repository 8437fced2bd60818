# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Numeric precisions, named once for the export, the engine cache, the backends and the options.

A graph is exported in fp32 or fp16 (`ModelMetadata.precision`); a TensorRT engine is built in
any of PRECISIONS (int8 with calibration); a backend class lists those it runs
(`Backend.precisions`); parameters and options accept REQUESTS, where 'auto' lets the backend
choose (TensorRT: fp16 where the GPU runs it fast, else fp32; the others: the graph as exported).
"""

PRECISIONS = ('fp32', 'fp16', 'int8')
GRAPH_PRECISIONS = PRECISIONS[:2]
REQUESTS = ('auto',) + PRECISIONS
