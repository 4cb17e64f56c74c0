"""The `llamacore` command. Each subcommand lives in its own module with `add_arguments(parser)` and
`main(args) -> int`; this file only maps names to modules, so importing the CLI stays cheap. A command is listed
(and runs) only when its module exists: the ones still to come are named here with their help line, and appear
when their module lands. Options follow llama.cpp's spellings and parsing (llamacore/commands/flags.py)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

# name -> (module, one-line help); listed only when the module exists
COMMANDS: dict[str, tuple[str, str]] = {
    "cli": ("llamacore.commands.cli", "like llama-cli: -p, -cnv or -i"),
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


def available() -> list[str]:
    """The commands whose module is installed, in COMMANDS' order."""
    return [name for name, (module, _) in COMMANDS.items() if importlib.util.find_spec(module) is not None]


def main(argv: list[str] | None = None) -> int:
    from . import __version__, system_info
    from .commands import flags

    parser = argparse.ArgumentParser(prog="llamacore", description="Run GGUF language models locally.",
                                     allow_abbrev=False)  # fmt: skip
    parser.add_argument("--version", action="version", version=f"llamacore {__version__}")
    parser.add_argument("--system-info", action="store_true", help="print the CPU levels and backends, then exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    argv = sys.argv[1:] if argv is None else list(argv)
    at = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    wanted = argv[at] if at is not None else None
    for name in available():
        module, help_text = COMMANDS[name]
        p = sub.add_parser(name, help=help_text, description=help_text, allow_abbrev=False)
        if name == wanted:  # import only the module that runs, and read its options as llama.cpp does
            importlib.import_module(module).add_arguments(p)
            argv = argv[: at + 1] + flags.normalize_argv(argv[at + 1 :], p)
    args = parser.parse_args(argv)
    if args.system_info:
        print(system_info())
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    mod = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(mod.main(args) or 0)
    except KeyboardInterrupt:
        return 130
    # typed errors from llamacore are ValueError/OSError subclasses; NotImplementedError names what is not built yet
    except (OSError, ValueError, NotImplementedError) as e:
        print(f"llamacore {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
