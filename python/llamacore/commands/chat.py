"""`llamacore chat [MODEL]`: an interactive conversation in the terminal.

The conversation is kept and sent whole each turn (the cached prefix is reused, so only the new turn is computed);
when it no longer fits the context, the oldest turns are dropped. Ctrl-C stops the answer being written (not the
program); /exit, /quit or Ctrl-D quit; /clear forgets the conversation. Colours only when stdout is a terminal
(and NO_COLOR is unset).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from .run import add_model_arguments, load_model, sampling_kwargs

HELP = "/exit or Ctrl-D: quit   /clear: forget the conversation   Ctrl-C: stop the answer   /help: this text"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("--no-color", action="store_true", help="no colours, even on a terminal")


class Style:
    """ANSI colours, or nothing when the output is not a terminal."""

    def __init__(self, enabled: bool, readline_prompt: bool):
        self.enabled = enabled
        # readline needs the invisible parts of the prompt wrapped in \001 ... \002 to measure its width
        wrap = (lambda s: f"\001{s}\002") if readline_prompt else (lambda s: s)
        self.prompt = f"{wrap(chr(27) + '[1;32m')}> {wrap(chr(27) + '[0m')}" if enabled else "> "

    def dim(self, text: str) -> str:
        return f"\033[2m{text}\033[0m" if self.enabled else text


def _use_readline() -> bool:
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        return False
    return True


def repl(llm, args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """The conversation loop over a loaded Llama (tests drive it with a fake one)."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    tty = stdout.isatty() and stdin.isatty()
    colour = tty and not getattr(args, "no_color", False) and "NO_COLOR" not in os.environ
    style = Style(colour, readline_prompt=tty and _use_readline())
    system = [{"role": "system", "content": args.system}] if args.system else []
    history: list[dict] = []
    name = llm.metadata.get("general.name") or os.path.basename(llm.model_path)
    if tty:
        stdout.write(style.dim(f"llamacore chat with {name}. {HELP}") + "\n")
        stdout.flush()

    while True:
        try:
            if stdin is sys.stdin and tty:
                line = input(style.prompt)
            else:
                stdout.write(style.prompt)
                stdout.flush()
                line = stdin.readline()
                if not line:
                    raise EOFError
                line = line.rstrip("\n")
        except EOFError:
            stdout.write("\n")
            return 0
        except KeyboardInterrupt:  # Ctrl-C at the prompt: a fresh prompt, as in a shell
            stdout.write("\n")
            continue
        command = line.strip()
        if command in ("/exit", "/quit", "/bye"):
            return 0
        if command == "/clear":
            history.clear()
            stdout.write(style.dim("(conversation cleared)") + "\n")
            continue
        if command in ("/help", "/?"):
            stdout.write(HELP + "\n")
            continue
        if not command:
            continue
        history.append({"role": "user", "content": line})
        answer = _answer(llm, system, history, args, stdout, style)
        if answer is None:
            history.pop()  # the question could not be asked at all
        else:
            history.append({"role": "assistant", "content": answer})


def _answer(llm, system: list[dict], history: list[dict], args, stdout: TextIO, style: Style) -> str | None:
    """Stream one answer; returns its text (what was shown before a Ctrl-C), or None if nothing could be asked."""
    text, stream = "", None
    try:
        while stream is None:
            try:
                stream = llm.create_chat_completion(system + history, stream=True, **sampling_kwargs(args))
            except ValueError as e:
                # too long for the context: drop the oldest exchange and try again
                if "exceed context window" in str(e) and len(history) > 1:
                    del history[: 2 if len(history) > 2 else 1]
                    stdout.write(style.dim("(the conversation is longer than the context: oldest turn dropped)") + "\n")
                    continue
                stdout.write(f"error: {e}\n")
                return None
        for chunk in stream:
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                text += piece
                stdout.write(piece)
                stdout.flush()
    except KeyboardInterrupt:  # wherever it lands in this turn: stop the answer, keep the program
        if stream is not None:
            stream.close()
        stdout.write(style.dim(" [stopped]"))
    stdout.write("\n")
    stdout.flush()
    return text


def main(args: argparse.Namespace) -> int:
    llm = load_model(args)
    try:
        return repl(llm, args)
    finally:
        llm.close()
