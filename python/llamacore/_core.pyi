"""Type stubs of the compiled module llamacore._core (kept in step with csrc/bindings)."""

__version__: str

def system_info() -> str: ...
def cpu_level() -> str: ...
def cpu_levels_supported() -> list[str]: ...
def set_cpu_level(level: str) -> None: ...
def physical_core_count() -> int: ...

# --- quants ---
import numpy as _np  # noqa: E402

def quants_dequantize(data: _np.ndarray | bytes | memoryview, type_id: int, n: int) -> _np.ndarray: ...
def quants_quantize(x: _np.ndarray, type_id: int) -> _np.ndarray: ...
def quants_supported(type_id: int) -> bool: ...
def quants_type_traits(type_id: int) -> tuple[str, int, int] | None: ...

# --- kernels ---
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

def ops_set_threads(n_threads: int) -> None: ...
def ops_act_type(wtype: int) -> int: ...
def ops_act_row_bytes(wtype: int, k: int) -> int: ...
def ops_matmul_supported(wtype: int) -> bool: ...
def ops_quantize_act(wtype: int, x: npt.ArrayLike) -> npt.NDArray[np.uint8]: ...
def ops_matmul(
    w: npt.NDArray[np.uint8], wtype: int, k: int, x: npt.ArrayLike, n_threads: int = 0
) -> npt.NDArray[np.float32]: ...
def ops_matmul_bench(
    w: npt.NDArray[np.uint8], wtype: int, k: int, x: npt.ArrayLike, n_threads: int = 0, iters: int = 10
) -> float: ...
def ops_get_rows(
    table: npt.NDArray[np.uint8], type: int, n_cols: int, ids: npt.ArrayLike
) -> npt.NDArray[np.float32]: ...
def ops_rms_norm(x: npt.ArrayLike, eps: float, weight: npt.ArrayLike | None = None) -> npt.NDArray[np.float32]: ...
def ops_layer_norm(
    x: npt.ArrayLike, eps: float, weight: npt.ArrayLike | None = None, bias: npt.ArrayLike | None = None
) -> npt.NDArray[np.float32]: ...
def ops_rope(
    x: npt.ArrayLike,
    pos: npt.ArrayLike,
    n_dims: int,
    mode: int = 0,
    freq_base: float = 10000.0,
    freq_scale: float = 1.0,
    ext_factor: float = 0.0,
    attn_factor: float = 1.0,
    beta_fast: float = 32.0,
    beta_slow: float = 1.0,
    n_ctx_orig: int = 0,
    freq_factors: npt.ArrayLike | None = None,
) -> npt.NDArray[np.float32]: ...
def ops_softmax(
    x: npt.ArrayLike, scale: float = 1.0, mask: npt.ArrayLike | None = None, causal_offset: int = -1
) -> npt.NDArray[np.float32]: ...
def ops_attention(
    q: npt.ArrayLike,
    k: npt.NDArray,
    k_type: int,
    v: npt.NDArray,
    v_type: int,
    q_pos: npt.ArrayLike | None = None,
    kv_pos: npt.ArrayLike | None = None,
    scale: float = 1.0,
    softcap: float = 0.0,
    sliding_window: int = 0,
    mask: npt.ArrayLike | None = None,
    n_head_kv: int = 1,
    head_dim_v: int = 0,
    n_threads: int = 0,
) -> npt.NDArray[np.float32]: ...
def ops_unary(op: int, x: npt.ArrayLike) -> npt.NDArray[np.float32]: ...
def ops_glu(op: int, gate: npt.ArrayLike, up: npt.ArrayLike) -> npt.NDArray[np.float32]: ...
def ops_binary(op: str, a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float32]: ...
def ops_scale(x: npt.ArrayLike, s: float, bias: float = 0.0) -> npt.NDArray[np.float32]: ...
def ops_copy_rows(
    x: npt.ArrayLike, type: int, rows: npt.ArrayLike | None = None, n_dst_rows: int = 0
) -> npt.NDArray[np.uint8]: ...
def ops_read_bandwidth(bytes: int, n_threads: int = 0, iters: int = 5) -> float: ...
def threadpool_selftest(n_threads: int, n_runs: int, n_barriers: int) -> int: ...

# --- gguf ---
def gguf_read_strings(buffer: object, offset: int, count: int) -> tuple[list[str], int]:
    """Parse `count` GGUF strings (u64 length + UTF-8, surrogateescape) at `offset` of a buffer; returns the strings
    and the offset after the last one. ValueError (naming the string and its byte offset) if the buffer is short."""
    ...

# --- tokenizer ---

class Tokenizer:
    """llama.cpp's tokenizer built from GGUF tokenizer.* metadata (wrapped by llamacore.tokenizer.Tokenizer)."""

    def __init__(self, metadata: dict) -> None: ...
    def tokenize(self, text: bytes, add_special: bool, parse_special: bool) -> list[int]: ...
    def tokenize_array(self, text: bytes, add_special: bool, parse_special: bool) -> object: ...  # int32 ndarray
    def token_to_piece(self, token: int, special: bool) -> bytes: ...
    def detokenize(self, tokens: object, special: bool) -> bytes: ...  # int32 array-like
    def detokenize_native(self, tokens: object, remove_special: bool, unparse_special: bool) -> bytes: ...
    def n_vocab(self) -> int: ...
    def token_text(self, token: int) -> bytes: ...
    def token_score(self, token: int) -> float: ...
    def token_attr(self, token: int) -> int: ...
    def is_eog(self, token: int) -> bool: ...
    def eog_tokens(self) -> list[int]: ...
    def special_id(self, name: str) -> int: ...
    def flags(self) -> dict[str, bool | str]: ...
    @staticmethod
    def supported_models() -> list[str]: ...
    @staticmethod
    def supported_pre_tokenizers() -> list[str]: ...

# --- enums and tables shared with C++ (bind_enums.cpp) ---
import enum as _enum  # noqa: E402

class DType(_enum.IntEnum):
    """GGML tensor types (ggml_type ids): F32, F16, Q4_0, ... one member per row of the format table."""

    F32 = 0
    F16 = 1
    Q8_0 = 8
    BF16 = 30
    def __init__(self, value: int) -> None: ...

class Op(_enum.IntEnum):
    get_rows = 0
    matmul = 1
    rms_norm = 2
    rope = 3
    attention = 4
    add = 5
    mul = 6
    scale = 7
    glu = 8
    unary = 9
    softcap = 10
    select_rows = 11
    layer_norm = 12

class Rows(_enum.IntEnum):
    fixed = 0
    tokens = 1
    outputs = 2

class TensorKind(_enum.IntEnum):
    intermediate = 0
    weight = 1
    input = 2
    output = 3
    view = 4

class Input(_enum.IntEnum):
    tokens = 0
    positions = 1

class Unary(_enum.IntEnum):
    silu = 0
    gelu = 1
    gelu_erf = 2
    relu = 3
    tanh = 4
    neg = 5
    sqr = 6
    sqrt = 7
    exp = 8

class Glu(_enum.IntEnum):
    swiglu = 0
    geglu = 1
    geglu_erf = 2

class RopeMode(_enum.IntEnum):
    NORMAL = 0
    NEOX = 2

def op_info(op: Op) -> dict:
    """{name, inputs (a trailing '?': optional), params, shape, fusions, reads_kv}: the op table's row."""
    ...

def param_fields() -> dict[str, str]: ...
def dtype_traits() -> dict[str, dict]:
    """{name: {id, block_size, type_size, vec_dot_type, matmul, get_rows, copy_rows, kv}}: the format table."""
    ...

def graph_parse_node(node: dict) -> dict: ...

# --- runtime ---

class Program:
    """A planned model graph with its KV cache (built by llamacore.graph.Graph.compile)."""

    def __init__(
        self,
        tensors: list[dict],
        nodes: list[dict],
        max_tokens: int,
        n_ctx: int,
        n_seq: int,
        type_k: DType,
        type_v: DType,
        n_threads: int,
        fuse: bool = True,
    ) -> None: ...
    def run(self, tokens: object, positions: object, seq_ids: object | None, out_rows: object, logits: object) -> None:
        """Forward pass of one batch (int32 arrays; seq_ids None = all 0), GIL released; writes the logits of
        out_rows into logits[:len(out_rows)] (float32 [>= n_outputs, n_vocab])."""
        ...
    @property
    def n_vocab(self) -> int: ...
    @property
    def n_ctx_seq(self) -> int: ...
    @property
    def n_seq(self) -> int: ...
    def kv_clear(self, seq: int) -> None: ...
    def kv_truncate(self, seq: int, n_keep: int) -> None: ...
    def kv_copy(self, src: int, dst: int) -> None: ...
    def kv_n_past(self, seq: int) -> int: ...
    def kv_positions(self, seq: int) -> list[int]: ...
    def stats(self) -> dict[str, int]: ...
    def describe(self) -> str: ...
    def set_profiling(self, on: bool) -> None: ...
    def profile(self) -> list[float]: ...
