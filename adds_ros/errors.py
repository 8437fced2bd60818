# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The one user-error type: what a person can fix (a path, a value, a file), not a bug.

`adds` catches it once (adds_ros/cli.py) and prints `adds <command>: <message>` on stderr with
exit code 2, no traceback; `depth_node` does the same with `depth_node: <message>`. Bugs stay
ordinary exceptions, so their tracebacks still reach the people who can fix them.
"""

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem with the user's input: printed as one line, no traceback."""


class UserValueError(UserError, ValueError):
    """A bad value or file the user gave, where library callers (the node) catch ValueError."""


class UserFileNotFoundError(UserError, FileNotFoundError):
    """A file or folder the user named is not there (callers may catch FileNotFoundError)."""
