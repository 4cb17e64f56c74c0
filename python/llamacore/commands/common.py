"""What `llamacore cli`, `run` and `chat` share: llama-cli's options (the table in flags.py), the model they name,
and the Llama arguments the options stand for."""

from __future__ import annotations

import argparse
import json
import os
import re
from typing import Any

from . import flags

DEFAULT_MODEL = "smollm2-135m-instruct"

# llama.cpp's built-in chat template names -> llamacore's chat_format names (where they differ)
LLAMA_CPP_TEMPLATES = {
    "llama2": "llama-2",
    "llama2-sys": "llama-2",
    "llama2-sys-bos": "llama-2",
    "llama3": "llama-3",
    "phi3": "phi-3",
    "mistral-v1": "mistral-instruct",
    "mistral-v3": "mistral-instruct",
    "mistral-v7": "mistral-instruct",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    flags.add_arguments(p, flags.CLI, model_default=DEFAULT_MODEL)


# ---- text options ----
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "'": "'", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f",
            "v": "\v", "?": "?", "0": "\0"}  # fmt: skip


def unescape(text: str) -> str:
    """llama.cpp's escape processing of prompts (-e, on by default): \\n, \\t, \\', \\", \\\\, \\xNN."""

    def one(m: re.Match) -> str:
        s = m.group(1)
        if s[0] == "x":
            return chr(int(s[1:], 16)) if len(s) == 3 else m.group(0)
        return _ESCAPES.get(s, m.group(0))

    return re.sub(r"\\(x[0-9a-fA-F]{2}|.)", one, text, flags=re.S)


def _read(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise ValueError(f"cannot read the {what} file {path!r}: {e.strerror or e}") from None


def prompt_text(args: argparse.Namespace) -> str | None:
    """The prompt from -p or -f (None: neither), as llama.cpp reads it (one final newline of a file dropped)."""
    if args.prompt is not None and args.file is not None:
        raise ValueError("give the prompt with -p or -f, not both")
    if args.file is not None:
        text = _read(args.file, "prompt")
        text = text[:-1] if text.endswith("\n") else text
    else:
        text = args.prompt
    return unescape(text) if text is not None and args.escape else text


def system_prompt(args: argparse.Namespace) -> str | None:
    if args.system_prompt is not None and args.system_prompt_file is not None:
        raise ValueError("give the system prompt with -sys or -sysf, not both")
    text = args.system_prompt
    if args.system_prompt_file is not None:
        text = _read(args.system_prompt_file, "system prompt").removesuffix("\n")
    return unescape(text) if text is not None and args.escape else text


def reverse_prompts(args: argparse.Namespace) -> list[str]:
    return [unescape(r) if args.escape else r for r in args.reverse_prompt if r]


# ---- the model ----
def model_spec(args: argparse.Namespace) -> str:
    """The model the options name (MODEL, -m or -hf/-hff), as hub.resolve reads it."""
    # a model named on the command line wins over LLAMA_ARG_MODEL / LLAMA_ARG_HF_REPO, as in llama.cpp
    m_env = args.model_option is not None and args.model_option == os.environ.get("LLAMA_ARG_MODEL")
    hf_env = args.hf_repo is not None and args.hf_repo == os.environ.get("LLAMA_ARG_HF_REPO")
    if m_env and (args.model or (args.hf_repo and not hf_env)):
        args.model_option = None
    if hf_env and (args.model or (args.model_option and not m_env)):
        args.hf_repo = args.hf_file = None
    named = [m for m in (args.model, args.model_option) if m]
    if len(set(named)) > 1:
        raise ValueError(f"two models named: {named[0]!r} and -m {named[1]!r}; give one")
    if args.hf_repo:
        if named:
            raise ValueError("give the model with MODEL/-m or with -hf, not both")
        return "hf:" + args.hf_repo
    if args.hf_file:
        raise ValueError("-hff/--hf-file names a file in the -hf repository: give -hf ORG/REPO too")
    return named[0] if named else DEFAULT_MODEL


def resolve_model(args: argparse.Namespace):
    from .. import hub

    spec = model_spec(args)
    download = not args.offline  # --offline: only what is in the caches already
    if spec.startswith("hf:") and args.hf_repo:
        return hub.resolve_hf_repo(args.hf_repo, filename=args.hf_file, token=args.hf_token, download=download)
    return hub.resolve(spec, download=download)


def check_options(args: argparse.Namespace) -> None:
    """Refuse bad options before spending time on loading the model."""
    from ..sampling import SamplingParams

    if args.n_predict < -2:
        raise ValueError(f"-n/--n-predict must be >= -2 (-1: no limit, -2: fill the context), got {args.n_predict}")
    if args.seed < -1:
        raise ValueError(f"--seed must be >= -1 (-1: random), got {args.seed}")
    flags.check_supported(args, flags.CLI)
    logit_bias(args)
    SamplingParams(
        temp=max(args.temp, 0.0),  # llama.cpp takes a negative temperature as 0 (greedy)
        top_k=args.top_k,
        top_p=args.top_p,
        min_p=args.min_p,
        repeat_penalty=args.repeat_penalty,
        frequency_penalty=args.frequency_penalty,
        presence_penalty=args.presence_penalty,
    )


def chat_format(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(chat_format name for Llama, or a Jinja template text) from --chat-template / --chat-template-file."""
    if args.chat_template is not None and args.chat_template_file is not None:
        raise ValueError("give --chat-template or --chat-template-file, not both")
    if args.chat_template_file is not None:
        return None, _read(args.chat_template_file, "chat template")
    name = args.chat_template
    if name is None:
        return None, None
    if "{{" in name or "{%" in name:
        return None, name
    return LLAMA_CPP_TEMPLATES.get(name, name), None


def load_model(args: argparse.Namespace):
    """The Llama the options describe (after checking them, and saying which ones do nothing here)."""
    from ..llama import Llama

    check_options(args)
    template_kwargs(args)
    flags.report_no_effect(args, flags.CLI)
    fmt, template = chat_format(args)
    llm = Llama(
        str(resolve_model(args)),
        n_ctx=args.ctx_size,
        n_threads=args.threads,
        n_batch=args.batch_size,
        seed=args.seed,
        last_n_tokens_size=args.repeat_last_n,
        chat_format=fmt,
        type_k=args.cache_type_k,
        type_v=args.cache_type_v,
        verbose=(args.verbose or args.verbosity > 3) and not args.log_disable,
    )
    if template is not None:
        _use_template(llm, template)
    return llm


def _use_template(llm, template: str) -> None:
    """A Jinja chat template given on the command line replaces the model's (llama-cpp-python has no public setter:
    it takes a chat_handler, which llamacore does not implement)."""
    from ..chat import ChatFormatter, ChatTemplate

    def text(token: int) -> str:
        return llm.detokenize([token], special=True).decode("utf-8", "replace") if token >= 0 else ""

    bos, eos = text(llm.token_bos()), text(llm.token_eos())
    llm._chat_formatter = ChatFormatter("custom", ChatTemplate(template, bos_token=bos, eos_token=eos, name="custom"),
                                        (eos,) if eos else ())  # fmt: skip
    llm.chat_format = "custom"


def has_chat_template(llm, args: argparse.Namespace) -> bool:
    """Whether prompts go through a chat template: the model's own, or one named on the command line."""
    return (
        args.chat_template is not None
        or args.chat_template_file is not None
        or llm.chat_format.startswith("chat_template.")
    )


def logit_bias(args: argparse.Namespace, llm=None) -> dict[int, float]:
    """-l TOKEN_ID(+/-)BIAS (repeatable) and --ignore-eos (needs llm for the end token) as Llama's logit_bias."""
    bias: dict[int, float] = {}
    for text in args.logit_bias:
        m = re.fullmatch(r"\s*(\d+)\s*([+-])\s*(\S+)\s*", text)
        try:
            value = float(m[3]) if m else None
        except ValueError:
            value = None
        if value is None:
            raise ValueError(f"-l/--logit-bias {text!r}: expected TOKEN_ID+BIAS or TOKEN_ID-BIAS, e.g. 15043+1")
        bias[int(m[1])] = -value if m[2] == "-" else value
    if args.ignore_eos and llm is not None:
        bias[llm.token_eos()] = float("-inf")
    return bias


def sampling_kwargs(args: argparse.Namespace, llm=None) -> dict[str, Any]:
    """create_completion / create_chat_completion arguments from the options (with llm: the logit bias too)."""
    bias = logit_bias(args, llm) if llm is not None else {}
    return dict(
        logit_bias=bias or None,
        mirostat_tau=args.mirostat_tau,
        mirostat_eta=args.mirostat_eta,
        max_tokens=-1 if args.n_predict == -2 else args.n_predict,
        temperature=max(args.temp, 0.0),
        top_k=args.top_k,
        top_p=args.top_p,
        min_p=args.min_p,
        typical_p=args.typical_p,
        repeat_penalty=args.repeat_penalty,
        presence_penalty=args.presence_penalty,
        frequency_penalty=args.frequency_penalty,
        mirostat_mode=args.mirostat,
        top_n_sigma=args.top_n_sigma,
        xtc_probability=args.xtc_probability,
        xtc_threshold=args.xtc_threshold,
        dry_multiplier=args.dry_multiplier,
        dry_base=args.dry_base,
        dry_allowed_length=args.dry_allowed_length,
        dry_penalty_last_n=args.dry_penalty_last_n,
        dry_sequence_breakers=_dry_breakers(args.dry_sequence_breaker),
        samplers=_samplers(args.samplers, args.sampling_seq),
    )


# llama.cpp's one-letter names of the samplers (--sampling-seq)
_SAMPLER_LETTERS = {"e": "penalties", "d": "dry", "s": "top_n_sigma", "k": "top_k", "y": "typ_p", "p": "top_p",
                    "m": "min_p", "x": "xtc", "t": "temperature"}  # fmt: skip


def _samplers(names: str | None, letters: str | None) -> str | None:
    if names is not None and letters is not None:
        raise ValueError("give --samplers or --sampling-seq, not both")
    if letters is None:
        return names
    unknown = sorted(set(letters) - set(_SAMPLER_LETTERS))
    if unknown:
        letters_known = "".join(_SAMPLER_LETTERS)
        raise ValueError(f"--sampling-seq: unknown sampler letter(s) {''.join(unknown)!r}: use {letters_known}")
    return ";".join(_SAMPLER_LETTERS[c] for c in letters)


def _dry_breakers(values: list[str] | None) -> list[str] | None:
    """--dry-sequence-breaker values (None: the default breakers; 'none': no breakers at all)."""
    if not values:
        return None
    return [] if values == ["none"] else [v for v in values if v != "none"]


def constraint_kwargs(args: argparse.Namespace, chat: bool) -> dict[str, Any]:
    """--grammar/--grammar-file and -j/-jf as Llama arguments: grammar=LlamaGrammar, or for a chat
    response_format={"type": "json_object", "schema": ...} (llama-cpp-python's form)."""
    grammar = args.grammar
    if args.grammar_file is not None:
        if grammar is not None:
            raise ValueError("give --grammar or --grammar-file, not both")
        grammar = _read(args.grammar_file, "grammar")
    schema_text = args.json_schema
    if args.json_schema_file is not None:
        if schema_text is not None:
            raise ValueError("give -j/--json-schema or -jf/--json-schema-file, not both")
        schema_text = _read(args.json_schema_file, "JSON schema")
    if grammar is not None and schema_text is not None:
        raise ValueError("give a grammar or a JSON schema, not both")
    if grammar is not None:
        return {"grammar": _grammar("from_string", grammar)}
    if schema_text is None:
        return {}
    try:
        schema = json.loads(schema_text)
    except ValueError as e:
        raise ValueError(f"-j/--json-schema: not valid JSON: {e}") from None
    if chat:
        return {"response_format": {"type": "json_object", "schema": schema}}
    return {"grammar": _grammar("from_json_schema", json.dumps(schema))}


def template_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """--chat-template-kwargs '{"enable_thinking": false}' as create_chat_completion's chat_template_kwargs."""
    if args.chat_template_kwargs is None:
        return {}
    try:
        value = json.loads(args.chat_template_kwargs)
    except ValueError as e:
        raise ValueError(f"--chat-template-kwargs: not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise ValueError("--chat-template-kwargs must be a JSON object, e.g. '{\"enable_thinking\": false}'")
    return {"chat_template_kwargs": value}


def _grammar(how: str, text: str):
    """LlamaGrammar.<how>(text) (llama-cpp-python's class), where llamacore has one."""
    import importlib

    for module in ("llamacore", "llamacore.grammar", "llamacore.llama_grammar", "llamacore.sampling"):
        try:
            cls = getattr(importlib.import_module(module), "LlamaGrammar", None)
        except ImportError:
            cls = None
        if cls is not None:
            return getattr(cls, how)(text)
    raise NotImplementedError("grammar-constrained sampling (--grammar, -j) is not in this llamacore build yet")


def use_color(args: argparse.Namespace, stream) -> bool:
    """--color on|off|auto (auto: a terminal, and NO_COLOR unset)."""
    color = getattr(args, "color", "auto")
    if getattr(args, "no_color", False) or color == "off":
        return False
    if color == "on":
        return True
    return stream.isatty() and "NO_COLOR" not in os.environ
