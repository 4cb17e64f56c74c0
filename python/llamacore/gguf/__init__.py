"""GGUF files: a strict, fast reader and a writer.

    from llamacore.gguf import GGUFFile
    with GGUFFile("model.gguf") as f:
        f.metadata["general.architecture"]          # 'llama'
        t = f.tensors["token_embd.weight"]
        t.shape, t.type, t.nbytes                   # (576, 49152), GGMLType.Q8_0, 30081024  (shape: ne[0] first)
        t.data                                      # uint8 numpy view of the bytes, zero-copy over a read-only mmap

Types of `GGUFFile.metadata` values:
    integers (all widths) -> int        FLOAT32, FLOAT64 -> float        BOOL -> bool
    STRING -> str (UTF-8; bytes that are not valid UTF-8 are kept losslessly as surrogate escapes, as llama.cpp
              tolerates them: `s.encode("utf-8", "surrogateescape")` gives the original bytes back)
    array of a numeric or bool type -> 1-D numpy array (its own copy, dtype of the element type, e.g. int32, float32,
              bool), whatever its length: tokenizer.ggml.scores is float32[n_vocab], token_type int32[n_vocab]
    array of STRING -> list[str] (tokenizer.ggml.tokens, tokenizer.ggml.merges: real lists, parsed in C++)
    array of arrays -> list of the above (up to 8 levels and 65536 inner arrays in the file; more is a GGUFError)
`GGUFFile.metadata_types[key]` keeps the stored type (GGUFValueType, or (ARRAY, element type)) so a file can be
rewritten with the same types.

GGUFWriter writes files that GGUFFile, the `gguf` package and llama.cpp read (see llamacore.gguf.writer).

Keys and tensor names must be non-empty valid UTF-8 without NUL bytes (tensor names at most 63 bytes, ggml's
limit). Any malformed file, or a path that is not a regular file (a directory, a FIFO, a device), raises
llamacore.GGUFError (a ValueError) naming the field and its byte offset, in one line (control characters of names
and paths are escaped). A missing or unreadable path raises the usual OSError (FileNotFoundError, PermissionError).
"""

from .constants import (
    GGML_BLOCK_SIZES,
    GGUF_DEFAULT_ALIGNMENT,
    GGMLType,
    GGUFValueType,
    block_info,
    tensor_nbytes,
)
from .reader import GGUFFile, GGUFTensor
from .writer import GGUFWriter

__all__ = [
    "GGML_BLOCK_SIZES",
    "GGUF_DEFAULT_ALIGNMENT",
    "GGMLType",
    "GGUFFile",
    "GGUFTensor",
    "GGUFValueType",
    "GGUFWriter",
    "block_info",
    "tensor_nbytes",
]
