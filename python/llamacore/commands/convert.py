"""`llamacore convert MODEL_DIR`: a Hugging Face model folder (or hf:ORG/REPO) to GGUF."""

from __future__ import annotations

import argparse
import sys

HELP = "convert a Hugging Face model folder (safetensors) to GGUF"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model", help="Hugging Face model folder (config.json, *.safetensors, tokenizer files) or hf:ORG/REPO"
    )
    p.add_argument("-o", "--outfile", help="output file (default: MODEL_DIR/<folder name>-<OUTTYPE>.gguf)")
    p.add_argument(
        "--outtype",
        default="auto",
        choices=["f32", "f16", "bf16", "q8_0", "auto"],
        help="type of the weight matrices; auto: the checkpoint's own 16-bit type (default)",
    )
    p.add_argument("--vocab-only", action="store_true", help="write only the vocabulary and metadata")
    p.add_argument(
        "--split-max-size", default="0", metavar="N", help="split the output into shards of at most N bytes (e.g. 2G)"
    )
    p.add_argument("--pre", help="tokenizer.ggml.pre to write when the BPE pre-tokenizer is not recognised")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def main(args: argparse.Namespace | list[str] | None = None) -> int:
    if not isinstance(args, argparse.Namespace):
        parser = argparse.ArgumentParser(prog="llamacore convert", description=HELP)
        add_arguments(parser)
        args = parser.parse_args(args)
    from ..convert import ConvertError, convert

    try:
        paths = convert(
            args.model,
            args.outfile,
            outtype=args.outtype,
            vocab_only=args.vocab_only,
            split_max_size=args.split_max_size,
            pre=args.pre,
            progress=False if args.quiet else None,
        )
    except (ConvertError, ValueError) as e:
        print(f"llamacore convert: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full disk, a folder we may not write to
        print(f"llamacore convert: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("llamacore convert: interrupted; nothing was written", file=sys.stderr)
        return 130
    if not args.quiet:
        for p in paths:
            print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
