"""`llamacore chat` in a pseudo-terminal: answers stream, history is kept, Ctrl-C stops an answer but not the
program, /clear, /exit and Ctrl-D. The conversation loop runs over the fake model of test_llama.py (so it is
exact and fast); test_cli_run.py runs the real command on a real model."""

from __future__ import annotations

import io
import re
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

# The fake model answers "Hi!" to everything, except "la la la ..." (forever, slowly) when asked to sing; it
# looks at the whole cache, so a kept history shows up in what it sees.
CHILD = textwrap.dedent(
    """
    import sys, argparse
    sys.path[:0] = [{tests!r}]
    from test_llama import make_llama, IM_END
    from llamacore.commands import chat, flags

    def policy(cache):
        text = bytes(t for t in cache if t < 256).decode("utf-8", "replace")
        if text.endswith("assistant\\n"):
            last_user = text.rsplit("user\\n", 1)[-1]
            return ord("l") if "sing" in last_user else ord("H")
        nxt = {{"H": "i", "i": "!", "l": "a", "a": " ", " ": "l"}}
        return ord(nxt[text[-1]]) if text and text[-1] in nxt else IM_END

    llm, engine = make_llama(n_ctx=4096, add_bos=False, policy=policy, delay={delay}, strength=30.0)
    parser = argparse.ArgumentParser()
    chat.add_arguments(parser)
    args = flags.parse(parser, [{options}])
    code = chat.repl(llm, args)
    print("EXIT", code, "CACHE", repr(bytes(t for t in engine.cache if t < 256).decode()))
    sys.exit(code)
    """
)


def chat_args(*argv: str):
    """`llamacore chat`'s options, parsed as the command parses them."""
    import argparse

    from llamacore.commands import chat, flags

    parser = argparse.ArgumentParser()
    chat.add_arguments(parser)
    return flags.parse(parser, argv)


def spawn(delay: float = 0.0, options: tuple[str, ...] = ("--temp", "0")):
    pexpect = pytest.importorskip("pexpect")
    code = CHILD.format(tests=str(TESTS), delay=delay, options=", ".join(repr(o) for o in options))
    child = pexpect.spawn(sys.executable, ["-c", code], encoding="utf-8", timeout=20, dimensions=(24, 200))
    return child


def test_chat_answers_keeps_history_and_exits():
    child = spawn()
    child.expect("llamacore chat with fake")
    child.expect("> ")
    child.sendline("Hello there")
    child.expect(r"Hi!\r?\n")
    child.expect("> ")
    child.sendline("/help")
    child.expect("/clear")
    child.expect("> ")
    child.sendline("And again?")
    child.expect(r"Hi!\r?\n")
    child.expect("> ")
    child.sendline("/exit")
    child.expect(r"EXIT 0 CACHE '(.*)'")
    # the second turn was sent with the first one in front of it: the cache holds both exchanges
    assert child.match.group(1) == r"user\nHello there\nassistant\nHi!\nuser\nAnd again?\nassistant\nHi!"
    child.expect(pexpect_eof())
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_stops_the_answer_not_the_program():
    child = spawn(delay=0.01)
    child.expect("> ")
    child.sendline("please sing")
    child.expect("la la ")
    child.sendintr()  # Ctrl-C while the answer streams
    child.expect(r"\[stopped\]")
    child.expect("> ")
    child.sendline("hello")  # still alive, and answers the next question
    child.expect(r"Hi!\r?\n")
    child.expect("> ")
    child.sendintr()  # Ctrl-C at the prompt: a fresh prompt
    child.expect("> ")
    child.sendeof()  # Ctrl-D quits
    child.expect("EXIT 0")
    child.expect(pexpect_eof())
    child.close()
    assert child.exitstatus == 0


def test_colours_only_on_a_terminal():
    child = spawn()
    child.expect("\x1b\\[1;32m")  # the green prompt
    child.sendline("/exit")
    child.expect("EXIT 0")
    child.close()

    sys.path[:0] = [str(TESTS)]
    try:
        from test_llama import make_llama
    finally:
        sys.path.remove(str(TESTS))
    from llamacore.commands import chat

    llm, _ = make_llama(b"Hi!", n_ctx=256, add_bos=False)
    out = io.StringIO()
    args = chat_args("-n", "3", "--temp", "0")
    assert chat.repl(llm, args, stdin=io.StringIO("hello\n/clear\n"), stdout=out, system="Be nice.") == 0
    assert "\x1b[" not in out.getvalue()  # not a terminal: no escape codes
    assert "(conversation cleared)" in out.getvalue()


def fake(script: bytes = b"Hi!", **kw):
    sys.path[:0] = [str(TESTS)]
    try:
        from test_llama import make_llama
    finally:
        sys.path.remove(str(TESTS))
    return make_llama(script, n_ctx=256, add_bos=False, **kw)[0]


def test_piped_conversation_ends_at_the_end_of_input():
    """A script that pipes text in never hangs: each line is a turn, the end of the input ends the program (0)."""
    from llamacore.commands import chat

    out = io.StringIO()
    code = chat.repl(fake(), chat_args("-n", "3", "--temp", "0"), stdin=io.StringIO("hello\nagain\n"), stdout=out)
    assert code == 0
    assert re.fullmatch(r"> [Hi!]{3}\n> [Hi!]{3}\n> \n", out.getvalue())  # two answers of -n 3 tokens, then EOF


def test_first_message_single_turn_and_reverse_prompt():
    from llamacore.commands import chat

    stdin, out = io.StringIO("never read\n"), io.StringIO()
    args = chat_args("-n", "6", "--temp", "0", "-st")
    assert chat.repl(fake(), args, stdin=stdin, stdout=out, first="hello") == 0
    assert out.getvalue() == "Hi!Hi!\n" and stdin.tell() == 0  # -p is the first turn; -st: nothing read after it
    out = io.StringIO()
    assert chat.repl(fake(), args, stdin=stdin, stdout=out, first="hello", stop=["!"]) == 0
    assert out.getvalue() == "Hi\n"  # a reverse prompt ends the answer


def test_interactive_mode_hands_control_back_at_the_reverse_prompt():
    """llama-cli -i -r: the text runs on until the reverse prompt (kept), the input line is appended as typed
    (--in-prefix/--in-suffix around it), the end of the input ends the program."""
    from llamacore.commands import cli

    llm = fake(b"Bob: Hi. User:")
    args = chat_args("-i", "-r", "User:", "-n", "40", "--temp", "0", "--in-suffix", "Bob:")
    out = io.StringIO()
    assert cli.interactive(llm, args, "Hello. ", ["User:"], {}, io.StringIO(" hey\n"), out) == 0
    text = out.getvalue()
    assert text.startswith("Hello. ") and text.count("User:") == 2 and text.endswith("User:\n")
    assert "Bob:" in text.split("User:", 1)[1]  # the suffix is printed after the input, and the model went on


def pexpect_eof():
    import pexpect

    return pexpect.EOF


INTERACTIVE_CHILD = textwrap.dedent(
    """
    import sys, argparse
    sys.path[:0] = [{tests!r}]
    from test_llama import make_llama
    from llamacore.commands import cli, flags

    llm, engine = make_llama(b"Bob: Hi. User:", n_ctx=256, add_bos=False)
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = flags.parse(parser, ["-i", "-r", "User:", "-n", "40", "--temp", "0"])
    code = cli.interactive(llm, args, "Hello. ", ["User:"], {{}}, sys.stdin, sys.stdout)
    print("EXIT", code)
    sys.exit(code)
    """
)


def test_interactive_mode_in_a_terminal():
    """llama-cli -i in a terminal: the text stops at the reverse prompt, a typed line continues it, Ctrl-D ends."""
    pexpect = pytest.importorskip("pexpect")
    code = INTERACTIVE_CHILD.format(tests=str(TESTS))
    child = pexpect.spawn(sys.executable, ["-c", code], encoding="utf-8", timeout=20, dimensions=(24, 200))
    child.expect("Hello. ")
    child.expect("User:")
    child.sendline(" hey")
    child.expect("User:")  # generation went on after the line and stopped at the next reverse prompt
    child.sendeof()
    child.expect("EXIT 0")
    child.expect(pexpect_eof())
    child.close()
    assert child.exitstatus == 0
