# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A job for the batch runner's own logic, in a module that imports little.

Every spawned worker imports it to unpickle the job.
"""

import os
import signal
from pathlib import Path

from adds_ros.atomic import write_text_atomic
from adds_training.tools import batch


class FileJob(batch.Job):
    """A job for the runner's own logic: upper-cases a text file; some inputs misbehave."""

    command = 'test'

    def __init__(self, crash=(), flaky=()) -> None:
        self.crash, self.flaky = set(crash), set(flaky)

    def run(self, task: batch.Task) -> dict:
        name = Path(task.input).name
        if name in self.crash:  # dies as a worker killed by the OOM killer would
            os.kill(os.getpid(), signal.SIGKILL)
        tried = Path(task.output + '.tried')
        if name in self.flaky and not tried.exists():
            tried.touch()
            raise RuntimeError('flaky input')
        write_text_atomic(task.output, Path(task.input).read_text().upper())
        return {'frames': 1}


class DeviceJob(batch.Job):
    """Writes the GPUs its worker was given (CUDA_VISIBLE_DEVICES) as the output."""

    command = 'test'

    def run(self, task: batch.Task) -> dict:
        write_text_atomic(task.output, os.environ.get('CUDA_VISIBLE_DEVICES', 'unset'))
        return {'frames': 1}


class UnloadableJob(batch.Job):
    """A job a worker cannot unpickle, as one whose module is missing on that machine."""

    command = 'test'

    def __init__(self) -> None:
        self.settings = {'model': 'm.onnx'}  # a state to restore: unpickling calls setstate

    def __setstate__(self, state: dict) -> None:
        raise RuntimeError('cannot load the job here')
