"""Typed errors raised by llamacore. Every bad input ends in one of these, never a crash."""


class LlamacoreError(Exception):
    """Base class of llamacore's own errors."""


class GGUFError(LlamacoreError, ValueError):
    """A GGUF file is malformed or unsupported; the message names the field and the byte offset."""


class ModelNotFoundError(LlamacoreError, FileNotFoundError):
    """A model name or path could not be resolved to a GGUF file."""


class ChecksumError(LlamacoreError, ValueError):
    """A downloaded file does not have the expected sha256."""
