# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Day-to-night CycleGAN: networks, training with exact resume, batch translation, metrics.

ADDS trains on each day frame paired with a fake-night twin of the same geometry; this package
makes those twins. Kept free of torch imports here so `adds --help` stays fast.
"""
