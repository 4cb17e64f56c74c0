"""The `llamacore` command. Each subcommand lives in its own module with `add_arguments(parser)` and
`main(args) -> int`; this file only maps names to modules, so importing the CLI stays cheap."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("llamacore.commands.run", "answer one prompt, streaming the output"),
    "chat": ("llamacore.commands.chat", "interactive chat with a model"),
    "serve": ("llamacore.commands.serve", "OpenAI-compatible HTTP server with a web page"),
    "bench": ("llamacore.commands.bench", "prompt processing and generation speed"),
    "perplexity": ("llamacore.commands.perplexity", "perplexity of a model on a text file"),
    "quantize": ("llamacore.commands.quantize", "convert a GGUF file to another quantization type"),
    "convert": ("llamacore.commands.convert", "Hugging Face safetensors to GGUF"),
    "info": ("llamacore.commands.info", "describe a GGUF model"),
    "pull": ("llamacore.commands.pull", "download a model into the cache"),
    "tokenize": ("llamacore.commands.tokenize", "show the token ids of a text"),
}


def _load(name: str):
    module, _ = COMMANDS[name]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            return None
        raise


def main(argv: list[str] | None = None) -> int:
    from . import __version__, system_info

    parser = argparse.ArgumentParser(prog="llamacore", description="Run GGUF language models locally.")
    parser.add_argument("--version", action="version", version=f"llamacore {__version__}")
    parser.add_argument("--system-info", action="store_true", help="print the CPU levels and backends, then exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    argv = sys.argv[1:] if argv is None else argv
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:  # import only the module that runs
            mod = _load(name)
            if mod is not None:
                mod.add_arguments(p)
    args = parser.parse_args(argv)
    if args.system_info:
        print(system_info())
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    mod = _load(args.command)
    if mod is None:
        print(f"llamacore: '{args.command}' is not available in this version yet", file=sys.stderr)
        return 2
    try:
        return int(mod.main(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError) as e:  # typed errors from llamacore are ValueError/OSError subclasses
        print(f"llamacore {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
