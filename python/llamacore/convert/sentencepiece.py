"""SentencePiece's tokenizer.model (a protobuf ModelProto) read without the sentencepiece or protobuf packages.

Only what a GGUF vocabulary needs: each piece's text, score and type, the model type (trainer_spec.model_type) and
the normalizer flags. Every length is checked against the buffer, so a damaged file raises ConvertError.

    m = read_model(Path("tokenizer.model"))
    m.pieces[0]          # ("<unk>", 0.0, 2)  text, score, type (1 normal, 2 unknown, 3 control, 4 user, 5 unused,
                         #                                       6 byte; the numbering GGUF's token types share)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConvertError

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}


@dataclass
class SentencePieceModel:
    pieces: list[tuple[str, float, int]] = field(default_factory=list)
    model_type: int = 1  # trainer_spec.model_type; UNIGRAM is protobuf's default
    add_dummy_prefix: bool = True
    remove_extra_whitespaces: bool = True


class _Reader:
    def __init__(self, buf: memoryview, what: str):
        self.buf, self.pos, self.what = buf, 0, what

    def bad(self, why: str) -> ConvertError:
        return ConvertError(f"{self.what}: not a valid SentencePiece model ({why} at byte {self.pos})")

    def varint(self) -> int:
        shift = result = 0
        while True:
            if self.pos >= len(self.buf):
                raise self.bad("truncated varint")
            b = self.buf[self.pos]
            self.pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise self.bad("varint longer than 10 bytes")

    def fields(self):
        """(field number, wire type, value): value is an int (varint, fixed) or a memoryview (length-delimited)."""
        while self.pos < len(self.buf):
            key = self.varint()
            num, wt = key >> 3, key & 7
            if wt == 0:
                yield num, wt, self.varint()
            elif wt == 1:
                yield num, wt, self.take(8)
            elif wt == 2:
                yield num, wt, self.take(self.varint())
            elif wt == 5:
                yield num, wt, self.take(4)
            else:
                raise self.bad(f"unsupported wire type {wt}")

    def take(self, n: int) -> memoryview:
        if n > len(self.buf) - self.pos:
            raise self.bad(f"a field of {n} bytes runs past the end")
        v = self.buf[self.pos : self.pos + n]
        self.pos += n
        return v


def parse_model(data: bytes, what: str = "tokenizer.model") -> SentencePieceModel:
    m = SentencePieceModel()
    for num, wt, v in _Reader(memoryview(data), what).fields():
        if num == 1 and wt == 2:  # repeated SentencePiece pieces
            text, score, kind = None, 0.0, NORMAL
            for n2, w2, v2 in _Reader(v, what).fields():
                if n2 == 1 and w2 == 2:
                    try:
                        text = bytes(v2).decode("utf-8")
                    except UnicodeDecodeError:
                        raise ConvertError(f"{what}: piece {len(m.pieces)} is not UTF-8") from None
                elif n2 == 2 and w2 == 5:
                    score = struct.unpack("<f", v2)[0]
                elif n2 == 3 and w2 == 0:
                    kind = v2
            if text is None:
                raise ConvertError(f"{what}: piece {len(m.pieces)} has no text")
            if kind not in (NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE):
                raise ConvertError(f"{what}: piece {len(m.pieces)} ({text!r}) has unknown type {kind}")
            m.pieces.append((text, score, kind))
        elif num == 2 and wt == 2:  # trainer_spec
            for n2, w2, v2 in _Reader(v, what).fields():
                if n2 == 3 and w2 == 0:
                    m.model_type = v2
        elif num == 3 and wt == 2:  # normalizer_spec
            for n2, w2, v2 in _Reader(v, what).fields():
                if n2 == 3 and w2 == 0:
                    m.add_dummy_prefix = bool(v2)
                elif n2 == 4 and w2 == 0:
                    m.remove_extra_whitespaces = bool(v2)
    if not m.pieces:
        raise ConvertError(f"{what}: no pieces")
    return m


def read_model(path: Path) -> SentencePieceModel:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConvertError(f"cannot read {path}: {e.strerror or e}") from None
    return parse_model(data, str(path))
