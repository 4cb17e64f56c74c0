"""The one error type of the converter."""

from __future__ import annotations


class ConvertError(ValueError):
    """A model folder that cannot be converted: a malformed file, a missing shard or field, an unknown architecture.
    The message says which file and what is wrong; `llamacore convert` prints it and exits with status 2."""
