"""`llamacore chat` in a pseudo-terminal: answers stream, history is kept, Ctrl-C stops an answer but not the
program, /clear, /exit and Ctrl-D. The conversation loop runs over the fake model of test_llama.py (so it is
exact and fast); test_cli_run.py runs the real command on a real model."""

from __future__ import annotations

import io
import sys
import textwrap
from argparse import Namespace
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
    from llamacore.commands import chat

    def policy(cache):
        text = bytes(t for t in cache if t < 256).decode("utf-8", "replace")
        if text.endswith("assistant\\n"):
            last_user = text.rsplit("user\\n", 1)[-1]
            return ord("l") if "sing" in last_user else ord("H")
        nxt = {{"H": "i", "i": "!", "l": "a", "a": " ", " ": "l"}}
        return ord(nxt[text[-1]]) if text and text[-1] in nxt else IM_END

    llm, engine = make_llama(n_ctx=4096, add_bos=False, policy=policy, delay={delay}, strength=30.0)
    args = argparse.Namespace(system=None, n_predict=-1, temp=0.0, top_k=40, top_p=0.95, min_p=0.05,
                              repeat_penalty=1.0, presence_penalty=0.0, frequency_penalty=0.0, no_color=False)
    code = chat.repl(llm, args)
    print("EXIT", code, "CACHE", repr(bytes(t for t in engine.cache if t < 256).decode()))
    sys.exit(code)
    """
)


def spawn(delay: float = 0.0):
    pexpect = pytest.importorskip("pexpect")
    code = CHILD.format(tests=str(TESTS), delay=delay)
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
    args = Namespace(system="Be nice.", n_predict=3, temp=0.0, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0,
                     presence_penalty=0.0, frequency_penalty=0.0, no_color=False)  # fmt: skip
    assert chat.repl(llm, args, stdin=io.StringIO("hello\n/clear\n"), stdout=out) == 0
    assert "\x1b[" not in out.getvalue()  # not a terminal: no escape codes
    assert "(conversation cleared)" in out.getvalue()


def pexpect_eof():
    import pexpect

    return pexpect.EOF
