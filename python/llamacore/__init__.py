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


def system_info() -> str:
    """One line naming the CPU kernel levels compiled and the one selected, CPU features and GPU backends."""
    return f"llamacore {__version__} | " + _core.system_info()


__all__ = [
    "ChecksumError",
    "GGUFError",
    "Llama",
    "LlamacoreError",
    "ModelNotFoundError",
    "StreamingDetokenizer",
    "Tokenizer",
    "system_info",
    "__version__",
]
