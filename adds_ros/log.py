# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The one way the `adds` commands report progress: the standard `logging` module.

Modules log through `LOGGER = logging.getLogger(__name__)`; `adds` calls `setup_logging` once,
before the command runs. Records go to stderr through `tqdm.write`, so an open progress bar is
redrawn below the line instead of being torn, and stdout carries only a command's result (the
`wrote <path>` lines and tables that people and scripts read). In the rclpy node,
`route_to_rclpy` sends the same records to the node's logger (console and /rosout), so a
module that logs (a TensorRT engine build, minutes long) is heard there too.
"""

import contextlib
import logging
import sys
from typing import Any, Iterator

# Our packages log at the chosen level; other libraries only reach us from WARNING up.
OUR_LOGGERS = ('adds_ros', 'adds_training')


class TqdmHandler(logging.Handler):
    """Write each record with `tqdm.write` on the current sys.stderr (test capture included)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm  # lazy: `adds --help` stays fast
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # a broken stream must not take the command down
            self.handleError(record)


class CommandFormatter(logging.Formatter):
    """`[adds <command>] message`, with `warning:`/`error:` in front of what is not routine."""

    def __init__(self, command: str) -> None:
        super().__init__()
        self.prefix = f'[adds {command}]' if command else '[adds]'

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        if record.levelno >= logging.WARNING:
            message = f'{record.levelname.lower()}: {message}'
        return f'{self.prefix} {message}'


def setup_logging(command: str = '', level: int = logging.INFO) -> logging.Handler:
    """Route all logging to one stderr handler; call again to change command or level.

    Replaces the handler an earlier call installed (tests run many commands in one process)
    rather than stacking a second one, and leaves other handlers (pytest's caplog) alone.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, TqdmHandler)]:
        root.removeHandler(old)
    handler = TqdmHandler()
    handler.setFormatter(CommandFormatter(command))
    root.addHandler(handler)
    root.setLevel(max(level, logging.WARNING))
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(level)
    return handler


@contextlib.contextmanager
def command_logging(command: str, level: int = logging.INFO) -> Iterator[logging.Handler]:
    """`setup_logging` for one command, then put the handlers and levels back as they were.

    `adds` is also called as a function (tests, the ablation runner's parent): a later caller
    must not inherit this command's prefix or level.
    """
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in OUR_LOGGERS]
    saved = [(logger, logger.level, list(logger.handlers)) for logger in loggers]
    try:
        yield setup_logging(command, level)
    finally:
        for logger, old_level, handlers in saved:
            logger.setLevel(old_level)
            logger.handlers[:] = handlers


class RclpyHandler(logging.Handler):
    """Forward records to an rclpy logger (RcutilsLogger), at the matching severity.

    One call site per severity: rclpy keys its loggers' call state by the calling line and
    refuses a second severity from the same line.
    """

    def __init__(self, ros_logger: Any) -> None:
        super().__init__()
        self.ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message, level = self.format(record), record.levelno
            if level >= logging.ERROR:
                self.ros_logger.error(message)
            elif level >= logging.WARNING:
                self.ros_logger.warning(message)
            elif level >= logging.INFO:
                self.ros_logger.info(message)
            else:
                self.ros_logger.debug(message)
        except Exception:  # a logging failure must not take the node down
            self.handleError(record)


def route_to_rclpy(ros_logger: Any, level: int = logging.INFO) -> logging.Handler:
    """Send our packages' records to `ros_logger`; remove the returned handler when done.

    Only `OUR_LOGGERS` are routed (other libraries keep their own handling), and they stop
    propagating to the root logger meanwhile, so nothing is printed twice.
    """
    handler = RclpyHandler(ros_logger)
    for name in OUR_LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    return handler


def unroute(handler: logging.Handler) -> None:
    """Undo `route_to_rclpy`."""
    for name in OUR_LOGGERS:
        logger = logging.getLogger(name)
        logger.removeHandler(handler)
        logger.propagate = True
