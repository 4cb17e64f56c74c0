"""`llamacore tokenize MODEL TEXT`: the token ids of a text, as llama.cpp's llama-tokenize shows them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a GGUF path, hf:ORG/REPO/FILE.gguf or a catalog name")
    parser.add_argument("text", nargs="?", help="the text (or use --file / --stdin)")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--file", "-f", type=Path, help="read the text from this file (bytes as they are)")
    src.add_argument("--stdin", action="store_true", help="read the text from standard input")
    parser.add_argument("--no-bos", action="store_true", help="do not add the BOS/EOS tokens the model asks for")
    parser.add_argument(
        "--special", action="store_true", help="parse control tokens written in the text, e.g. <|im_start|>"
    )
    parser.add_argument("--ids-only", action="store_true", help="print only the ids, as a JSON list")
    parser.add_argument("--count", action="store_true", help="print only the number of tokens")


def _load(model: str):
    from ..hub import resolve
    from ..tokenizer import Tokenizer

    return Tokenizer.from_gguf(resolve(model))


def main(args: argparse.Namespace) -> int:
    if args.file is not None:
        text = args.file.read_bytes()
    elif args.stdin:
        text = sys.stdin.buffer.read()
    elif args.text is not None:
        text = args.text.encode("utf-8", "surrogateescape")  # argv bytes that are not UTF-8 stay as they were
    else:
        print("llamacore tokenize: give TEXT, --file or --stdin", file=sys.stderr)
        return 2
    tok = _load(args.model)
    ids = tok.tokenize(text, add_bos=not args.no_bos, special=args.special)
    out = sys.stdout
    if args.count:
        print(len(ids), file=out)
    elif args.ids_only:
        print(json.dumps(ids), file=out)
    else:
        for i in ids:
            piece = tok.token_to_piece(i, special=True).decode("utf-8", "replace")
            print(f"{i:6d} -> {piece!r}", file=out)
    return 0
