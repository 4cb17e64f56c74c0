"""llama.cpp command lines, as people copy them from tutorials, run on `llamacore cli/run/chat` with the real test
models (SmolLM2-135M-Instruct has a chat template, Gemma-3-270M is a base model without one): output and exit code.
-hf runs against a stand-in for the Hugging Face Hub on loopback (test_hub.FakeHub); nothing reaches the Hub."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def llamacore(*args: str, stdin: str | None = "", env=None, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run `python -m llamacore ARGS`; stdin "" is an empty pipe (at its end at once), as in a script."""
    return subprocess.run([sys.executable, "-m", "llamacore", *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=env)  # fmt: skip


def no_traceback(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr, r.stderr


def test_completion_with_a_prompt(smollm2_path, gemma3_path):
    # llama-cli -m model.gguf -p "..." -n 128: a chat model answers once (no waiting for input), exit 0
    r = llamacore("cli", "-m", str(smollm2_path), "-p", "What is the capital of France?", "-n", "24", "--temp", "0")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip()) > 5 and "<|im_" not in r.stdout and not r.stdout.startswith("> ")
    # a base model continues the text, printed after its prompt as llama-cli prints it
    r = llamacore("cli", "-m", str(gemma3_path), "-p", "I believe the meaning of life is", "-n", "16", "-temp", "0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("I believe the meaning of life is") and len(r.stdout) > 40
    again = llamacore("cli", str(gemma3_path), "-p", "I believe the meaning of life is", "-n", "16", "--temp", "0",
                      "--no-display-prompt")  # fmt: skip
    assert again.returncode == 0 and r.stdout == "I believe the meaning of life is" + again.stdout


def test_conversation_reads_turns_until_the_end_of_input(smollm2_path):
    # llama-cli -m model.gguf -cnv (and the default for a chat model without -p): one turn a line, exit 0 at EOF
    for extra in (["-cnv"], []):
        r = llamacore("cli", "-m", str(smollm2_path), *extra, "-n", "16", "--temp", "0",
                      stdin="Hello!\nWhat is 2+2?\n")  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("> ") and r.stdout.endswith("> \n")  # two answers, then the end of the input
        assert r.stdout.count("> ") >= 3
    r = llamacore("cli", "-m", str(smollm2_path), "-cnv", "-p", "Say hi", "-sys", "You are terse.", "-n", "12",
                  "--temp", "0", "-st", stdin=None)  # fmt: skip
    assert r.returncode == 0 and r.stdout.strip() and not r.stdout.startswith("> ")  # -st: one answer, no input
    r = llamacore("chat", str(smollm2_path), "-n", "8", "--temp", "0", stdin="Hi\n")
    assert r.returncode == 0 and r.stdout.startswith("> ") and r.stdout.endswith("> \n")


def test_gpu_and_memory_options_are_accepted_and_said(smollm2_path):
    # llama-cli --gpu-layers 25 --color --prompt "..." / -ngl 32 --mlock -t $(nproc) -c 2048 -temp 0.7 -s 42
    r = llamacore("run", str(smollm2_path), "--gpu-layers", "25", "--color", "--prompt", "Tell me a joke.",
                  "-n", "12", "-s", "42")  # fmt: skip
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
    assert r.stderr.count("has no effect") == 1 and "--gpu-layers" in r.stderr
    argv = ["cli", "-m", str(smollm2_path), "-ngl", "32", "--mlock", "-t", "2", "-c", "2048", "-temp", "0.7", "-s",
            "42", "-p", "Name a fruit.", "-n", "12", "-fa", "--no-mmap", "-b", "64"]  # fmt: skip
    a, b = llamacore(*argv), llamacore(*argv)
    assert a.returncode == 0 and a.stdout.strip() and a.stdout == b.stdout  # seeded: the same text
    said = [line for line in a.stderr.splitlines() if "has no effect" in line]
    assert len(said) == 4 and len(set(said)) == 4  # -ngl, --mlock, -fa, --no-mmap: each once


def test_kv_cache_types_and_chat_templates(smollm2_path, gemma3_path, tmp_path):
    r = llamacore("cli", "-m", str(smollm2_path), "-ctk", "q8_0", "-ctv", "q8_0", "-p", "Hi", "-n", "8")
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
    r = llamacore("cli", "-m", str(smollm2_path), "-ctk", "q4_0", "-p", "Hi", "-n", "8")
    assert r.returncode == 1 and "q4_0" in r.stderr
    no_traceback(r)
    # a base model answers through a named template (llama.cpp's names), or one from a file
    args = ("cli", "-m", str(gemma3_path), "-p", "Hello", "-n", "8", "--temp", "0", "--no-display-prompt")
    r, plain = llamacore(*args, "--chat-template", "gemma", "--jinja"), llamacore(*args)
    assert r.returncode == 0 and plain.returncode == 0 and r.stdout.strip(), r.stderr
    assert r.stdout != plain.stdout  # the prompt went through the template
    template = tmp_path / "t.jinja"
    template.write_text("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:")
    r = llamacore("cli", "-m", str(gemma3_path), "--chat-template-file", str(template), "-p", "Hi", "-n", "6")
    assert r.returncode == 0 and r.stdout.strip(), r.stderr


def test_interactive_mode_with_a_reverse_prompt(gemma3_path):
    # llama-cli -m model.gguf -i -r "User:" -p "..." : the model runs to "User:", the line typed goes in after it
    prompt = r"Transcript of a dialog.\nUser: Hello, Bob.\nBob: Hello. How may I help you?\nUser:"
    r = llamacore("cli", "-m", str(gemma3_path), "-i", "-r", "User:", "--in-prefix", " ", "-p", prompt, "-n", "40",
                  "--temp", "0", stdin="What is the capital of France?\n")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Transcript of a dialog.\nUser: Hello, Bob.")  # -e (default): \n is a new line
    assert r.stdout.count("User:") >= 3  # the prompt's two, then generation stopped at the next one


def test_prompt_file_and_standard_input(smollm2_path, gemma3_path, tmp_path):
    f = tmp_path / "prompt.txt"
    f.write_text("The sky is\n")
    r = llamacore("cli", "-m", str(gemma3_path), "-f", str(f), "-n", "6", "--temp", "0")
    assert r.returncode == 0 and r.stdout.startswith("The sky is") and len(r.stdout) > len("The sky is") + 2
    r = llamacore("run", "-m", str(smollm2_path), "-n", "8", "--temp", "0", stdin="Name a colour.")
    assert r.returncode == 0 and r.stdout.strip()
    r = llamacore("cli", "-m", str(gemma3_path), "-p", "Nothing more", "-n", "0")  # -n 0: nothing generated
    assert r.returncode == 0 and r.stdout == "Nothing more\n"


def test_errors_are_one_line(smollm2_path, tmp_path):
    r = llamacore("cli", "-m", str(tmp_path / "missing.gguf"), "-p", "hi")
    assert r.returncode == 1 and "missing.gguf" in r.stderr
    r = llamacore("cli", "-m", str(smollm2_path), "-p", "hi", "--grammar", 'root ::= "yes" | "no"', "-n", "4")
    assert r.returncode in (0, 1)  # 1 where grammars are not built yet, with a message that says so
    if r.returncode == 1:
        assert "grammar" in r.stderr and r.stderr.count("\n") == 1
    r = llamacore("cli", "-m", str(smollm2_path), "-p", "hi", "-j", "{not json")
    assert r.returncode == 1 and ("JSON" in r.stderr or "grammar" in r.stderr)
    r = llamacore("cli", "-m", str(smollm2_path), "-p", "hi", "--mirostat", "3")
    assert r.returncode == 1 and "mirostat" in r.stderr.lower()
    r = llamacore("cli", "-hff", "x.gguf", "-p", "hi")
    assert r.returncode == 1 and "-hf" in r.stderr
    r = llamacore("cli", "-m", str(smollm2_path), "-p", "hi", "--nope")
    assert r.returncode == 2 and "unrecognized arguments: --nope" in r.stderr
    for res in [r]:
        no_traceback(res)


# ---- -hf ORG/REPO[:QUANT] ----
@pytest.fixture
def fake_hub(smollm2_path):
    sys.path.insert(0, str(TESTS))
    try:
        from test_hub import FakeHub
    finally:
        sys.path.remove(str(TESTS))
    real = smollm2_path.read_bytes()
    hub = FakeHub({
        "tester/SmolLM2-135M-Instruct-GGUF": {
            "SmolLM2-135M-Instruct-Q8_0.gguf": b"GGUF not really a model",
            "SmolLM2-135M-Instruct-Q4_K_M.gguf": real,  # the name -hf picks by default (the content is Q4_1)
            "mmproj-SmolLM2-f16.gguf": b"GGUF not a model either",
            "README.md": b"# a model\n",
        }
    })  # fmt: skip
    yield hub
    hub.close()


def test_hf_repo_downloads_the_default_quant_and_runs(fake_hub, tmp_path):
    env = fake_hub.env(tmp_path / "hf")
    r = llamacore("cli", "-hf", "tester/SmolLM2-135M-Instruct-GGUF", "-p", "Hi", "-n", "8", "--temp", "0", env=env)
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
    assert ("GET", "/tester/SmolLM2-135M-Instruct-GGUF/resolve/main/SmolLM2-135M-Instruct-Q4_K_M.gguf") in (
        fake_hub.requests
    )
    cached = list((tmp_path / "hf").rglob("SmolLM2-135M-Instruct-Q4_K_M.gguf"))
    assert cached  # in huggingface_hub's cache
    # a quant picks its file (any case): this Q8_0 is not a GGUF model, so loading it fails with a message
    r = llamacore("run", "-hf", "tester/SmolLM2-135M-Instruct-GGUF:q8_0", "-p", "Hi", env=env)
    assert r.returncode == 1 and "Q8_0" in r.stderr
    no_traceback(r)
    # -hff names the file; hf:ORG/REPO[:QUANT] works wherever a model is named
    r = llamacore("run", "-hf", "tester/SmolLM2-135M-Instruct-GGUF", "-hff", "smollm2-135m-instruct-q4_k_m.gguf",
                  "-p", "Hi", "-n", "4", env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = llamacore("info", "hf:tester/SmolLM2-135M-Instruct-GGUF:Q4_K_M", env=env)
    assert r.returncode == 0 and "llama" in r.stdout
    # offline (HF_HUB_OFFLINE, or the Hub unreachable): the cached file is used
    fake_hub.close()
    for extra in ({"HF_HUB_OFFLINE": "1"}, {}):
        r = llamacore("run", "-hf", "tester/SmolLM2-135M-Instruct-GGUF", "-p", "Hi", "-n", "4", env={**env, **extra})
        assert r.returncode == 0 and r.stdout.strip(), r.stderr
    r = llamacore("run", "-hf", "tester/SmolLM2-135M-Instruct-GGUF", "--offline", "-p", "Hi", "-n", "4", env=env)
    assert r.returncode == 0 and r.stdout.strip(), r.stderr


def test_hf_repo_errors(fake_hub, tmp_path):
    env = fake_hub.env(tmp_path / "hf")
    r = llamacore("cli", "-hf", "tester/no-such-repo", "-p", "Hi", env=env)
    assert r.returncode == 1 and "no such repository" in r.stderr
    r = llamacore("cli", "-hf", "tester/SmolLM2-135M-Instruct-GGUF:IQ2_XS", "-p", "Hi", env=env)
    assert r.returncode == 1 and "no IQ2_XS GGUF file" in r.stderr and "Q4_K_M" in r.stderr  # lists what there is
    r = llamacore("cli", "-hf", "not-a-repo", "-p", "Hi", env=env)
    assert r.returncode == 1 and "<user>/<model>[:quant]" in r.stderr
    fake_hub.close()  # nothing listens any more: the network is named, no traceback
    r = llamacore("cli", "-hf", "tester/SmolLM2-135M-Instruct-GGUF", "-p", "Hi", env=env)
    assert r.returncode == 1 and "network" in r.stderr and re.search(r"127\.0\.0\.1:\d+", r.stderr)
    assert r.stderr.strip().count("\n") == 0 or "Retrying" in r.stderr
    no_traceback(r)
    r = llamacore("cli", "-hf", "tester/SmolLM2-135M-Instruct-GGUF", "-p", "Hi", env={**env, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 1 and "HF_HUB_OFFLINE" in r.stderr and "network" in r.stderr
    no_traceback(r)


def test_the_chat_with_bob_command_line(gemma3_path, tmp_path):
    """The classic one: ./main -m model -c 512 -b 1024 -n 256 --keep 48 --repeat_penalty 1.0 --color -i
    -r "User:" -f prompts/chat-with-bob.txt"""
    bob = tmp_path / "chat-with-bob.txt"
    bob.write_text("Transcript of a dialog, where the User interacts with an Assistant named Bob.\n\n"
                   "User: Hello, Bob.\nBob: Hello. How may I help you today?\nUser:")  # fmt: skip
    r = llamacore("cli", "-m", str(gemma3_path), "-c", "512", "-b", "1024", "-n", "32", "--keep", "48",
                  "--repeat_penalty", "1.0", "--color", "-i", "-r", "User:", "-f", str(bob),
                  stdin=" What is the largest city in Europe?\n")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Transcript of a dialog") and r.stdout.rstrip().endswith("User:")
    assert "--keep has no effect" in r.stderr


def test_sampling_options_on_a_real_model(smollm2_path):
    r = llamacore("cli", "-m", str(smollm2_path), "-no-cnv", "-p", "One two three", "-n", "6", "--ignore-eos",
                  "-l", "28+2", "--temp", "0", "--no-display-prompt")  # fmt: skip
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
    r = llamacore("cli", "-m", str(smollm2_path), "-p", "hi", "--lora", "adapter.gguf")
    assert r.returncode == 1 and "--lora" in r.stderr and "LoRA" in r.stderr
    no_traceback(r)


def test_cli_in_a_terminal_starts_a_conversation(smollm2_path):
    """`llamacore cli MODEL` with a chat model and no prompt: a conversation; Ctrl-D ends it with 0."""
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(sys.executable, ["-m", "llamacore", "cli", "-m", str(smollm2_path), "-n", "16", "--temp",
                                           "0"], encoding="utf-8", timeout=120)  # fmt: skip
    child.expect("> ")
    child.sendline("What is the capital of France?")
    child.expect("> ")
    assert len(child.before.strip()) > len("What is the capital of France?")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
