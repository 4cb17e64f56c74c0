"""`llamacore run [MODEL] -p PROMPT`: answer one prompt, streaming the text to stdout.

Instruct models (the GGUF carries a chat template) get the prompt as a user message through their template; other
models, or --raw, continue the prompt as plain text. MODEL is a GGUF path, hf:ORG/REPO/FILE.gguf or a catalog name
and defaults to smollm2-135m-instruct, so `llamacore run -p "Why is the sky blue?"` works on a fresh install.
Options use llama.cpp's names (-n, -c, -t, --temp, --top-k, ...).
"""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_MODEL = "smollm2-135m-instruct"


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """Model loading and sampling options shared by `run` and `chat`."""
    p.add_argument(
        "model",
        nargs="?",
        default=None,
        help=f"GGUF path, hf:ORG/REPO/FILE.gguf or catalog name (default: {DEFAULT_MODEL})",
    )
    p.add_argument("-m", "--model", dest="model_option", metavar="MODEL", help="same as the MODEL argument")
    p.add_argument(
        "-n",
        "--n-predict",
        type=int,
        default=-1,
        metavar="N",
        help="tokens to generate at most (default -1: until the model ends its answer or the context is full)",
    )
    p.add_argument(
        "-c",
        "--ctx-size",
        type=int,
        default=None,
        metavar="N",
        help="context length (default: min(4096, the model's); 0: the model's)",
    )
    p.add_argument("-t", "--threads", type=int, default=None, metavar="N", help="threads (default: physical cores)")
    p.add_argument("-b", "--batch-size", type=int, default=512, metavar="N", help="prompt batch size (default 512)")
    p.add_argument("-s", "--seed", type=int, default=-1, help="random seed (default -1: random)")
    p.add_argument("--temp", type=float, default=0.8, help="temperature, 0 = greedy (default 0.8)")
    p.add_argument("--top-k", type=int, default=40, help="top-k sampling, 0 = off (default 40)")
    p.add_argument("--top-p", type=float, default=0.95, help="top-p sampling, 1 = off (default 0.95)")
    p.add_argument("--min-p", type=float, default=0.05, help="min-p sampling, 0 = off (default 0.05)")
    p.add_argument("--repeat-penalty", type=float, default=1.0, help="repetition penalty, 1 = off (default 1.0)")
    p.add_argument("--repeat-last-n", type=int, default=64, help="tokens the penalties look back at (default 64)")
    p.add_argument("--presence-penalty", type=float, default=0.0, help="presence penalty (default 0)")
    p.add_argument("--frequency-penalty", type=float, default=0.0, help="frequency penalty (default 0)")
    p.add_argument(
        "--chat-template",
        default=None,
        metavar="NAME",
        help="chat format: chatml, llama-2, llama-3, gemma, ... (default: the model's own template)",
    )
    p.add_argument("-sys", "--system", default=None, metavar="TEXT", help="system prompt")
    p.add_argument("-v", "--verbose", action="store_true", help="print load and speed information on stderr")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("-p", "--prompt", default=None, help="the prompt (default: read from stdin when it is not a TTY)")
    p.add_argument("-f", "--file", default=None, help="read the prompt from a file")
    p.add_argument("--raw", action="store_true", help="plain completion of the prompt, no chat template")
    p.add_argument("--stop", action="append", default=[], metavar="TEXT", help="stop at this text (repeatable)")


def check_options(args: argparse.Namespace) -> None:
    """Refuse bad sampling options before spending time on loading the model."""
    from ..sampling import SamplingParams

    if args.n_predict < -1:
        raise ValueError(f"-n/--n-predict must be >= -1 (-1: no limit), got {args.n_predict}")
    if args.seed < -1:
        raise ValueError(f"--seed must be >= -1 (-1: random), got {args.seed}")
    SamplingParams(
        temp=args.temp,
        top_k=args.top_k,
        top_p=args.top_p,
        min_p=args.min_p,
        repeat_penalty=args.repeat_penalty,
        frequency_penalty=args.frequency_penalty,
        presence_penalty=args.presence_penalty,
    )


def load_model(args: argparse.Namespace):
    from ..llama import Llama

    check_options(args)
    model = args.model_option or args.model or DEFAULT_MODEL
    return Llama(
        model,
        n_ctx=args.ctx_size,
        n_threads=args.threads,
        n_batch=args.batch_size,
        seed=args.seed,
        last_n_tokens_size=args.repeat_last_n,
        chat_format=args.chat_template,
        verbose=args.verbose,
    )


def sampling_kwargs(args: argparse.Namespace) -> dict:
    """create_completion / create_chat_completion arguments from the options."""
    return dict(
        max_tokens=args.n_predict,
        temperature=args.temp,
        top_k=args.top_k,
        top_p=args.top_p,
        min_p=args.min_p,
        repeat_penalty=args.repeat_penalty,
        presence_penalty=args.presence_penalty,
        frequency_penalty=args.frequency_penalty,
    )


def _read_prompt(args: argparse.Namespace) -> str:
    if args.prompt is not None and args.file is not None:
        raise ValueError("give the prompt with -p or -f, not both")
    if args.file is not None:
        with open(args.file, encoding="utf-8") as f:
            return f.read()
    if args.prompt is not None:
        return args.prompt
    if not sys.stdin.isatty():
        return sys.stdin.read()
    raise ValueError('no prompt: use -p "..." (or `llamacore chat` for a conversation)')


def main(args: argparse.Namespace) -> int:
    prompt = _read_prompt(args)
    if args.raw and args.system:
        raise ValueError("--system needs a chat template: it cannot be used with --raw")
    llm = load_model(args)
    chat = not args.raw and (args.chat_template is not None or llm.chat_format.startswith("chat_template."))
    if chat:
        messages = [{"role": "system", "content": args.system}] if args.system else []
        messages.append({"role": "user", "content": prompt})
        stream = llm.create_chat_completion(messages, stream=True, stop=args.stop, **sampling_kwargs(args))
        pieces = (c["choices"][0]["delta"].get("content") or "" for c in stream)
    else:
        if args.system:
            raise ValueError("--system needs a chat template (drop --raw or pick one with --chat-template)")
        stream = llm.create_completion(prompt, stream=True, stop=args.stop, **sampling_kwargs(args))
        pieces = (c["choices"][0]["text"] for c in stream)
    out = sys.stdout
    last = ""
    try:
        for text in pieces:
            if text:
                out.write(text)
                out.flush()
                last = text
        if not last.endswith("\n"):
            out.write("\n")
        out.flush()
    except KeyboardInterrupt:
        out.write("\n")
        raise
    except BrokenPipeError:  # e.g. `llamacore run ... | head -1`: the reader has gone, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())  # nothing more to flush at exit
    finally:
        llm.close()
    return 0
