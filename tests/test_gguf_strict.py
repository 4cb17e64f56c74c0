"""Malformed GGUF files: each one raises GGUFError naming the field and the byte offset; never a crash, a hang or
an allocation bigger than the file. Files are built byte by byte here so that every field can be made wrong; a
sweep over every truncation and byte flip of a small file, and a hypothesis fuzz over a real model's header, check
that nothing else ever comes out."""

from __future__ import annotations

import os
import re
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from llamacore import GGUFError
from llamacore.gguf import GGMLType, GGUFFile, GGUFValueType, GGUFWriter

V = GGUFValueType
U32 = struct.Struct("<I").pack
U64 = struct.Struct("<Q").pack


# ---- a byte-level builder: every field can be given any value ----
def s(text: str | bytes) -> bytes:
    b = text.encode() if isinstance(text, str) else text
    return U64(len(b)) + b


def kv(key: str | bytes, vtype: int, payload: bytes) -> bytes:
    return s(key) + U32(vtype) + payload


def kv_u32(key: str, v: int) -> bytes:
    return kv(key, V.UINT32, U32(v))


def kv_str(key: str, v: str | bytes) -> bytes:
    return kv(key, V.STRING, s(v))


def arr(etype: int, count: int, items: bytes = b"") -> bytes:
    return U32(etype) + U64(count) + items


def info(name: str | bytes, dims, ttype: int = GGMLType.F32, offset: int = 0, n_dims: int | None = None) -> bytes:
    n = len(dims) if n_dims is None else n_dims
    return s(name) + U32(n) + b"".join(U64(d) for d in dims) + U32(ttype) + U64(offset)


def build(kvs=(), infos=(), data: bytes = b"", *, magic=b"GGUF", version=3, n_kv=None, n_tensors=None, align=32):
    out = magic + U32(version) + U64(len(infos) if n_tensors is None else n_tensors)
    out += U64(len(kvs) if n_kv is None else n_kv) + b"".join(kvs) + b"".join(infos)
    if infos:
        out += b"\0" * (-len(out) % align) + data
    return out


F32x8 = np.arange(8, dtype=np.float32).tobytes()  # 32 bytes
F32x4 = np.arange(4, dtype=np.float32).tobytes()  # 16 bytes
ARCH = kv_str("general.architecture", "test")
GOOD_INFOS = [info("a", [8]), info("b", [4], offset=32)]
GOOD_DATA = F32x8 + F32x4


def write(tmp_path: Path, blob: bytes, name: str = "m.gguf") -> Path:
    p = tmp_path / name
    p.write_bytes(blob)
    return p


def expect_error(tmp_path: Path, blob: bytes, pattern: str, offset: int | None = None) -> str:
    with pytest.raises(GGUFError) as e:
        GGUFFile(write(tmp_path, blob))
    msg = str(e.value)
    assert re.search(pattern, msg), msg
    m = re.search(r"at byte offset (\d+)", msg)
    assert m, f"no byte offset in: {msg}"
    if offset is not None:
        assert int(m.group(1)) == offset, msg
    return msg


def test_the_builder_makes_valid_files(tmp_path):
    with GGUFFile(write(tmp_path, build([ARCH], GOOD_INFOS, GOOD_DATA))) as f:
        assert f.metadata == {"general.architecture": "test"}
        assert f.tensors["b"].as_array().tolist() == [0, 1, 2, 3]


# ---- header ----
@pytest.mark.parametrize(
    "blob, pattern, offset",
    [
        (b"", r"magic.*empty", 0),
        (b"GG", r"magic.*too short", 0),
        (build(magic=b"GGML"), r"magic.*expected b'GGUF'", 0),
        (build(magic=b"tjgg"), r"magic.*GGJT", 0),
        (build(version=0), r"version.*unsupported GGUF version 0", 4),
        (build(version=1), r"version.*unsupported GGUF version 1 .*v1 .* is obsolete", 4),
        (b"GGUF" + U32(1) + U32(0) + U32(0), r"version.*unsupported GGUF version 1", 4),  # a real v1 header
        (build(version=0x02000000), r"version.*looks big-endian", 4),
        (build(version=4), r"version.*unsupported GGUF version 4", 4),
        (build(version=0x03000000), r"version.*big-endian", 4),
        (b"GGUF\x03\x00", r"version.*truncated", 4),
        (b"GGUF" + U32(3) + U64(0), r"key/value count.*truncated", 16),
        (build(n_kv=2**64 - 1), r"key/value count.*cannot fit", 16),
        (build([ARCH], n_kv=2**63), r"key/value count.*cannot fit", 16),
        (build(n_tensors=2**63 + 5), r"tensor count.*cannot fit", 8),
        (build([ARCH], n_tensors=1000), r"tensor count.*cannot fit", 8),
    ],
)
def test_bad_header(tmp_path, blob, pattern, offset):
    expect_error(tmp_path, blob, pattern, offset)


# ---- key/value pairs ----
KV0 = 24  # byte offset of the first key/value pair


@pytest.mark.parametrize(
    "pair, pattern, offset",
    [
        (U64(2**64 - 1) + b"key", r"key of metadata pair 0.*length", KV0),
        (U64(1000) + b"key", r"key of metadata pair 0.*length 1000 is larger", KV0),
        (kv(b"\xff\xfekey", V.UINT32, U32(1)), r"key of metadata pair 0.*not valid UTF-8", KV0 + 8),
        (kv(b"", V.UINT32, U32(1)), r"key of metadata pair 0.*empty name", KV0),
        (kv("k", 13, U32(1)), r"value type of 'k'.*unknown value type 13", KV0 + 9),
        (kv("k", 0xFFFFFFFF, U32(1)), r"value type of 'k'.*unknown value type 4294967295", KV0 + 9),
        (kv("k", V.UINT64, b"\1\2"), r"value of 'k'.*truncated", KV0 + 13),
        (kv("k", V.STRING, U64(2**64 - 1) + b"x"), r"value of 'k'.*length", KV0 + 13),
        (kv("k", V.STRING, U64(2**40) + b"x"), r"value of 'k'.*larger than", KV0 + 13),
        (kv("k", V.ARRAY, arr(13, 1)), r"array 'k' element type.*unknown value type 13", KV0 + 13),
        (kv("k", V.ARRAY, arr(V.UINT64, 2**61)), r"array 'k' count.*need at least", KV0 + 17),
        (kv("k", V.ARRAY, arr(V.UINT8, 2**64 - 1)), r"array 'k' count", KV0 + 17),
        (kv("k", V.ARRAY, arr(V.STRING, 2**62)), r"array 'k' count", KV0 + 17),
        (kv("k", V.ARRAY, arr(V.STRING, 2, s("a") + U64(99) + b"b")), r"array 'k'.*string 1 of 2.*length 99", None),
        (kv("k", V.ARRAY, arr(V.STRING, 2, s("a") + b"\1\2")), r"array 'k'.*string 1 of 2", None),
        (kv("k", V.ARRAY, arr(V.ARRAY, 2**60)), r"array 'k' count", KV0 + 17),
        (kv("k", V.ARRAY, arr(V.ARRAY, 1, arr(V.INT32, 1000, U32(1)))), r"array 'k\[0\]' count.*need", None),
    ],
)
def test_bad_key_value(tmp_path, pair, pattern, offset):
    # a second pair gives enough bytes to pass the count check; truncation cases end the file instead
    expect_error(tmp_path, build([pair] if "truncated" in pattern else [pair, ARCH]), pattern, offset)


def test_duplicate_key(tmp_path):
    expect_error(
        tmp_path, build([ARCH, kv_u32("x", 1), kv_u32("x", 2)]), r"key 'x'.*duplicate key", KV0 + len(ARCH) + 17
    )


def test_nested_arrays_read_up_to_a_depth(tmp_path):
    inner = arr(V.INT32, 2, U32(1) + U32(2))
    blob = build([kv("n", V.ARRAY, arr(V.ARRAY, 2, inner + arr(V.STRING, 1, s("x"))))])
    with GGUFFile(write(tmp_path, blob)) as f:
        assert f.metadata["n"][0].tolist() == [1, 2] and f.metadata["n"][1] == ["x"]
    deep = arr(V.INT32, 0)
    for _ in range(20):
        deep = arr(V.ARRAY, 1, deep)
    expect_error(tmp_path, build([kv("n", V.ARRAY, deep)]), r"nested deeper than 8")
    # a million levels: an error, not a RecursionError
    expect_error(tmp_path, build([kv("n", V.ARRAY, arr(V.ARRAY, 1) * 1_000_000)]), r"nested deeper")
    # a million empty inner arrays: refused (each would be a Python object ten times its size in the file)
    many = arr(V.ARRAY, 1 << 20, arr(V.INT32, 0) * (1 << 20))
    expect_error(tmp_path, build([kv("n", V.ARRAY, many)]), r"array 'n' count.*more than 65536 arrays", KV0 + 17)


def test_long_keys_are_shortened_in_messages(tmp_path):
    msg = expect_error(tmp_path, build([kv("k" * 1_000_000, 99, b"")]), r"value type of 'kkk+\.\.\.'")
    assert len(msg) < 1000


@pytest.mark.parametrize(
    "pair, pattern",
    [
        (kv_u32("general.alignment", 0), r"general.alignment.*0 is not a power of two"),
        (kv_u32("general.alignment", 3), r"general.alignment.*3 is not a power of two"),
        (kv_u32("general.alignment", 48), r"general.alignment.*48 is not a power of two"),
        (kv_u32("general.alignment", 1 << 31), r"general.alignment.*not a power of two between 1 and 1048576"),
        (kv("general.alignment", V.UINT64, U64(32)), r"general.alignment.*type UINT64, expected UINT32"),
        (kv_str("general.alignment", "32"), r"general.alignment.*type STRING, expected UINT32"),
    ],
)
def test_bad_alignment(tmp_path, pair, pattern):
    expect_error(tmp_path, build([pair], GOOD_INFOS, GOOD_DATA), pattern, KV0 + 8 + len("general.alignment") + 4)


def test_invalid_utf8_values_are_kept_not_fatal(tmp_path):
    """llama.cpp accepts any bytes in string values; so do we, losslessly (surrogateescape)."""
    blob = build([kv_str("s", b"a\xffb"), kv("t", V.ARRAY, arr(V.STRING, 2, s(b"\xc3") + s("ok")))])
    with GGUFFile(write(tmp_path, blob)) as f:
        assert f.metadata["s"].encode("utf-8", "surrogateescape") == b"a\xffb"
        assert f.metadata["t"][0].encode("utf-8", "surrogateescape") == b"\xc3" and f.metadata["t"][1] == "ok"


# ---- tensor infos ----
def T0(kvs=(ARCH,)) -> int:  # byte offset of the first tensor info
    return 24 + sum(len(k) for k in kvs)


@pytest.mark.parametrize(
    "infos, pattern, where",
    [
        ([info(b"", [8])], r"name of tensor 0.*empty name", 0),
        ([info(b"\xc3\x28", [8])], r"name of tensor 0.*not valid UTF-8", 8),
        ([info("x" * 64, [8])], r"name of tensor 0.*longer than 63 bytes", 0),
        ([info("a", [8]), info("a", [4], offset=32)], r"name of tensor 1.*duplicate tensor name 'a'", None),
        ([info("a", [1, 1, 1, 1, 8])], r"tensor 'a' n_dims.*5 dimensions", 9),
        ([info("a", [], n_dims=0)], r"tensor 'a' n_dims.*0 dimensions", 9),
        ([info("a", [8], n_dims=0xFFFFFFFF)], r"tensor 'a' n_dims.*4294967295 dimensions", 9),
        ([info("a", [8, 0])], r"tensor 'a' ne\[1\].*dimension 0 is not a positive", 21),
        ([info("a", [2**64 - 1])], r"tensor 'a' ne\[0\].*as int64: -1", 13),
        ([info("a", [2**63])], r"tensor 'a' ne\[0\].*not a positive int64", 13),
        ([info("a", [2**32, 2**32])], r"tensor 'a' shape.*overflows int64", 13),
        ([info("a", [2**31, 2**31, 2**31, 2**31])], r"tensor 'a' shape.*overflows", 13),
        ([info("a", [2**40])], r"tensor 'a' data.*do not fit", None),
        ([info("a", [2**20, 2**20])], r"tensor 'a' data.*do not fit", None),
        ([info("a", [8], ttype=4)], r"tensor 'a' type.*unknown GGML tensor type 4", 21),
        ([info("a", [8], ttype=31)], r"tensor 'a' type.*unknown GGML tensor type 31", 21),
        ([info("a", [8], ttype=42)], r"tensor 'a' type.*unknown GGML tensor type 42", 21),
        ([info("a", [8], ttype=0xFFFFFFFF)], r"tensor 'a' type.*unknown GGML tensor type", 21),
        ([info("a", [33, 1], ttype=GGMLType.Q4_0)], r"tensor 'a' ne\[0\].*33 is not a multiple of the Q4_0 block", 13),
        ([info("a", [128], ttype=GGMLType.Q4_K)], r"tensor 'a' ne\[0\].*not a multiple of the Q4_K block size 256", 13),
        (
            [info("a", [8]), info("b", [4], offset=36)],
            r"tensor 'b' offset.*36 is not a multiple of the alignment",
            None,
        ),
        ([info("a", [8]), info("b", [4], offset=2**64 - 32)], r"tensor 'b' offset.*outside the data section", None),
        ([info("a", [8]), info("b", [4], offset=4096)], r"tensor 'b' offset.*outside the data section", None),
        ([info("a", [8]), info("b", [4], offset=0)], r"tensor 'b' offset.*overlaps tensor 'a'", None),
        ([info("a", [16]), info("b", [4], offset=32)], r"tensor 'b' offset.*overlaps tensor 'a'", None),
        ([info("b", [4], offset=32), info("a", [16])], r"tensor 'b' offset.*overlaps tensor 'a'", None),
        ([info("a", [4]), info("b", [4], offset=64)], r"tensor 'b' offset.*gap of 32 bytes after tensor 'a'", None),
        (
            [info("a", [4], offset=32), info("b", [4], offset=64)],
            r"tensor 'a' offset.*gap of 32 bytes at the start",
            None,
        ),
    ],
)
def test_bad_tensor_info(tmp_path, infos, pattern, where):
    blob = build([ARCH], infos, GOOD_DATA + b"\0" * 64)  # room for every placement tried here
    expect_error(tmp_path, blob, pattern, None if where is None else T0() + where)


def test_padding_to_the_alignment_is_not_a_gap(tmp_path):
    one = np.float32(7).tobytes()
    blob = build([ARCH], [info("a", [1]), info("b", [1], offset=32)], one + b"\0" * 28 + one)
    with GGUFFile(write(tmp_path, blob)) as f:
        assert f.tensors["b"].as_array().tolist() == [7.0]
    # alignment 1 packs tensors with no padding at all
    blob = build([kv_u32("general.alignment", 1)], [info("a", [1]), info("b", [1], offset=4)], one + one, align=1)
    with GGUFFile(write(tmp_path, blob)) as f:
        assert f.tensors["b"].offset == f.tensors["a"].offset + 4


def test_tensors_need_not_be_in_offset_order(tmp_path):
    """llama.cpp wants the data in tensor-info order; we only ask that the data leave no gap or overlap."""
    blob = build([ARCH], [info("b", [4], offset=32), info("a", [8], offset=0)], GOOD_DATA)
    with GGUFFile(write(tmp_path, blob)) as f:
        assert f.tensors["a"].as_array().tolist() == list(range(8))


def test_data_truncated_by_one_byte(tmp_path):
    blob = build([ARCH], GOOD_INFOS, GOOD_DATA)
    msg = expect_error(tmp_path, blob[:-1], r"tensor 'b' data.*do not fit.*truncated")
    assert f"at byte offset {len(blob) - 16}" in msg  # the start of b's data


def test_data_section_after_end_of_file(tmp_path):
    blob = b"GGUF" + U32(3) + U64(2) + U64(1) + ARCH + b"".join(GOOD_INFOS)  # no padding, no data
    blob += b"\0" * (len(blob) % 32 == 0)
    expect_error(tmp_path, blob, r"data section.*starts after the end of the file", len(blob) + (-len(blob) % 32))


def test_empty_and_trailing_bytes_are_fine(tmp_path):
    with GGUFFile(write(tmp_path, build())) as f:
        assert f.metadata == {} and f.tensors == {}
    with GGUFFile(write(tmp_path, build([ARCH], GOOD_INFOS, GOOD_DATA + b"trailing junk"))) as f:
        assert len(f.tensors) == 2


# ---- found by the adversarial audit ----
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
def test_a_fifo_is_refused_not_waited_on(tmp_path):
    import threading

    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    result: list[BaseException] = []

    def open_it():
        try:
            GGUFFile(fifo)
        except BaseException as e:
            result.append(e)

    t = threading.Thread(target=open_it, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():  # unblock the stuck open() so the thread can end, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("GGUFFile waited for a writer on a FIFO")
    assert isinstance(result[0], GGUFError), result
    assert re.search(r"pipe.gguf: magic at byte offset 0: not a regular file \(a FIFO\)", str(result[0]))


def test_a_directory_is_refused(tmp_path):
    (tmp_path / "dir.gguf").mkdir()
    with pytest.raises(GGUFError, match=r"dir.gguf: magic at byte offset 0: not a regular file \(a directory\)"):
        GGUFFile(tmp_path / "dir.gguf")
    with pytest.raises(FileNotFoundError):  # OS errors stay OS errors
        GGUFFile(tmp_path / "missing.gguf")


def test_nul_bytes_in_names_are_refused(tmp_path):
    """ggml keeps names as C strings: 'a\\0x' would be read as 'a' (and could collide with another 'a')."""
    expect_error(tmp_path, build([kv_u32("a\0b", 1)]), r"key of metadata pair 0 at byte offset 24: .*NUL byte")
    blob = build([ARCH], [info("a\0", [8]), info("a", [4], offset=32)], GOOD_DATA)
    expect_error(tmp_path, blob, r"name of tensor 0 at byte offset \d+: .*NUL byte", T0())


def test_messages_are_one_line_whatever_the_names(tmp_path):
    msg = expect_error(tmp_path, build([ARCH, kv_u32("a\nb\r", 1), kv_u32("a\nb\r", 1)]), r"duplicate key")
    assert "\n" not in msg and "\r" not in msg and r"'a\nb\r'" in msg
    msg = expect_error(tmp_path, build([ARCH], [info("x\ny", [8], ttype=99)]), r"unknown GGML tensor type")
    assert "\n" not in msg
    odd = tmp_path / "line\nbreak.gguf"
    odd.write_bytes(b"GGML")
    with pytest.raises(GGUFError) as e:
        GGUFFile(odd)
    assert "\n" not in str(e.value) and "line\\nbreak.gguf" in str(e.value)


def test_nested_arrays_are_bounded_per_file_not_per_key(tmp_path):
    """65536 empty inner arrays per key, repeated over many keys, would still cost ~10x the file in objects."""
    pair = lambda k: kv(k, V.ARRAY, arr(V.ARRAY, 40_000, arr(V.INT32, 0) * 40_000))  # noqa: E731
    msg = expect_error(tmp_path, build([pair("a"), pair("b")]), r"array 'b' count.*more than 65536 arrays")
    assert "in the file" in msg


# ---- sweeps over a small file holding every value type ----
def _small_file(tmp_path: Path) -> bytes:
    w = GGUFWriter(tmp_path / "seed.gguf", alignment=64)
    w.add("general.architecture", "llama")
    w.add("u8", 1, V.UINT8)
    w.add("i16", -2, V.INT16)
    w.add("f64", 1.5, V.FLOAT64)
    w.add("b", True)
    w.add("u64", 2**40, V.UINT64)
    w.add("tokens", ["<s>", "</s>", "héllo", ""])
    w.add("scores", np.array([0.0, -1.0, -2.0, -3.0], np.float32))
    w.add("nested", [[1, 2], ["x"]])
    w.add_tensor("norm", np.ones(32, np.float32))
    w.add_tensor("q", np.zeros(2 * 18, np.uint8), type=GGMLType.Q4_0, shape=(32, 2))
    w.add_tensor("last", np.ones((2, 3), np.float16))
    return w.write().read_bytes()


def _open_cleanly(path: Path) -> bool:
    """Open a possibly malformed file: True if accepted (and then every tensor's bytes lie inside the file),
    False on GGUFError; anything else propagates and fails the test."""
    try:
        f = GGUFFile(path)
    except GGUFError as e:
        assert "byte offset" in str(e), str(e)
        return False
    with f:
        size = path.stat().st_size
        for t in f.tensors.values():
            assert 0 <= t.offset and t.offset + t.nbytes <= size and t.nbytes > 0
            d = t.data
            _ = int(d[0]) + int(d[-1])
        for v in f.metadata.values():
            repr(v)
    return True


def test_every_truncation_is_an_error(tmp_path):
    blob = _small_file(tmp_path)
    with GGUFFile(tmp_path / "seed.gguf") as f:
        t = f.tensors["last"]
        data_end = t.offset + t.nbytes
    for n in range(data_end):
        assert not _open_cleanly(write(tmp_path, blob[:n])), f"a {n}-byte prefix was accepted"
    assert _open_cleanly(write(tmp_path, blob[:data_end]))  # the padding after the last tensor is optional


def test_every_byte_flip_is_clean(tmp_path):
    blob = _small_file(tmp_path)
    header_end = GGUFFile(tmp_path / "seed.gguf").data_offset
    tracemalloc.start()
    try:
        for pos in range(header_end):
            for value in (0x00, blob[pos] ^ 0xFF):
                mutated = blob[:pos] + bytes([value]) + blob[pos + 1 :]
                _open_cleanly(write(tmp_path, mutated))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"opening mutations of a {len(blob)}-byte file allocated {peak} bytes"


# ---- fuzz: hypothesis mutates a small file and the real SmolLM2 header ----
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_EXAMPLES = int(os.environ.get("LLAMACORE_FUZZ_EXAMPLES", "0")) or None
INTERESTING_U64 = [0, 1, 2, 31, 32, 33, 255, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**62, 2**63 - 1, 2**63, 2**64 - 1]


def _mutations(size: int, hot: list[tuple[int, int]]):
    """A list of edits on a file of `size` bytes; positions favour the `hot` (structural) ranges."""
    pos = st.one_of([st.integers(a, max(a, b - 1)) for a, b in hot] + [st.integers(0, size - 1)])
    edit = st.one_of(
        st.tuples(st.just("byte"), pos, st.integers(0, 255)),
        st.tuples(st.just("u32"), pos, st.sampled_from([v for v in INTERESTING_U64 if v < 2**32])),
        st.tuples(st.just("u64"), pos, st.sampled_from(INTERESTING_U64)),
        st.tuples(st.just("cut"), pos, st.just(0)),
        st.tuples(st.just("delete"), pos, st.integers(1, 16)),
        st.tuples(st.just("insert"), pos, st.integers(1, 16)),
    )
    return st.lists(edit, min_size=1, max_size=4)


def _apply(blob: bytes, edits) -> bytes:
    b = bytearray(blob)
    for kind, pos, v in edits:
        pos = min(pos, max(len(b) - 1, 0))
        if kind == "byte":
            b[pos : pos + 1] = bytes([v])
        elif kind == "u32":
            b[pos : pos + 4] = U32(v)
        elif kind == "u64":
            b[pos : pos + 8] = U64(v)
        elif kind == "cut":
            del b[pos:]
        elif kind == "delete":
            del b[pos : pos + v]
        else:
            b[pos:pos] = os.urandom(v) if _EXAMPLES else bytes(range(v))
    return bytes(b)


_FUZZ = dict(
    deadline=None,
    database=None,
    derandomize=_EXAMPLES is None,  # CI: a fixed, bounded run; LLAMACORE_FUZZ_EXAMPLES=N: a longer random one
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_fuzz_small_file(tmp_path):
    blob = _small_file(tmp_path)
    header_end = GGUFFile(tmp_path / "seed.gguf").data_offset

    @settings(max_examples=_EXAMPLES or 400, **_FUZZ)
    @given(_mutations(len(blob), [(0, 24), (24, header_end)]))
    def run(edits):
        _open_cleanly(write(tmp_path, _apply(blob, edits), "fuzz.gguf"))

    run()


def test_fuzz_real_header(tmp_path, smollm2_path):
    """Mutations of SmolLM2's real 1.8 MB header (49k tokens, 49k merges, 272 tensor infos). The mutated header is
    followed by a sparse stretch of zeros as long as the real tensor data, so valid headers still open."""
    with GGUFFile(smollm2_path) as f:
        data_offset, size = f.data_offset, f.file_size
    with open(smollm2_path, "rb") as fh:
        header = fh.read(data_offset)
    kv_end = header.find(b"token_embd.weight") - 8  # where the tensor infos start
    hot = [(0, 24), (24, 2048), (kv_end - 4096, kv_end), (kv_end, data_offset)]

    @settings(max_examples=_EXAMPLES or 60, **_FUZZ)
    @given(_mutations(len(header), hot))
    def run(edits):
        mutated = _apply(header, edits)
        path = tmp_path / "fuzz.gguf"
        with open(path, "wb") as out:
            out.write(mutated)
            out.truncate(len(mutated) + size - data_offset)  # sparse: no disk used
        _open_cleanly(path)

    run()
