# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Tools around the model, not part of making it: bags, bench, parity, demo, ablation.

`adds_training` proper is what makes a model (data, networks, losses, objectives, trainer,
evaluation, export); `adds_training.tools` is what users run around it. Both sit under
training/ (the design card's top level); the runtime is `adds_ros`, and the tools that need
only the runtime (`adds engine`, the fuzzer, the ROS 2 graph harness) are in `adds_ros.tools`.
"""
