"""Strict, fast GGUF reader: one read-only mmap per file, zero-copy tensor views, every field bounds-checked.

Layout of a GGUF file (all little-endian):
    magic "GGUF" | version u32 | n_tensors u64 | n_kv u64
    n_kv x (key: string, type: u32, value)            string = u64 length + bytes; array = u32 type, u64 count, items
    n_tensors x (name: string, n_dims u32, ne[n_dims] u64, type u32, offset u64)
    padding to general.alignment (default 32) | data section: tensors at their offsets, each padded to the alignment

Nothing read from the file is trusted before it is checked against the bytes that are left, so a malformed file
ends in GGUFError (naming the field and its byte offset), never in a crash, a hang or an allocation bigger than the
file.
"""

from __future__ import annotations

import mmap
import os
import re
import stat
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GGUFError
from .constants import (
    GGML_BLOCK_SIZES,
    GGUF_DEFAULT_ALIGNMENT,
    GGUF_MAGIC,
    GGUF_VERSIONS,
    MAX_ALIGNMENT,
    MAX_ARRAY_NESTING,
    MAX_DIMS,
    MAX_NAME_BYTES,
    MAX_NESTED_ARRAYS,
    SCALAR_FORMATS,
    GGMLType,
    GGUFValueType,
)

try:  # the C++ string-array parser (about 10x faster on a 262k-token vocabulary); pure Python otherwise
    from .._core import gguf_read_strings as _read_strings_native
except ImportError:  # pragma: no cover - an old build of _core
    _read_strings_native = None

_INT64_MAX = (1 << 63) - 1
_VALUE_TYPES = frozenset(int(t) for t in GGUFValueType)
_GGML_TYPES = frozenset(int(t) for t in GGMLType)
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_SCALAR_STRUCTS = {t: struct.Struct("<" + fmt) for t, (fmt, _) in SCALAR_FORMATS.items()}
_SCALAR_SIZES = {t: s.size for t, s in _SCALAR_STRUCTS.items()}
# Smallest encodings, used to refuse counts that the rest of the file cannot possibly hold.
_MIN_KV_BYTES = 8 + 1 + 4 + 1  # key length, a 1-byte key, value type, a 1-byte value
_MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8  # name length, 1-byte name, n_dims, one dim, type, offset
_MIN_ELEMENT_BYTES = {GGUFValueType.STRING: 8, GGUFValueType.ARRAY: 12, **_SCALAR_SIZES}
# Plain tensor types that have a numpy dtype (BF16 has none: its raw uint16 bits are given).
_NUMPY_DTYPES = {
    GGMLType.F32: "<f4",
    GGMLType.F16: "<f2",
    GGMLType.F64: "<f8",
    GGMLType.BF16: "<u2",
    GGMLType.I8: "<i1",
    GGMLType.I16: "<i2",
    GGMLType.I32: "<i4",
    GGMLType.I64: "<i8",
}
_SPLIT_NAME = re.compile(r"^(?P<prefix>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")


def _align(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def _one_line(text: str) -> str:
    """Names and paths come from the file or the user: escape control characters (and lone surrogates) so that
    a message is always one printable line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _error(text: str) -> GGUFError:
    return GGUFError(_one_line(text))


class GGUFTensor:
    """One tensor of a GGUF file: name, shape in GGUF order (ne[0], the contiguous row length, first), GGML type,
    absolute byte offset in its file, size in bytes, and `.data`: a zero-copy read-only uint8 view of those bytes."""

    __slots__ = ("name", "shape", "type", "offset", "nbytes", "part", "_map")

    def __init__(self, name: str, shape: tuple[int, ...], type: GGMLType, offset: int, nbytes: int, part: int, mm):
        self.name = name
        self.shape = shape
        self.type = type
        self.offset = offset  # absolute offset in the file of part `part` (0 unless the model is split)
        self.nbytes = nbytes
        self.part = part
        self._map = mm

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def data(self) -> np.ndarray:
        """The tensor's raw bytes: uint8 array of length nbytes over the file's read-only mmap (no copy)."""
        if self._map is None or self._map.closed:
            raise ValueError(f"tensor '{self.name}': its GGUF file is closed")
        return np.frombuffer(self._map, dtype=np.uint8, count=self.nbytes, offset=self.offset)

    def as_array(self) -> np.ndarray:
        """A zero-copy view in numpy order (shape reversed: [..., ne[1], ne[0]]). Plain types get their dtype
        (BF16 as raw uint16 bits); block-quantized types give uint8 rows: [..., ne[1], bytes per row]."""
        rows = tuple(reversed(self.shape))  # numpy order: ne[0] last
        dtype = _NUMPY_DTYPES.get(self.type)
        if dtype is not None:
            return self.data.view(dtype).reshape(rows)
        block, size = GGML_BLOCK_SIZES[self.type]
        return self.data.reshape(rows[:-1] + (rows[-1] // block * size,))

    def __repr__(self) -> str:
        return f"GGUFTensor({self.name!r}, shape={self.shape}, type={self.type.name}, offset={self.offset})"


class _Part:
    """The parsed header of one file (one part of a split model)."""

    def __init__(self, path: Path):
        self.path = path
        self.version = 0
        self.metadata: dict[str, Any] = {}
        self.metadata_types: dict[str, GGUFValueType | tuple[GGUFValueType, GGUFValueType]] = {}
        self.infos: list[tuple[str, tuple[int, ...], GGMLType, int, int]] = []  # name, shape, type, offset, at
        self.alignment = GGUF_DEFAULT_ALIGNMENT
        self.data_offset = 0
        self.value_at: dict[str, int] = {}  # key -> byte offset of its value, for messages
        self.size = 0
        self.map: mmap.mmap | None = None


class _Parser:
    """Bounded reads over one mapped file. Every read checks the bytes left; every error names field and offset."""

    def __init__(self, part: _Part, buf, size: int):
        self.part = part
        self.buf = buf
        self.size = size
        self.pos = 0
        self.nested_left = MAX_NESTED_ARRAYS  # for the whole file: inner arrays cost ~10x their bytes as objects

    def fail(self, field: str, offset: int, problem: str):
        raise _error(f"{self.part.path}: {field} at byte offset {offset}: {problem}")

    def need(self, n: int, field: str, offset: int | None = None) -> None:
        if n > self.size - self.pos:
            left = self.size - self.pos
            self.fail(
                field,
                self.pos if offset is None else offset,
                f"truncated: needs {n} bytes but the file ends after {max(left, 0)} more (file size {self.size})",
            )

    def u32(self, field: str) -> int:
        self.need(4, field)
        (v,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return v

    def u64(self, field: str) -> int:
        self.need(8, field)
        (v,) = _U64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return v

    def raw_string(self, field: str) -> bytes:
        at = self.pos
        n = self.u64(f"{field} (length)")
        if n > self.size - self.pos:
            self.fail(field, at, f"length {n} is larger than the {self.size - self.pos} bytes left in the file")
        s = self.buf[self.pos : self.pos + n]
        self.pos += n
        return s

    def name(self, field: str) -> str:
        """A key or tensor name: non-empty, valid UTF-8 without NUL bytes (strict, unlike values: ggml and llama.cpp
        keep names as C strings, which would end at the NUL)."""
        at = self.pos
        raw = self.raw_string(field)
        if not raw:
            self.fail(field, at, "empty name")
        nul = raw.find(b"\0")
        if nul >= 0:
            self.fail(field, at, f"name holds a NUL byte at byte offset {at + 8 + nul} ({raw[:64]!r})")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            self.fail(field, at + 8 + e.start, f"not valid UTF-8 ({raw[:64]!r})")

    # ---- values ----
    def value(self, vtype: int, key: str, depth: int):
        if vtype == GGUFValueType.STRING:
            return self.raw_string(f"value of '{key}'").decode("utf-8", "surrogateescape")
        if vtype == GGUFValueType.ARRAY:
            return self.array(key, depth)
        st = _SCALAR_STRUCTS[vtype]
        self.need(st.size, f"value of '{key}'")
        (v,) = st.unpack_from(self.buf, self.pos)
        self.pos += st.size
        return bool(v) if vtype == GGUFValueType.BOOL else v

    def array(self, key: str, depth: int):
        field = f"array '{key}'"
        at = self.pos
        etype = self.u32(f"{field} element type")
        if etype not in _VALUE_TYPES:
            self.fail(f"{field} element type", at, f"unknown value type {etype}")
        etype = GGUFValueType(etype)
        count_at = self.pos
        count = self.u64(f"{field} count")
        need = count * _MIN_ELEMENT_BYTES[etype]
        if need > self.size - self.pos:
            self.fail(
                f"{field} count",
                count_at,
                f"{count} {etype.name} elements need at least {need} bytes but only {self.size - self.pos} are "
                "left in the file",
            )
        if etype == GGUFValueType.STRING:
            return self.string_array(key, count)
        if etype == GGUFValueType.ARRAY:
            if depth + 1 >= MAX_ARRAY_NESTING:
                self.fail(f"{field} element type", at, f"arrays nested deeper than {MAX_ARRAY_NESTING} levels")
            self.nested_left -= count  # each inner array costs a Python object ~10x its 12 bytes in the file
            if self.nested_left < 0:
                self.fail(
                    f"{field} count", count_at, f"more than {MAX_NESTED_ARRAYS} arrays inside array values in the file"
                )
            out = []
            for i in range(count):
                out.append(self.array(f"{key}[{i}]", depth + 1))
            return out
        dtype = SCALAR_FORMATS[etype][1]
        arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos).copy()
        self.pos += need
        if etype == GGUFValueType.BOOL:
            arr = arr != 0
        return arr

    def string_array(self, key: str, count: int) -> list[str]:
        if _read_strings_native is not None:
            try:
                out, self.pos = _read_strings_native(self.buf, self.pos, count)
            except ValueError as e:  # the message gives the element and its offset
                raise _error(f"{self.part.path}: array '{key}' {e}") from None
            return out
        out = []
        buf, pos, size = self.buf, self.pos, self.size
        unpack = _U64.unpack_from
        for i in range(count):
            if size - pos < 8:
                self.fail(f"array '{key}'", pos, f"string {i} of {count}: length truncated (file size {size})")
            (n,) = unpack(buf, pos)
            if n > size - pos - 8:
                self.fail(
                    f"array '{key}'",
                    pos,
                    f"string {i} of {count}: length {n} is larger than the {size - pos - 8} bytes left in the file",
                )
            out.append(buf[pos + 8 : pos + 8 + n].decode("utf-8", "surrogateescape"))
            pos += 8 + n
        self.pos = pos
        return out

    # ---- the file ----
    def parse(self) -> None:
        part, size = self.part, self.size
        if size < 4:
            self.fail("magic", 0, f"file is {size} bytes long, too short to be GGUF")
        magic = bytes(self.buf[0:4])
        if magic != GGUF_MAGIC:
            hint = " (a pre-GGUF GGML/GGJT file; convert it with llama.cpp)" if magic in (b"lmgg", b"tjgg") else ""
            self.fail("magic", 0, f"expected b'GGUF', found {magic!r}{hint}")
        self.pos = 4
        version = self.u32("version")
        if version not in GGUF_VERSIONS:
            why = f"unsupported GGUF version {version} (supported: 2, 3)"
            if version == 1:
                why += "; GGUF v1 (2023, 32-bit counts) is obsolete: convert the model again with a current llama.cpp"
            elif version & 0xFFFF == 0:  # llama.cpp refuses byte-swapped files too; none are published
                why += "; the file looks big-endian, which is not supported (convert it to little-endian)"
            self.fail("version", 4, why)
        part.version = version
        n_tensors = self.u64("tensor count")
        n_kv = self.u64("metadata key/value count")
        left = size - self.pos
        if n_kv * _MIN_KV_BYTES > left:
            self.fail("metadata key/value count", 16, f"{n_kv} pairs cannot fit in the {left} bytes left in the file")
        if n_tensors * _MIN_TENSOR_INFO_BYTES > left:
            self.fail("tensor count", 8, f"{n_tensors} tensor infos cannot fit in the {left} bytes left in the file")

        for i in range(n_kv):
            key_at = self.pos
            key = self.name(f"key of metadata pair {i}")
            label = key if len(key) <= 100 else key[:100] + "..."  # for messages: a key may be megabytes long
            if key in part.metadata:
                self.fail(f"key '{label}'", key_at, "duplicate key")
            type_at = self.pos
            vtype = self.u32(f"value type of '{label}'")
            if vtype not in _VALUE_TYPES:
                self.fail(f"value type of '{label}'", type_at, f"unknown value type {vtype}")
            vtype = GGUFValueType(vtype)
            part.value_at[key] = self.pos
            if vtype == GGUFValueType.ARRAY:
                etype_at = self.pos
                part.metadata[key] = self.value(vtype, label, 0)
                (etype,) = _U32.unpack_from(self.buf, etype_at)
                part.metadata_types[key] = (vtype, GGUFValueType(etype))
            else:
                part.metadata[key] = self.value(vtype, label, 0)
                part.metadata_types[key] = vtype

        alignment_at = part.value_at.get("general.alignment")
        if alignment_at is not None:
            a, atype = part.metadata["general.alignment"], part.metadata_types["general.alignment"]
            if atype != GGUFValueType.UINT32:
                self.fail("general.alignment", alignment_at, f"type {getattr(atype, 'name', atype)}, expected UINT32")
            if a == 0 or a & (a - 1) or a > MAX_ALIGNMENT:
                self.fail("general.alignment", alignment_at, f"{a} is not a power of two between 1 and {MAX_ALIGNMENT}")
            part.alignment = a

        seen: set[str] = set()
        for i in range(n_tensors):
            at = self.pos
            name = self.name(f"name of tensor {i}")
            if len(name.encode()) > MAX_NAME_BYTES:
                self.fail(f"name of tensor {i}", at, f"'{name[:80]}' is longer than {MAX_NAME_BYTES} bytes")
            if name in seen:
                self.fail(f"name of tensor {i}", at, f"duplicate tensor name '{name}'")
            seen.add(name)
            nd_at = self.pos
            n_dims = self.u32(f"tensor '{name}' n_dims")
            if not 1 <= n_dims <= MAX_DIMS:
                self.fail(f"tensor '{name}' n_dims", nd_at, f"{n_dims} dimensions (must be 1 to {MAX_DIMS})")
            shape = []
            for j in range(n_dims):
                d_at = self.pos
                d = self.u64(f"tensor '{name}' ne[{j}]")
                if d == 0 or d > _INT64_MAX:
                    bad = f"{d} (as int64: {d - (1 << 64)})" if d > _INT64_MAX else "0"
                    self.fail(f"tensor '{name}' ne[{j}]", d_at, f"dimension {bad} is not a positive int64")
                shape.append(d)
            type_at = self.pos
            ttype = self.u32(f"tensor '{name}' type")
            if ttype not in _GGML_TYPES:
                self.fail(f"tensor '{name}' type", type_at, f"unknown GGML tensor type {ttype}")
            ttype = GGMLType(ttype)
            off_at = self.pos
            offset = self.u64(f"tensor '{name}' offset")
            n = 1
            for d in shape:
                n *= d
            if n > _INT64_MAX:
                self.fail(f"tensor '{name}' shape", nd_at + 4, f"{shape}: element count {n} overflows int64")
            block, tsize = GGML_BLOCK_SIZES[ttype]
            if shape[0] % block:
                self.fail(
                    f"tensor '{name}' ne[0]",
                    nd_at + 4,
                    f"row length {shape[0]} is not a multiple of the {ttype.name} block size {block}",
                )
            part.infos.append((name, tuple(shape), ttype, offset, n // block * tsize, off_at))

        self.check_data_section()

    def check_data_section(self) -> None:
        part, size = self.part, self.size
        part.data_offset = _align(self.pos, part.alignment)
        if not part.infos:
            return
        data_size = size - part.data_offset
        if data_size < 0:
            self.fail("data section", part.data_offset, f"starts after the end of the file (file size {size})")
        for name, _, _, offset, nbytes, off_at in part.infos:
            if offset % part.alignment:
                self.fail(
                    f"tensor '{name}' offset", off_at, f"{offset} is not a multiple of the alignment {part.alignment}"
                )
            if offset >= data_size:
                self.fail(
                    f"tensor '{name}' offset",
                    off_at,
                    f"{offset} is outside the data section ({data_size} bytes starting at byte {part.data_offset})",
                )
            if nbytes > data_size - offset:
                self.fail(
                    f"tensor '{name}' data",
                    part.data_offset + offset,
                    f"{nbytes} bytes of data do not fit: the file ends {data_size - offset} bytes after the "
                    f"tensor's start (file truncated?)",
                )
        # llama.cpp places each tensor at the previous one's end padded to the alignment: padding is expected,
        # anything else is a gap (unaccounted bytes) or an overlap.
        expected, prev = 0, None
        for name, _, _, offset, nbytes, off_at in sorted(part.infos, key=lambda t: t[3]):
            if offset < expected:
                self.fail(
                    f"tensor '{name}' offset",
                    off_at,
                    f"{offset} overlaps tensor '{prev}' (which ends at data offset {expected})",
                )
            if offset > expected:
                after = f"after tensor '{prev}'" if prev else "at the start of the data section"
                self.fail(
                    f"tensor '{name}' offset",
                    off_at,
                    f"{offset} leaves a gap of {offset - expected} bytes {after} (expected offset {expected})",
                )
            expected, prev = _align(offset + nbytes, part.alignment), name


def _fail_at(part: _Part, key: str, problem: str):
    raise _error(f"{part.path}: {key} at byte offset {part.value_at.get(key, 0)}: {problem}")


def _split_int(part: _Part, key: str, default: int | None = None) -> int | None:
    v = part.metadata.get(key, default)
    if v is not None and type(v) is not int:  # also refuses bools, floats, strings and arrays
        _fail_at(part, key, f"{v!r} is not an integer")
    return v


def _split_position(part: _Part) -> tuple[int, int]:
    """(split.no, split.count) of a part; (0, 1) for a file that is not split."""
    count = _split_int(part, "split.count")
    if count is None:
        return 0, 1
    no = _split_int(part, "split.no", 0)
    if count < 1:
        _fail_at(part, "split.count", f"a split model of {count} parts is impossible")
    if not 0 <= no < count:
        _fail_at(part, "split.no", f"part {no} of {count} is impossible")
    return no, count


_NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))


def _open_part(path: Path) -> _Part:
    part = _Part(path)
    # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below); it changes nothing for files.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise _error(f"{path}: magic at byte offset 0: not a regular file (a directory)") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = next((what for test, what in _NOT_REGULAR if test(st.st_mode)), "a device")
            raise _error(f"{path}: magic at byte offset 0: not a regular file ({kind})")
        if st.st_size == 0:
            raise _error(f"{path}: magic at byte offset 0: the file is empty")
        part.map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)  # keeps its own duplicate of the descriptor
    finally:
        os.close(fd)
    size = part.size = len(part.map)  # what was mapped, even if the file changed size since fstat
    try:
        _Parser(part, part.map, size).parse()
    except BaseException:
        part.map.close()
        raise
    return part


class GGUFFile:
    """An open GGUF model file (or split model, opened from its first part `name-00001-of-0000N.gguf`).

    .metadata        dict key -> value, in file order (types: see llamacore.gguf)
    .metadata_types  dict key -> GGUFValueType, or (GGUFValueType.ARRAY, element type) for arrays
    .tensors         dict name -> GGUFTensor, in file order (all parts of a split model)
    .version, .alignment, .data_offset (of the first part), .paths (every part), .file_size (all parts)
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._parts: list[_Part] = []
        try:
            first = _open_part(self.path)
            self._parts.append(first)
            self._open_other_parts(first)
        except BaseException:
            self.close()
            raise
        self.version = first.version
        self.alignment = first.alignment
        self.data_offset = first.data_offset
        self.metadata: dict[str, Any] = first.metadata
        self.metadata_types = first.metadata_types
        self.tensors: dict[str, GGUFTensor] = {}
        for i, part in enumerate(self._parts):
            for name, shape, ttype, offset, nbytes, at in part.infos:
                if name in self.tensors:
                    self.close()
                    raise _error(
                        f"{part.path}: name of tensor at byte offset {at}: duplicate tensor name "
                        f"'{name}' (also in part {self.tensors[name].part + 1})"
                    )
                self.tensors[name] = GGUFTensor(name, shape, ttype, part.data_offset + offset, nbytes, i, part.map)

    def _open_other_parts(self, first: _Part) -> None:
        no, count = _split_position(first)
        total = _split_int(first, "split.tensors.count")
        if count == 1:
            if total is not None and total != len(first.infos):
                _fail_at(first, "split.tensors.count", f"says {total} tensors, the file holds {len(first.infos)}")
            return
        if no != 0:
            _fail_at(
                first,
                "split.no",
                f"this is part {no + 1} of {count} of a split model; open the first part (NAME-00001-of-NNNNN.gguf)",
            )
        m = _SPLIT_NAME.match(first.path.name)
        if m is None or int(m["count"]) != count:
            _fail_at(
                first,
                "split.count",
                f"a split model of {count} parts must be named "
                f"NAME-00001-of-{count:05d}.gguf so that its other parts can be found",
            )
        for i in range(1, count):
            p = first.path.with_name(f"{m['prefix']}-{i + 1:05d}-of-{count:05d}.gguf")
            if not p.exists():
                _fail_at(first, "split.count", f"part {i + 1} of {count} is missing ({p})")
            part = _open_part(p)
            self._parts.append(part)
            found = _split_position(part)
            if found != (i, count):
                key = "split.count" if found[1] != count else "split.no"
                what = f"found {found[0]} of {found[1]}" if key in part.metadata else f"{key} is missing"
                _fail_at(part, key, f"expected part {i} of {count} (0-based), {what}")
        found = sum(len(p.infos) for p in self._parts)
        if total is not None and total != found:
            _fail_at(first, "split.tensors.count", f"says {total} tensors, the {count} parts hold {found}")

    @property
    def paths(self) -> list[Path]:
        return [p.path for p in self._parts]

    @property
    def file_size(self) -> int:
        return sum(p.size for p in self._parts)

    def close(self) -> None:
        """Unmap the file(s). Arrays still viewing tensor data keep their mapping alive until they are freed."""
        for t in getattr(self, "tensors", {}).values():
            t._map = None
        for part in self._parts:
            if part.map is not None and not part.map.closed:
                try:
                    part.map.close()
                except BufferError:  # numpy views are still alive; the map goes when they do
                    pass

    def __enter__(self) -> GGUFFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        arch = self.metadata.get("general.architecture", "?")
        return (
            f"GGUFFile({str(self.path)!r}, v{self.version}, {arch}, {len(self.metadata)} keys, "
            f"{len(self.tensors)} tensors)"
        )
