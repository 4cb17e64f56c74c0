"""`llamacore run [MODEL] -p PROMPT`: answer one prompt, streaming the text to stdout.

Instruct models (the GGUF carries a chat template) get the prompt as a user message through their template; other
models, --raw or -no-cnv continue the prompt as plain text (the prompt itself is not printed). MODEL is a GGUF path,
hf:ORG/REPO[:QUANT], hf:ORG/REPO/FILE.gguf or a catalog name and defaults to smollm2-135m-instruct, so
`llamacore run -p "Why is the sky blue?"` works on a fresh install. Options are llama-cli's (flags.py): -m, -n, -c,
-t, --temp, --top-k, -ngl, -hf, ...; with -cnv or -i it runs as `llamacore cli` does.
"""

from __future__ import annotations

import argparse

from . import cli, common
from .common import DEFAULT_MODEL  # noqa: F401  (the model `run` answers with when none is named)


def add_arguments(p: argparse.ArgumentParser) -> None:
    common.add_arguments(p)
    p.add_argument("--raw", action="store_true", help="plain completion of the prompt, no chat template")
    p.add_argument("--stop", action="append", default=[], metavar="TEXT", help="stop at this text (repeatable)")


def main(args: argparse.Namespace) -> int:
    if args.raw and (args.system_prompt or args.system_prompt_file):
        raise ValueError("--system-prompt needs a chat template: it cannot be used with --raw")
    return cli.run(args, default_mode=cli.SINGLE, echo_prompt=False, raw=args.raw, stop=args.stop)
