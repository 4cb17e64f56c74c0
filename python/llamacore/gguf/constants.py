"""GGUF constants: value types, GGML tensor types with their block geometry, and the reader's hard limits."""

from __future__ import annotations

from enum import IntEnum

GGUF_MAGIC = b"GGUF"
GGUF_VERSIONS = (2, 3)  # v1 used 32-bit counts and is long gone from the Hub; llama.cpp refuses it too
GGUF_DEFAULT_ALIGNMENT = 32
MAX_ALIGNMENT = 1 << 20  # general.alignment must be a power of two <= 1 MiB
MAX_DIMS = 4  # ggml's GGML_MAX_DIMS
MAX_NAME_BYTES = 63  # ggml's GGML_MAX_NAME is 64 including the terminating NUL
MAX_ARRAY_NESTING = 8  # arrays of arrays are read up to this depth; deeper is an error, never a recursion crash
MAX_NESTED_ARRAYS = 1 << 16  # arrays inside array values, in all the file (llama.cpp reads no nested arrays at all)


class GGUFValueType(IntEnum):
    """Type tag of a metadata value (GGUF spec: gguf_metadata_value_type)."""

    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


# Fixed-size value types: struct format character and numpy dtype (little-endian, as GGUF stores them).
SCALAR_FORMATS: dict[GGUFValueType, tuple[str, str]] = {
    GGUFValueType.UINT8: ("B", "<u1"),
    GGUFValueType.INT8: ("b", "<i1"),
    GGUFValueType.UINT16: ("H", "<u2"),
    GGUFValueType.INT16: ("h", "<i2"),
    GGUFValueType.UINT32: ("I", "<u4"),
    GGUFValueType.INT32: ("i", "<i4"),
    GGUFValueType.FLOAT32: ("f", "<f4"),
    GGUFValueType.BOOL: ("B", "<u1"),  # one byte; read as bool(byte) like llama.cpp
    GGUFValueType.UINT64: ("Q", "<u8"),
    GGUFValueType.INT64: ("q", "<i8"),
    GGUFValueType.FLOAT64: ("d", "<f8"),
}


class GGMLType(IntEnum):
    """Tensor element type: ggml's ggml_type ids (what GGUF files store). Ids ggml removed are absent."""

    F32 = 0
    F16 = 1
    Q4_0 = 2
    Q4_1 = 3
    Q5_0 = 6
    Q5_1 = 7
    Q8_0 = 8
    Q8_1 = 9
    Q2_K = 10
    Q3_K = 11
    Q4_K = 12
    Q5_K = 13
    Q6_K = 14
    Q8_K = 15
    IQ2_XXS = 16
    IQ2_XS = 17
    IQ3_XXS = 18
    IQ1_S = 19
    IQ4_NL = 20
    IQ3_S = 21
    IQ2_S = 22
    IQ4_XS = 23
    I8 = 24
    I16 = 25
    I32 = 26
    I64 = 27
    F64 = 28
    IQ1_M = 29
    BF16 = 30
    TQ1_0 = 34
    TQ2_0 = 35
    MXFP4 = 39
    NVFP4 = 40
    Q1_0 = 41

    @property
    def block_size(self) -> int:
        """Elements per block (1 for plain types)."""
        return GGML_BLOCK_SIZES[self][0]

    @property
    def type_size(self) -> int:
        """Bytes per block."""
        return GGML_BLOCK_SIZES[self][1]


# type -> (elements per block, bytes per block); the sizes of ggml's block structs.
GGML_BLOCK_SIZES: dict[GGMLType, tuple[int, int]] = {
    GGMLType.F32: (1, 4),
    GGMLType.F16: (1, 2),
    GGMLType.Q4_0: (32, 2 + 16),
    GGMLType.Q4_1: (32, 2 + 2 + 16),
    GGMLType.Q5_0: (32, 2 + 4 + 16),
    GGMLType.Q5_1: (32, 2 + 2 + 4 + 16),
    GGMLType.Q8_0: (32, 2 + 32),
    GGMLType.Q8_1: (32, 2 + 2 + 32),  # ggml's block_q8_1 (gguf-py's table says 40, a leftover of f32 d and s)
    GGMLType.Q2_K: (256, 2 + 2 + 256 // 16 + 256 // 4),
    GGMLType.Q3_K: (256, 2 + 256 // 4 + 256 // 8 + 12),
    GGMLType.Q4_K: (256, 2 + 2 + 12 + 256 // 2),
    GGMLType.Q5_K: (256, 2 + 2 + 12 + 256 // 8 + 256 // 2),
    GGMLType.Q6_K: (256, 2 + 256 // 16 + 3 * 256 // 4),
    GGMLType.Q8_K: (256, 4 + 256 + 256 // 16 * 2),
    GGMLType.IQ2_XXS: (256, 2 + 256 // 4),
    GGMLType.IQ2_XS: (256, 2 + 256 // 4 + 256 // 32),
    GGMLType.IQ3_XXS: (256, 2 + 256 // 4 + 256 // 8),
    GGMLType.IQ1_S: (256, 2 + 256 // 8 + 256 // 16),
    GGMLType.IQ4_NL: (32, 2 + 16),
    GGMLType.IQ3_S: (256, 2 + 256 // 4 + 256 // 8 + 256 // 32 + 4),
    GGMLType.IQ2_S: (256, 2 + 256 // 4 + 256 // 16),
    GGMLType.IQ4_XS: (256, 2 + 2 + 256 // 64 + 256 // 2),
    GGMLType.I8: (1, 1),
    GGMLType.I16: (1, 2),
    GGMLType.I32: (1, 4),
    GGMLType.I64: (1, 8),
    GGMLType.F64: (1, 8),
    GGMLType.IQ1_M: (256, 256 // 8 + 256 // 16 + 256 // 32),
    GGMLType.BF16: (1, 2),
    GGMLType.TQ1_0: (256, 2 + (256 - 4 * 256 // 64) // 5 + 256 // 64),
    GGMLType.TQ2_0: (256, 2 + 256 // 4),
    GGMLType.MXFP4: (32, 1 + 16),
    GGMLType.NVFP4: (64, 36),  # newest ggml types: sizes as ggml and the gguf package define them
    GGMLType.Q1_0: (128, 18),
}


def block_info(ggml_type: int) -> tuple[int, int]:
    """(elements per block, bytes per block) of a GGML type id; ValueError for an unknown id."""
    return GGML_BLOCK_SIZES[GGMLType(ggml_type)]


def tensor_nbytes(ggml_type: int, shape: tuple[int, ...] | list[int]) -> int:
    """Bytes of a tensor of this type and GGUF shape (ne[0] first); ne[0] must be a multiple of the block size."""
    block, size = block_info(ggml_type)
    n = 1
    for d in shape:
        n *= int(d)
    if shape and int(shape[0]) % block:
        raise ValueError(f"ne[0] = {shape[0]} is not a multiple of the {GGMLType(ggml_type).name} block size {block}")
    return n // block * size
