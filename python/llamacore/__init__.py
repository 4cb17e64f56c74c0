"""llamacore: run GGUF language models locally from Python.

from llamacore import Llama
llm = Llama("smollm2-135m-instruct")
llm.create_chat_completion([{"role": "user", "content": "Hi!"}])
"""

from . import _core
from .errors import ChecksumError, GGUFError, LlamacoreError, ModelNotFoundError
from .llama import Llama
from .tokenizer import StreamingDetokenizer, Tokenizer

__version__ = getattr(_core, "__version__", "0.0.0")


def __getattr__(name: str):
    # LlamaGrammar (llama-cpp-python's name) is imported on first use: the constraint engine behind it (llguidance)
    # costs import time that plain generation does not need.
    if name == "LlamaGrammar":
        from .sampling.grammar import LlamaGrammar

        return LlamaGrammar
    raise AttributeError(f"module 'llamacore' has no attribute {name!r}")


def system_info() -> str:
    """One line naming the CPU kernel levels compiled and the one selected, CPU features and GPU backends."""
    return f"llamacore {__version__} | " + _core.system_info()


__all__ = [
    "ChecksumError",
    "GGUFError",
    "Llama",
    "LlamaGrammar",
    "LlamacoreError",
    "ModelNotFoundError",
    "StreamingDetokenizer",
    "Tokenizer",
    "system_info",
    "__version__",
]
