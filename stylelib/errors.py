"""Exceptions raised by stylelib.

Every error a user can cause (a bad file, a missing data set, a corrupt weight
file) is a :class:`StylelibError`.  Its message is one line that names the
file or the thing at fault and says what is wrong, so that the command-line
interface can print it as it is and exit with status 2.
"""

from __future__ import annotations

import os


class StylelibError(Exception):
    """Base class for every error that stylelib reports to a user."""


class ImageError(StylelibError, ValueError):
    """An image file that cannot be read, is unsafe to decode or is unusable."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"{where}{problem}")


class DataError(StylelibError, FileNotFoundError):
    """A named image set that is missing or incomplete."""


class WeightsError(StylelibError, RuntimeError):
    """A weights file that is missing, corrupt or does not match its registry entry."""


class OutputError(StylelibError, OSError):
    """An output path that cannot be written."""


class ParamsError(StylelibError, ValueError):
    """A notebook parameter file that is missing, unreadable or does not fit its notebook."""
