"""`llamacore chat [MODEL]`: an interactive conversation in the terminal (llama-cli's conversation mode, -cnv).

The conversation is kept and sent whole each turn (the cached prefix is reused, so only the new turn is computed);
when it no longer fits the context, the oldest turns are dropped. Ctrl-C stops the answer being written (not the
program); /exit, /quit, Ctrl-D or the end of standard input quit; /clear forgets the conversation. Colours only on a
terminal (--color on|off|auto, NO_COLOR). Takes llama-cli's options (see flags.py): `-p` is the first message,
`-st` ends after one answer, `-r` ends an answer at that text.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from . import common

HELP = "/exit or Ctrl-D: quit   /clear: forget the conversation   Ctrl-C: stop the answer   /help: this text"


def add_arguments(p: argparse.ArgumentParser) -> None:
    common.add_arguments(p)
    p.add_argument("--no-color", action="store_true", help="no colours, even on a terminal (same as --color off)")


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


def repl(
    llm,
    args: argparse.Namespace,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    *,
    first: str | None = None,
    system: str | None = None,
    stop: list[str] | None = None,
    extra: dict | None = None,
) -> int:
    """The conversation loop over a loaded Llama (tests drive it with a fake one). first: the first user message
    (-p); system: the system prompt; stop: reverse prompts that end an answer; extra: more create_chat_completion
    arguments (grammar, response_format). With args.single_turn it returns after the first answer."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    tty = stdout.isatty() and stdin.isatty()
    colour = common.use_color(args, stdout)
    style = Style(colour, readline_prompt=tty and _use_readline())
    system_msgs = [{"role": "system", "content": system}] if system else []
    history: list[dict] = []
    name = llm.metadata.get("general.name") or os.path.basename(llm.model_path)
    if tty:
        stdout.write(style.dim(f"llamacore chat with {name}. {HELP}") + "\n")
        stdout.flush()
    kwargs = {**common.sampling_kwargs(args, llm), **(extra or {}), "stop": list(stop or [])}
    single_turn = getattr(args, "single_turn", False)

    while True:
        if first is not None:
            line, first = first, None
            if tty:
                stdout.write(style.prompt + line + "\n")
        else:
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
            except EOFError:  # Ctrl-D, or the end of piped input: the conversation is over
                stdout.write("\n")
                stdout.flush()
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
        if getattr(args, "escape", False):
            line = common.unescape(line)
        history.append({"role": "user", "content": line})
        answer = _answer(llm, system_msgs, history, kwargs, stdout, style)
        if answer is None:
            history.pop()  # the question could not be asked at all
        else:
            history.append({"role": "assistant", "content": answer})
        if single_turn:
            stdout.flush()
            return 0


def _answer(llm, system: list[dict], history: list[dict], kwargs: dict, stdout: TextIO, style: Style) -> str | None:
    """Stream one answer; returns its text (what was shown before a Ctrl-C), or None if nothing could be asked."""
    text, stream = "", None
    try:
        while stream is None:
            try:
                stream = llm.create_chat_completion(system + history, stream=True, **kwargs)
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
    from . import cli

    return cli.run(args, default_mode=cli.CONVERSATION)
