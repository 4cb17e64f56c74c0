"""`llamacore cli [MODEL] [options]`: llama-cli, with its options (flags.py) and its three ways of running.

    completion      -p "Once upon a time" (or -f FILE, or standard input): one answer, then exit. A model with a
                    chat template answers the prompt as a user message; without one (or with -no-cnv) the prompt
                    is continued as plain text and printed first, as llama-cli does (--no-display-prompt: not).
    conversation    -cnv, or no prompt given and the model has a chat template: turns read from standard input,
                    `-p` as the first one, `-sys` the system prompt, `-st` one turn only (see chat.py).
    interactive     -i / -if: plain text; generation stops at a reverse prompt (-r), the end of the text or -n
                    tokens, then your line is appended (--in-prefix/--in-suffix around it; an empty line lets the
                    model go on) and generation continues.
At the end of standard input (Ctrl-D, or the end of piped text) conversation and interactive mode exit with 0, so
scripts that pipe text in never hang. A reverse prompt also ends a completion, and stays in the text.
`llamacore run` is this command in completion mode without printing the prompt; `llamacore chat` in conversation
mode.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from . import common

SINGLE, CONVERSATION, INTERACTIVE = "completion", "conversation", "interactive"
AUTO = "auto"  # llama-cli's choice: conversation when no prompt is given and the model has a chat template


def add_arguments(p: argparse.ArgumentParser) -> None:
    common.add_arguments(p)


def choose_mode(args: argparse.Namespace, default_mode: str, has_template: bool, prompt: str | None) -> str:
    if args.conversation:  # -cnv
        return CONVERSATION
    if args.interactive or args.interactive_first:
        return INTERACTIVE
    if args.conversation is False:  # -no-cnv
        return SINGLE
    if default_mode != AUTO:
        return default_mode
    return CONVERSATION if prompt is None and has_template else SINGLE


def run(
    args: argparse.Namespace,
    *,
    default_mode: str = AUTO,
    echo_prompt: bool | None = None,
    raw: bool = False,
    stop: list[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run the options as llama-cli would. echo_prompt: print the prompt before a plain completion (default:
    --display-prompt); raw: never use the chat template in completion mode; stop: strings that end the answer and
    are cut from it (llamacore run's --stop)."""
    from . import chat

    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    prompt = common.prompt_text(args)
    system = common.system_prompt(args)
    reverse = common.reverse_prompts(args)
    common.constraint_kwargs(args, chat=False)  # a grammar this build cannot use fails before the model loads
    llm = common.load_model(args)
    try:
        template = common.has_chat_template(llm, args)
        mode = choose_mode(args, default_mode, template and not raw, prompt)
        if mode == CONVERSATION:
            extra = {**common.constraint_kwargs(args, chat=True), **common.template_kwargs(args)}
            if stop:
                reverse = reverse + stop
            return chat.repl(llm, args, stdin, stdout, first=prompt, system=system, stop=reverse, extra=extra)
        if system and (mode == INTERACTIVE or raw or args.conversation is False or not template):
            raise ValueError("-sys/--system-prompt needs a chat template: it cannot be used with -i, -no-cnv or "
                             "--raw, or with a model that has no template (pick one with --chat-template)")  # fmt: skip
        extra = common.constraint_kwargs(args, chat=mode == SINGLE and template and not raw)
        if mode == INTERACTIVE:
            return interactive(llm, args, prompt or "", reverse, extra, stdin, stdout)
        if prompt is None:
            if stdin.isatty():
                raise ValueError('no prompt: use -p "..." (or -cnv, or `llamacore chat`, for a conversation)')
            prompt = stdin.read()
        if template and not raw and args.conversation is not False:
            messages = [{"role": "system", "content": system}] if system else []
            messages.append({"role": "user", "content": prompt})
            if args.n_predict == 0:
                return _print_stream((), stdout)
            kwargs = {**common.sampling_kwargs(args, llm), **extra, **common.template_kwargs(args)}
            stream = llm.create_chat_completion(messages, stream=True, stop=reverse + list(stop or []), **kwargs)
            return _print_stream((c["choices"][0]["delta"].get("content") or "" for c in stream), stdout)
        echo = args.display_prompt if echo_prompt is None else echo_prompt
        if echo:
            stdout.write(prompt)
            stdout.flush()
        text, _ = complete(llm, prompt, args, reverse, extra, stdout, cut=stop)
        if not (text or (prompt if echo else "")).endswith("\n"):
            stdout.write("\n")
        stdout.flush()
        return 0
    except BrokenPipeError:  # e.g. `llamacore cli ... | head -1`: the reader has gone, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())  # nothing more to flush at exit
        return 0
    finally:
        llm.close()


def _print_stream(pieces, out: TextIO) -> int:
    last = ""
    try:
        for text in pieces:
            if text:
                out.write(text)
                out.flush()
                last = text
    except KeyboardInterrupt:
        out.write("\n")
        raise
    if not last.endswith("\n"):
        out.write("\n")
    out.flush()
    return 0


def complete(
    llm, text: str, args: argparse.Namespace, reverse: list[str], extra: dict, out: TextIO, cut: list[str] | None = None
) -> tuple[str, str]:
    """Continue text, streaming the new text to out, until the model ends it ("eog"), -n tokens or the context
    ("length"), a reverse prompt, which is kept ("reverse"), or Ctrl-C ("interrupted").
    Returns (the new text, why it stopped). cut: stop strings that are cut instead of kept."""
    if args.n_predict == 0:  # llama.cpp: nothing to generate (Llama's max_tokens=0 would mean no limit)
        return "", "length"
    kwargs = common.sampling_kwargs(args, llm)
    stream = llm.create_completion(text, stream=True, stop=list(cut or []), **kwargs, **extra)
    new, shown, reason = "", 0, "length"
    longest = max((len(r) for r in reverse), default=0)
    try:
        for chunk in stream:
            choice = chunk["choices"][0]
            new += choice["text"]
            end = _reverse_end(new, reverse, max(0, shown - longest))
            if end is not None:
                new, reason = new[:end], "reverse"
                out.write(new[shown:])
                out.flush()
                stream.close()
                break
            out.write(new[shown:])
            out.flush()
            shown = len(new)
            if choice.get("finish_reason"):
                reason = "eog" if choice["finish_reason"] == "stop" else "length"
    except KeyboardInterrupt:  # llama-cli: Ctrl-C interjects
        stream.close()
        reason = "interrupted"
    return new, reason


def _reverse_end(text: str, reverse: list[str], start: int) -> int | None:
    """Where the first reverse prompt found in text[start:] ends, or None."""
    ends = [i + len(r) for r in reverse if (i := text.find(r, start)) >= 0]
    return min(ends) if ends else None


def interactive(
    llm, args: argparse.Namespace, prompt: str, reverse: list[str], extra: dict, stdin: TextIO, stdout: TextIO
) -> int:
    """llama-cli's interactive mode over plain text (see the module docstring)."""
    text = prompt
    if args.display_prompt:
        stdout.write(prompt)
        stdout.flush()
    wait = args.interactive_first or not prompt
    while True:
        if not wait:
            try:
                new, reason = complete(llm, text, args, reverse, extra, stdout)
            except ValueError as e:
                if "exceed context window" not in str(e):
                    raise
                stdout.write(f"\nllamacore: the context is full ({llm.n_ctx()} tokens; -c sets it)\n")
                return 0
            text += new
            if reason == "eog" and reverse:  # llama-cli hands control back behind the first reverse prompt
                stdout.write(reverse[0])
                text += reverse[0]
        wait = False
        stdout.write(args.in_prefix)
        stdout.flush()
        try:
            line = input() if stdin is sys.stdin and stdin.isatty() else stdin.readline()
            if not line and not (stdin is sys.stdin and stdin.isatty()):
                raise EOFError
        except (EOFError, KeyboardInterrupt):  # the end of the input: done
            stdout.write("\n")
            stdout.flush()
            return 0
        line = line.rstrip("\n")
        if not line:  # an empty line hands control back to the model
            continue
        if args.escape:
            line = common.unescape(line)
        stdout.write(args.in_suffix)
        text += args.in_prefix + line + args.in_suffix


def main(args: argparse.Namespace) -> int:
    return run(args)
