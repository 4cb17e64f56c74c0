"""Text <-> token ids exactly as llama.cpp computes them, from a GGUF file's tokenizer metadata.

from llamacore.tokenizer import Tokenizer
tok = Tokenizer.from_gguf("model.gguf")
ids = tok.tokenize(b"Hello world")          # llama-cpp-python's Llama.tokenize
tok.detokenize(ids)                         # b"Hello world"
"""

from .streaming import StreamingDetokenizer
from .tokenizer import Tokenizer

__all__ = ["StreamingDetokenizer", "Tokenizer"]
