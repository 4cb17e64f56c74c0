"""llama.cpp's command-line options, one row each, and the argparse parsers made from them.

Each row gives an option's llama.cpp spellings (short and long, as llama.cpp writes them: `-ngl`, `-cnv` and `-hf`
are single-dash long options), what it means, the LLAMA_ARG_* environment variable llama.cpp reads for it, and which
programs take it:

    cli         llama-cli (and llama-completion): `llamacore cli`, `run`, `chat`
    server      llama-server: `llamacore serve`
    bench       llama-bench (its own parser: -p/-n/-r are prompt length, tokens to generate and repetitions,
                and values are comma-separated lists)
    perplexity  llama-perplexity

Facts from llama.cpp's common/arg.cpp and tools/llama-bench; the parsing is written here. Three things make
llama.cpp's command lines parse the way llama.cpp parses them:
  - every spelling is registered as an option string and abbreviations are off, so `-cnv` and `-ngl` are whole
    options (argparse matches a whole option string before it tries `-c nv` or `-n gl`);
  - llama.cpp gives an option the next argument whatever it is: `-p "-5 degrees"` or `-r "-- User:"` work because
    `normalize_argv` joins such a pair into `-p=-5 degrees` before argparse sees it;
  - options whose value llama.cpp made optional over time (`-fa`, `--color`: a bare switch in older releases,
    `on|off|auto` now) take the value when the next argument is one, else mean `on`.
Environment variables (where llama.cpp reads one) set the default; the command line wins over them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

CLI, SERVER, BENCH, PERPLEXITY = "cli", "server", "bench", "perplexity"
PROGRAMS = (CLI, SERVER, BENCH, PERPLEXITY)
_COMMON = frozenset({CLI, SERVER, PERPLEXITY})  # llama.cpp's programs built on common/arg.cpp
_GEN = frozenset({CLI, SERVER})  # the ones that generate text

_TRUE = ("on", "enabled", "true", "1")
_FALSE = ("off", "disabled", "false", "0")
_AUTO = ("auto", "-1")
ON_OFF_AUTO = _TRUE + _FALSE + _AUTO


def on_off_auto(value: str) -> str:
    """llama.cpp's tri-state values (on/enabled/true/1, off/disabled/false/0, auto/-1) as 'on', 'off' or 'auto'."""
    v = value.strip().lower()
    if v in _TRUE:
        return "on"
    if v in _FALSE:
        return "off"
    if v in _AUTO:
        return "auto"
    raise argparse.ArgumentTypeError(f"expected on, off or auto, got {value!r}")


def int_list(value: str) -> list[int]:
    """llama-bench's values: comma-separated integers (`-p 512,1024`)."""
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {value!r}") from None


def int_pair(value: str) -> tuple[int, int]:
    """llama-bench's -pg PP,TG."""
    values = int_list(value)
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected two comma-separated integers PP,TG, got {value!r}")
    return values[0], values[1]


def str_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def gpu_layers(value: str) -> str:
    """-ngl: a number of layers, 'auto' or 'all' (kept as text: nothing is offloaded on this build)."""
    v = value.strip().lower()
    if v in ("auto", "all") or v.lstrip("-").isdigit():
        return v
    raise argparse.ArgumentTypeError(f"expected a number of layers, 'auto' or 'all', got {value!r}")


@dataclass(frozen=True)
class Flag:
    names: tuple[str, ...]  # llama.cpp's spellings
    dest: str
    help: str
    programs: frozenset[str]
    type: Callable[[str], Any] | None = str  # None: a switch that takes no value
    default: Any = None
    metavar: str | None = None
    env: str | None = None  # the environment variable llama.cpp reads for it
    negative: tuple[str, ...] = ()  # spellings that turn a switch off (--no-mmap)
    bare: str | None = None  # value when given without one (-fa, --color)
    repeat: bool = False  # may be given several times: a list
    no_effect: str | None = None  # said once on stderr when set to something else than the default
    unsupported: str | None = None  # an error (exit 1) when set: llamacore cannot do what it asks yet

    @property
    def takes_value(self) -> bool:
        return self.type is not None

    @property
    def is_list(self) -> bool:
        """Its values make a list: a repeatable option, or llama-bench's comma-separated values."""
        return self.repeat or self.type in (int_list, str_list)


def _f(names: str, dest: str, help: str, programs: Iterable[str], **kw) -> Flag:
    return Flag(tuple(names.split()), dest, help, frozenset(programs), **kw)


_NO_GPU = "this build runs on the CPU (no GPU backend offloads yet)"

# fmt: off
FLAGS: tuple[Flag, ...] = (
    # ---- model ----
    _f("-m --model", "model_option", "model path (same as the MODEL argument)", _COMMON, metavar="FNAME",
       env="LLAMA_ARG_MODEL"),
    _f("-hf -hfr --hf-repo", "hf_repo", "Hugging Face repository: <user>/<model>[:quant]; the quant picks the file "
       "(default Q4_K_M, then Q8_0, then the first GGUF)", _COMMON, metavar="REPO[:QUANT]", env="LLAMA_ARG_HF_REPO"),
    _f("-hff --hf-file", "hf_file", "file in the -hf repository (overrides the quant)", _COMMON, metavar="FILE",
       env="LLAMA_ARG_HF_FILE"),
    _f("-hft --hf-token", "hf_token", "Hugging Face access token (default: the HF_TOKEN variable)", _COMMON,
       metavar="TOKEN", env="HF_TOKEN"),
    _f("--offline", "offline", "use the cache only: no network access", _COMMON, type=None, env="LLAMA_ARG_OFFLINE"),
    # ---- prompt ----
    _f("-p --prompt", "prompt", "prompt to start generation with", {CLI, PERPLEXITY}, metavar="PROMPT"),
    _f("-f --file", "file", "a file holding the prompt", {CLI, PERPLEXITY}, metavar="FNAME"),
    _f("-sys --system-prompt", "system_prompt", "system prompt (through the chat template)", {CLI},
       metavar="PROMPT"),
    _f("-sysf --system-prompt-file", "system_prompt_file", "a file holding the system prompt", {CLI},
       metavar="FNAME"),
    _f("-e --escape", "escape", "process escapes (\\n, \\t, \\', \\\", \\\\) in prompts (default: on)", {CLI},
       type=None, default=True, negative=("--no-escape",)),
    # ---- context and threads ----
    _f("-n --predict --n-predict", "n_predict", "tokens to generate (default -1: until the answer ends or the "
       "context is full)", _GEN, type=int, default=-1, metavar="N", env="LLAMA_ARG_N_PREDICT"),
    _f("-c --ctx-size", "ctx_size", "context size (default: min(4096, the model's); 0: the model's)", _COMMON,
       type=int, metavar="N", env="LLAMA_ARG_CTX_SIZE"),
    _f("-b --batch-size", "batch_size", "prompt tokens per forward pass (default 512)", _COMMON, type=int,
       default=512, metavar="N", env="LLAMA_ARG_BATCH"),
    _f("-ub --ubatch-size", "ubatch_size", "physical batch size", _COMMON, type=int, metavar="N",
       env="LLAMA_ARG_UBATCH", no_effect="llamacore splits batches itself"),
    _f("-t --threads", "threads", "CPU threads (default: the physical cores)", _COMMON, type=int, metavar="N",
       env="LLAMA_ARG_THREADS"),
    _f("-tb --threads-batch", "threads_batch", "threads for the prompt", _COMMON, type=int, metavar="N",
       no_effect="the prompt uses the -t threads"),
    # ---- sampling ----
    _f("-s --seed", "seed", "random seed (default -1: random)", _GEN, type=int, default=-1, metavar="SEED"),
    _f("--temp -temp --temperature", "temp", "temperature, 0 = greedy (default 0.8)", _GEN, type=float,
       default=0.8, metavar="N"),
    _f("--top-k", "top_k", "top-k sampling, 0 = off (default 40)", _GEN, type=int, default=40, metavar="N",
       env="LLAMA_ARG_TOP_K"),
    _f("--top-p", "top_p", "top-p sampling, 1.0 = off (default 0.95)", _GEN, type=float, default=0.95,
       metavar="N"),
    _f("--min-p", "min_p", "min-p sampling, 0.0 = off (default 0.05)", _GEN, type=float, default=0.05,
       metavar="N"),
    _f("--typical --typical-p", "typical_p", "locally typical sampling, 1.0 = off (default 1.0)", _GEN,
       type=float, default=1.0, metavar="N"),
    _f("--repeat-penalty", "repeat_penalty", "repetition penalty, 1.0 = off (default 1.0)", _GEN, type=float,
       default=1.0, metavar="N"),
    _f("--repeat-last-n", "repeat_last_n", "tokens the penalties look back at (default 64)", _GEN, type=int,
       default=64, metavar="N"),
    _f("--presence-penalty", "presence_penalty", "presence penalty, 0.0 = off", _GEN, type=float, default=0.0,
       metavar="N"),
    _f("--frequency-penalty", "frequency_penalty", "frequency penalty, 0.0 = off", _GEN, type=float,
       default=0.0, metavar="N"),
    _f("--mirostat", "mirostat", "Mirostat sampling: 0 off, 1 v1, 2 v2", _GEN, type=int, default=0, metavar="N"),
    _f("--grammar", "grammar", "GBNF grammar that constrains the output", _GEN, metavar="GRAMMAR"),
    _f("--grammar-file", "grammar_file", "file holding a GBNF grammar", _GEN, metavar="FNAME"),
    _f("-j --json-schema", "json_schema", "JSON schema the output must follow, e.g. {} for any JSON object", _GEN,
       metavar="SCHEMA"),
    _f("-jf --json-schema-file", "json_schema_file", "file holding a JSON schema", _GEN, metavar="FILE"),
    # ---- interaction (llama-cli) ----
    _f("-r --reverse-prompt", "reverse_prompt", "stop generating at PROMPT; in interactive mode, hand control back "
       "(repeatable)", _GEN, repeat=True, metavar="PROMPT"),
    _f("-cnv --conversation", "conversation", "conversation mode (default: on when the model has a chat "
       "template and no -p is given)", {CLI}, type=None, negative=("-no-cnv", "--no-conversation")),
    _f("-st --single-turn", "single_turn", "one turn of conversation, then exit", {CLI}, type=None),
    _f("-i --interactive", "interactive", "interactive mode: plain text, you continue where the model stops",
       {CLI}, type=None),
    _f("-if --interactive-first", "interactive_first", "interactive mode, waiting for input first", {CLI},
       type=None),
    _f("--in-prefix", "in_prefix", "text put before each input in interactive mode", {CLI}, default="",
       metavar="STRING"),
    _f("--in-suffix", "in_suffix", "text put after each input in interactive mode", {CLI}, default="",
       metavar="STRING"),
    _f("-co --color", "color", "colours: on, off or auto (a terminal)", {CLI}, type=on_off_auto, default="auto",
       bare="on", metavar="on|off|auto"),
    _f("--display-prompt", "display_prompt", "print the prompt before the completion (default: on)", {CLI},
       type=None, default=True, negative=("--no-display-prompt",)),
    # ---- chat template ----
    _f("--jinja", "jinja", "use the model's Jinja chat template (llamacore always does)", _GEN, type=None,
       default=True, env="LLAMA_ARG_JINJA", negative=("--no-jinja",)),
    _f("--chat-template", "chat_template", "chat template: a built-in name (chatml, llama2, llama3, gemma, ...) "
       "or a Jinja template", _GEN, metavar="TEMPLATE", env="LLAMA_ARG_CHAT_TEMPLATE"),
    _f("--chat-template-file", "chat_template_file", "file holding a Jinja chat template", _GEN,
       metavar="FNAME", env="LLAMA_ARG_CHAT_TEMPLATE_FILE"),
    _f("--chat-template-kwargs", "chat_template_kwargs", "JSON object of extra template variables", _GEN,
       metavar="JSON", env="LLAMA_ARG_CHAT_TEMPLATE_KWARGS"),
    _f("--mirostat-lr", "mirostat_eta", "Mirostat learning rate, eta (default 0.1)", _GEN, type=float,
       default=0.1, metavar="N"),
    _f("--mirostat-ent", "mirostat_tau", "Mirostat target entropy, tau (default 5.0)", _GEN, type=float,
       default=5.0, metavar="N"),
    _f("-l --logit-bias", "logit_bias", "change a token's likelihood: TOKEN_ID+BIAS or TOKEN_ID-BIAS (repeatable)",
       _GEN, repeat=True, metavar="TOKEN_ID(+/-)BIAS"),
    _f("--ignore-eos", "ignore_eos", "never end the text (the end-of-generation token is never picked)", _GEN,
       type=None),
    _f("--samplers", "samplers", "samplers in order, ';'-separated (default penalties;dry;top_n_sigma;top_k;typ_p;"
       "top_p;min_p;xtc;temperature)", _GEN, metavar="SAMPLERS"),
    _f("--sampling-seq --sampler-seq", "sampling_seq", "samplers in order as letters: e penalties, d dry, s "
       "top_n_sigma, k top_k, y typ_p, p top_p, m min_p, x xtc, t temperature (default edskypmxt)", _GEN,
       metavar="SEQUENCE"),
    _f("--dry-multiplier", "dry_multiplier", "DRY sampling multiplier, 0.0 = off", _GEN, type=float, default=0.0,
       metavar="N"),
    _f("--dry-base", "dry_base", "DRY sampling base (default 1.75)", _GEN, type=float, default=1.75, metavar="N"),
    _f("--dry-allowed-length", "dry_allowed_length", "DRY: repeats longer than this are penalised (default 2)",
       _GEN, type=int, default=2, metavar="N"),
    _f("--dry-penalty-last-n", "dry_penalty_last_n", "DRY: tokens looked back at (default -1: the context)", _GEN,
       type=int, default=-1, metavar="N"),
    _f("--dry-sequence-breaker", "dry_sequence_breaker", "DRY sequence breaker (repeatable; 'none': no breakers)",
       _GEN, repeat=True, metavar="STRING"),
    _f("--xtc-probability", "xtc_probability", "XTC probability, 0.0 = off", _GEN, type=float, default=0.0,
       metavar="N"),
    _f("--xtc-threshold", "xtc_threshold", "XTC threshold (default 0.1)", _GEN, type=float, default=0.1,
       metavar="N"),
    _f("--top-nsigma --top-n-sigma", "top_n_sigma", "top-n-sigma sampling, -1.0 = off", _GEN, type=float,
       default=-1.0, metavar="N"),
    _f("--keep", "keep", "prompt tokens kept when the context shifts", {CLI}, type=int, default=0, metavar="N",
       no_effect="llamacore stops at a full context instead of shifting it"),
    _f("--context-shift", "context_shift", "shift the context when it is full (default: off)", {CLI, SERVER},
       type=None, default=False, negative=("--no-context-shift",), env="LLAMA_ARG_CONTEXT_SHIFT",
       no_effect="llamacore stops at a full context instead of shifting it"),
    _f("-mli --multiline-input", "multiline_input", "lines ending in \\ continue the input", {CLI}, type=None,
       no_effect="each line is one input"),
    _f("-sp --special", "special", "print special tokens", _GEN, type=None,
       no_effect="llamacore prints the text without control tokens"),
    _f("--verbose-prompt", "verbose_prompt", "print the prompt's tokens", {CLI}, type=None,
       no_effect="use `llamacore tokenize` to see a prompt's tokens"),
    _f("--prompt-cache", "prompt_cache", "file that caches the prompt's state", {CLI}, metavar="FNAME",
       no_effect="llamacore keeps no prompt cache on disk yet"),
    _f("--simple-io", "simple_io", "plain terminal input and output", {CLI}, type=None),
    _f("--warmup", "warmup", "an empty warm-up run first (default: on)", _COMMON, type=None, default=True,
       negative=("--no-warmup",)),
    _f("--perf", "perf", "performance timings (default: off)", _COMMON, type=None, default=False,
       negative=("--no-perf",), env="LLAMA_ARG_PERF"),
    _f("--swa-full", "swa_full", "full-size sliding-window cache", _COMMON, type=None, env="LLAMA_ARG_SWA_FULL",
       no_effect="llamacore sizes the sliding-window cache itself"),
    _f("--lora", "lora", "LoRA adapter file", _COMMON, repeat=True, metavar="FNAME",
       unsupported="LoRA adapters are not in llamacore yet"),
    _f("--control-vector", "control_vector", "control vector file", _COMMON, repeat=True, metavar="FNAME",
       unsupported="control vectors are not in llamacore yet"),
    _f("-mm --mmproj", "mmproj", "multimodal projector file", {CLI, SERVER}, metavar="FILE",
       env="LLAMA_ARG_MMPROJ", unsupported="multimodal models are not in llamacore yet"),
    _f("--image --audio", "image", "image or audio file", {CLI}, repeat=True, metavar="FILE",
       unsupported="multimodal models are not in llamacore yet"),
    _f("--rope-scaling", "rope_scaling", "RoPE scaling: none, linear or yarn", _COMMON, metavar="TYPE",
       env="LLAMA_ARG_ROPE_SCALING_TYPE", unsupported="RoPE scaling options are not in llamacore yet"),
    _f("--rope-freq-base", "rope_freq_base", "RoPE base frequency", _COMMON, type=float, metavar="N",
       env="LLAMA_ARG_ROPE_FREQ_BASE", unsupported="RoPE scaling options are not in llamacore yet"),
    _f("--rope-freq-scale", "rope_freq_scale", "RoPE frequency scale", _COMMON, type=float, metavar="N",
       env="LLAMA_ARG_ROPE_FREQ_SCALE", unsupported="RoPE scaling options are not in llamacore yet"),
    _f("--override-kv", "override_kv", "override model metadata: KEY=TYPE:VALUE", _COMMON, repeat=True,
       metavar="KEY=TYPE:VALUE", unsupported="metadata overrides are not in llamacore yet"),
    # ---- memory and devices ----
    _f("-ngl --gpu-layers --n-gpu-layers", "gpu_layers", "layers to put on the GPU: a number, 'auto' or 'all'",
       _COMMON, type=gpu_layers, metavar="N", env="LLAMA_ARG_N_GPU_LAYERS", no_effect=_NO_GPU),
    _f("-sm --split-mode", "split_mode", "how to split the model across GPUs: none, layer or row", _COMMON,
       metavar="MODE", env="LLAMA_ARG_SPLIT_MODE", no_effect=_NO_GPU),
    _f("-ts --tensor-split", "tensor_split", "share of the model on each GPU, e.g. 3,1", _COMMON,
       metavar="N0,N1,...", env="LLAMA_ARG_TENSOR_SPLIT", no_effect=_NO_GPU),
    _f("-mg --main-gpu", "main_gpu", "the GPU to use", _COMMON, type=int, metavar="INDEX",
       env="LLAMA_ARG_MAIN_GPU", no_effect=_NO_GPU),
    _f("-nkvo --no-kv-offload", "no_kv_offload", "keep the KV cache off the GPU", _COMMON, type=None,
       env="LLAMA_ARG_NO_KV_OFFLOAD", no_effect=_NO_GPU),
    _f("-dev --device", "device", "devices to offload to", _COMMON, metavar="DEV,...", env="LLAMA_ARG_DEVICE",
       no_effect=_NO_GPU),
    _f("-ot --override-tensor", "override_tensor", "tensor buffer types", _COMMON, repeat=True,
       metavar="PATTERN=TYPE", env="LLAMA_ARG_OVERRIDE_TENSOR", no_effect=_NO_GPU),
    _f("-cmoe --cpu-moe", "cpu_moe", "keep the experts' weights on the CPU", _COMMON, type=None,
       env="LLAMA_ARG_CPU_MOE", no_effect=_NO_GPU),
    _f("-ncmoe --n-cpu-moe", "n_cpu_moe", "keep the experts of the first N layers on the CPU", _COMMON, type=int,
       metavar="N", env="LLAMA_ARG_N_CPU_MOE", no_effect=_NO_GPU),
    _f("--mlock", "mlock", "keep the model in RAM (no swapping)", _COMMON, type=None, env="LLAMA_ARG_MLOCK",
       no_effect="llamacore does not lock the model's pages yet"),
    _f("--mmap", "mmap", "memory-map the model (default: on)", _COMMON, type=None, default=True,
       env="LLAMA_ARG_MMAP", negative=("--no-mmap",), no_effect="llamacore always maps the model file"),
    _f("--numa", "numa", "NUMA placement: distribute, isolate or numactl", _COMMON, metavar="TYPE",
       env="LLAMA_ARG_NUMA", no_effect="llamacore has no NUMA placement"),
    _f("-fa --flash-attn", "flash_attn", "flash attention: on, off or auto", _COMMON, type=on_off_auto,
       default="auto", bare="on", metavar="on|off|auto", env="LLAMA_ARG_FLASH_ATTN",
       no_effect="llamacore's CPU attention is one fused kernel either way"),
    _f("-ctk --cache-type-k", "cache_type_k", "KV cache type for K: f16 (default), f32 or q8_0", _COMMON,
       default="f16", metavar="TYPE", env="LLAMA_ARG_CACHE_TYPE_K"),
    _f("-ctv --cache-type-v", "cache_type_v", "KV cache type for V: f16 (default), f32 or q8_0", _COMMON,
       default="f16", metavar="TYPE", env="LLAMA_ARG_CACHE_TYPE_V"),
    # ---- logging ----
    _f("-v --verbose --log-verbose", "verbose", "print load and speed information on stderr", _COMMON,
       type=None),
    _f("--log-disable", "log_disable", "no log output", _COMMON, type=None),
    _f("-lv --verbosity --log-verbosity", "verbosity", "log verbosity threshold (above 3: as -v)", _COMMON, type=int,
       default=3, metavar="N", env="LLAMA_ARG_LOG_VERBOSITY"),
    _f("--log-file", "log_file", "write the log to a file", _COMMON, metavar="FNAME", env="LLAMA_ARG_LOG_FILE",
       no_effect="llamacore writes its few log lines to stderr"),
    # ---- llama-server ----
    _f("--host", "host", "address to listen on (default 127.0.0.1)", {SERVER}, default="127.0.0.1",
       metavar="HOST", env="LLAMA_ARG_HOST"),
    _f("--port", "port", "port to listen on (default 8080)", {SERVER}, type=int, default=8080, metavar="PORT",
       env="LLAMA_ARG_PORT"),
    _f("-np --parallel", "parallel", "number of slots (default -1: auto)", {SERVER}, type=int, default=-1,
       metavar="N", env="LLAMA_ARG_N_PARALLEL"),
    _f("-cb --cont-batching", "cont_batching", "continuous batching (default: on)", {SERVER}, type=None,
       default=True, env="LLAMA_ARG_CONT_BATCHING", negative=("-nocb", "--no-cont-batching")),
    _f("-a --alias", "alias", "model name(s) the API shows, comma-separated", {SERVER}, metavar="STRING",
       env="LLAMA_ARG_ALIAS"),
    _f("--api-key", "api_key", "API key(s) clients must send, comma-separated", {SERVER}, metavar="KEY",
       env="LLAMA_API_KEY"),
    _f("--api-key-file", "api_key_file", "file of API keys, one a line", {SERVER}, metavar="FNAME",
       env="LLAMA_ARG_API_KEY_FILE"),
    _f("--api-prefix", "api_prefix", "path prefix the server answers under", {SERVER}, default="",
       metavar="PREFIX", env="LLAMA_ARG_API_PREFIX"),
    _f("--path", "static_path", "folder of static files to serve", {SERVER}, metavar="PATH",
       env="LLAMA_ARG_STATIC_PATH"),
    _f("--ssl-key-file", "ssl_key_file", "PEM private key for HTTPS", {SERVER}, metavar="FNAME",
       env="LLAMA_ARG_SSL_KEY_FILE"),
    _f("--ssl-cert-file", "ssl_cert_file", "PEM certificate for HTTPS", {SERVER}, metavar="FNAME",
       env="LLAMA_ARG_SSL_CERT_FILE"),
    _f("--cors-origins --cors-origin", "cors_origins", "origins allowed by CORS, comma-separated (default: none)",
       {SERVER}, metavar="ORIGINS", env="LLAMA_ARG_CORS_ORIGINS"),
    _f("-to --timeout", "timeout", "read/write timeout in seconds (default 600)", {SERVER}, type=int,
       default=600, metavar="N", env="LLAMA_ARG_TIMEOUT"),
    _f("--threads-http", "threads_http", "threads for HTTP requests", {SERVER}, type=int, default=-1,
       metavar="N", env="LLAMA_ARG_THREADS_HTTP"),
    _f("--webui --ui", "webui", "the chat page at / (default: on)", {SERVER}, type=None, default=True,
       env="LLAMA_ARG_UI", negative=("--no-webui", "--no-ui")),
    _f("--embedding --embeddings", "embedding", "serve embeddings only", {SERVER}, type=None,
       env="LLAMA_ARG_EMBEDDINGS"),
    _f("--rerank --reranking", "rerank", "serve the reranking endpoint", {SERVER}, type=None,
       env="LLAMA_ARG_RERANKING"),
    _f("--pooling", "pooling", "embedding pooling: none, mean, cls, last or rank", {SERVER}, metavar="TYPE",
       env="LLAMA_ARG_POOLING"),
    _f("--metrics", "metrics", "Prometheus metrics at /metrics", {SERVER}, type=None,
       env="LLAMA_ARG_ENDPOINT_METRICS"),
    _f("--props", "props", "allow POST /props", {SERVER}, type=None, env="LLAMA_ARG_ENDPOINT_PROPS"),
    _f("--slots", "slots", "the /slots endpoint (default: on)", {SERVER}, type=None, default=True,
       env="LLAMA_ARG_ENDPOINT_SLOTS", negative=("--no-slots",)),
    _f("--slot-save-path", "slot_save_path", "folder for saved slots", {SERVER}, metavar="PATH"),
    _f("--cache-prompt", "cache_prompt", "reuse the cached prompt prefix (default: on)", {SERVER}, type=None,
       default=True, env="LLAMA_ARG_CACHE_PROMPT", negative=("--no-cache-prompt",)),
    _f("--cache-reuse", "cache_reuse", "smallest chunk reused from the cache by shifting", {SERVER}, type=int,
       default=0, metavar="N", env="LLAMA_ARG_CACHE_REUSE"),
    _f("-sps --slot-prompt-similarity", "slot_prompt_similarity", "how much a prompt must match a slot's to use "
       "it (default 0.1)", {SERVER}, type=float, default=0.1, metavar="SIMILARITY"),
    _f("--models-dir", "models_dir", "folder of GGUF models to serve (router mode)", {SERVER}, metavar="PATH",
       env="LLAMA_ARG_MODELS_DIR"),
    _f("--models-max", "models_max", "models loaded at once in router mode (default 4)", {SERVER}, type=int,
       default=4, metavar="N", env="LLAMA_ARG_MODELS_MAX"),
    _f("--reasoning-format", "reasoning_format", "where thoughts go: none, deepseek or deepseek-legacy", {SERVER},
       metavar="FORMAT", env="LLAMA_ARG_THINK"),
    _f("--reasoning-budget", "reasoning_budget", "thinking tokens: -1 unlimited, 0 none", {SERVER}, type=int,
       default=-1, metavar="N", env="LLAMA_ARG_THINK_BUDGET"),
    # ---- llama-perplexity ----
    _f("--chunks", "chunks", "chunks to process (default -1: all)", {PERPLEXITY}, type=int, default=-1,
       metavar="N"),
    _f("--ppl-stride", "ppl_stride", "stride of the perplexity windows (default 0: none)", {PERPLEXITY},
       type=int, default=0, metavar="N"),
    _f("--ppl-output-type", "ppl_output_type", "0: text, 1: one number per chunk", {PERPLEXITY}, type=int,
       default=0, metavar="0|1"),
    _f("--kl-divergence-base --save-all-logits", "kl_divergence_base", "file of base logits (written, or read "
       "with --kl-divergence)", {PERPLEXITY}, metavar="FNAME"),
    _f("--kl-divergence", "kl_divergence", "KL divergence against --kl-divergence-base", {PERPLEXITY},
       type=None),
    _f("--hellaswag", "hellaswag", "HellaSwag score of the tasks in -f", {PERPLEXITY}, type=None),
    _f("--hellaswag-tasks", "hellaswag_tasks", "HellaSwag tasks to use (default 400)", {PERPLEXITY}, type=int,
       default=400, metavar="N"),
    _f("--winogrande", "winogrande", "Winogrande score of the tasks in -f", {PERPLEXITY}, type=None),
    _f("--multiple-choice", "multiple_choice", "multiple-choice score of the tasks in -f", {PERPLEXITY},
       type=None),
    # ---- llama-bench (values are comma-separated lists) ----
    _f("-m --model", "model", "model file(s)", {BENCH}, type=str_list, metavar="FNAME"),
    _f("-p --n-prompt", "n_prompt", "prompt lengths (default 512)", {BENCH}, type=int_list, default=[512],
       metavar="N"),
    _f("-n --n-gen", "n_gen", "tokens to generate (default 128)", {BENCH}, type=int_list, default=[128],
       metavar="N"),
    _f("-pg", "prompt_gen", "a prompt then generation test: PP,TG (repeatable)", {BENCH}, type=int_pair,
       repeat=True, metavar="PP,TG"),
    _f("-d --n-depth", "n_depth", "context already filled before each test (default 0)", {BENCH},
       type=int_list, default=[0], metavar="N"),
    _f("-b --batch-size", "batch_size", "batch sizes (default 2048)", {BENCH}, type=int_list, default=[2048],
       metavar="N"),
    _f("-ub --ubatch-size", "ubatch_size", "physical batch sizes (default 512)", {BENCH}, type=int_list,
       default=[512], metavar="N"),
    _f("-ctk --cache-type-k", "cache_type_k", "KV cache types for K (default f16)", {BENCH}, type=str_list,
       default=["f16"], metavar="TYPE"),
    _f("-ctv --cache-type-v", "cache_type_v", "KV cache types for V (default f16)", {BENCH}, type=str_list,
       default=["f16"], metavar="TYPE"),
    _f("-t --threads", "threads", "thread counts (default: the physical cores)", {BENCH}, type=int_list,
       metavar="N"),
    _f("-ngl --n-gpu-layers", "gpu_layers", "GPU layers (default 99)", {BENCH}, type=int_list, default=[99],
       metavar="N"),
    _f("-fa --flash-attn", "flash_attn", "flash attention: 0 or 1 (default 0)", {BENCH}, type=int_list,
       default=[0], metavar="0|1"),
    _f("-mmp --mmap", "mmap", "memory-map the model: 0 or 1 (default 1)", {BENCH}, type=int_list, default=[1],
       metavar="0|1"),
    _f("-r --repetitions", "repetitions", "repetitions of each test (default 5)", {BENCH}, type=int, default=5,
       metavar="N"),
    _f("-o --output", "output", "output format: csv, json, jsonl, md or sql (default md)", {BENCH}, default="md",
       metavar="FORMAT"),
    _f("-oe --output-err", "output_err", "format also printed to stderr", {BENCH}, metavar="FORMAT"),
    _f("--delay", "delay", "seconds between tests (default 0)", {BENCH}, type=int, default=0, metavar="N"),
    _f("--no-warmup", "no_warmup", "no warmup run", {BENCH}, type=None),
    _f("--progress", "progress", "print progress", {BENCH}, type=None),
    _f("-v --verbose", "verbose", "verbose output", {BENCH}, type=None),
)
# fmt: on


def flags_for(program: str) -> list[Flag]:
    if program not in PROGRAMS:
        raise ValueError(f"unknown program {program!r}; one of {', '.join(PROGRAMS)}")
    return [f for f in FLAGS if program in f.programs]


_said: set[str] = set()  # options already said to do nothing here: once per process, not once per use


def _switch_action(flag: Flag):
    """A switch with optional negative spellings: --mmap sets True, --no-mmap False."""
    negative = set(flag.negative)

    class Switch(argparse.Action):
        def __init__(self, option_strings, dest, **kw):
            super().__init__(option_strings, dest, nargs=0, **kw)

        def __call__(self, parser, namespace, values, option_string=None):
            setattr(namespace, self.dest, option_string not in negative)

    return Switch


def _env_default(flag: Flag, environ) -> Any:
    """The default from the flag's environment variable (None: not set). Bad values are argparse errors."""
    raw = environ.get(flag.env) if flag.env else None
    if raw is None:
        return None
    if not flag.takes_value:
        v = raw.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
        raise argparse.ArgumentTypeError(f"{flag.env}={raw!r}: expected on/off, true/false or 1/0")
    try:
        value = flag.type(raw)
    except (ValueError, argparse.ArgumentTypeError) as e:
        raise argparse.ArgumentTypeError(f"{flag.env}={raw!r}: {e}") from None
    return [value] if flag.is_list and not isinstance(value, list) else value


def add_flags(parser: argparse.ArgumentParser, program: str, *, environ=None, skip: Sequence[str] = ()) -> None:
    """Add the program's llama.cpp options to parser (a parser made with allow_abbrev=False; see make_parser).
    environ: where LLAMA_ARG_* defaults come from (default os.environ). skip: dests the command defines itself."""
    environ = os.environ if environ is None else environ
    for flag in flags_for(program):
        if flag.dest in skip:
            continue
        try:
            from_env = _env_default(flag, environ)
        except argparse.ArgumentTypeError as e:
            parser.error(str(e))
        # a switch with a negative spelling keeps None as "not said" (-cnv / -no-cnv / neither)
        default = _plain_default(flag) if from_env is None else from_env
        names = [*flag.names, *flag.negative]
        if not flag.takes_value:
            parser.add_argument(*names, dest=flag.dest, action=_switch_action(flag), default=default, help=flag.help)
            continue
        kw: dict[str, Any] = dict(dest=flag.dest, default=default, help=flag.help, metavar=flag.metavar)
        kw["type"] = flag.type
        if flag.is_list:
            kw["action"] = _Repeat
        parser.add_argument(*names, **kw)
    parser.set_defaults(_program=program)


class _Repeat(argparse.Action):
    """A repeatable option: the values given make a list (a comma list adds each item); the first one given replaces
    the default (llama-bench's `-p 512`), instead of adding to it."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest)
        current = [] if current is self.default or current is None else list(current)
        current.extend(values if isinstance(values, list) else [values])
        setattr(namespace, self.dest, current)


MODEL_HELP = "GGUF path, hf:ORG/REPO[:QUANT], hf:ORG/REPO/FILE.gguf or catalog name"


def add_arguments(parser: argparse.ArgumentParser, program: str, *, environ=None, model_default: str | None = None):
    """A llamacore command's arguments for a llama.cpp program: MODEL (optional, also -m; llama-bench takes -m only)
    and the program's options. The commands' add_arguments call this (`llamacore serve`: program SERVER)."""
    if program != BENCH:
        default = f" (default: {model_default})" if model_default else ""
        parser.add_argument("model", nargs="?", default=None, metavar="MODEL", help=MODEL_HELP + default)
    add_flags(parser, program, environ=environ)


def make_parser(prog: str, program: str, description: str = "", *, environ=None) -> argparse.ArgumentParser:
    """A parser for a llama.cpp program's command line (parse it with `parse`, which reads it as llama.cpp does)."""
    p = argparse.ArgumentParser(prog=prog, description=description, allow_abbrev=False)
    add_arguments(p, program, environ=environ)
    return p


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """parser.parse_args over llama.cpp-normalized argv (see normalize_argv)."""
    return parser.parse_args(normalize_argv(argv, parser))


def _option_table(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return dict(parser._option_string_actions)  # argparse keeps no public map of option strings


def normalize_argv(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """argv as llama.cpp reads it, written so that argparse reads it the same way:
    - an option that takes a value takes the next argument whatever it looks like: `-p -5` becomes `-p=-5`;
    - an option with a bare value (`-fa`, `--color`) takes the next argument only if it is one of its values,
      else gets its bare value: `-fa -p hi` becomes `-fa=on -p=hi`;
    - `--repeat_penalty` is `--repeat-penalty` (llama.cpp reads '_' in a long option as '-').
    """
    table = _option_table(parser)
    bare = {name: f.bare for f in FLAGS if f.bare for name in f.names}
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            out.extend(argv[i:])
            break
        if a.startswith("--"):  # llama.cpp reads --repeat_penalty as --repeat-penalty
            name, eq, value = a.partition("=")
            a = name.replace("_", "-") + eq + value
        action = table.get(a)
        if action is None or action.nargs == 0 or isinstance(action, argparse._HelpAction):
            out.append(a)
            i += 1
            continue
        if a in bare and action.type is on_off_auto:
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is not None and nxt.strip().lower() in ON_OFF_AUTO:
                out.append(f"{a}={nxt}")
                i += 2
            else:
                out.append(f"{a}={bare[a]}")
                i += 1
            continue
        if i + 1 < len(argv):
            out.append(f"{a}={argv[i + 1]}")
            i += 2
        else:
            out.append(a)  # argparse says that it expects a value
            i += 1
    return out


def _plain_default(flag: Flag) -> Any:
    """The value an option has when neither the command line nor the environment sets it."""
    if not flag.takes_value:
        return flag.default if flag.negative else bool(flag.default)
    return [] if flag.is_list and flag.default is None else flag.default


def report_no_effect(args: argparse.Namespace, program: str, stream=None) -> list[str]:
    """Say once on stderr, for each option set that does nothing on this build, why; returns the lines said."""
    stream = sys.stderr if stream is None else stream
    lines = []
    for flag in flags_for(program):
        if flag.no_effect is None or flag.dest in _said:
            continue
        default = _plain_default(flag)
        if getattr(args, flag.dest, default) == default:
            continue
        value = getattr(args, flag.dest)
        _said.add(flag.dest)
        names = flag.negative if value is False and flag.negative else flag.names
        lines.append(f"llamacore: {'/'.join(names)} has no effect: {flag.no_effect}")
    for line in lines:
        print(line, file=stream)
    return lines


def check_supported(args: argparse.Namespace, program: str) -> None:
    """NotImplementedError naming the first option set that asks for what llamacore cannot do yet."""
    for flag in flags_for(program):
        if flag.unsupported is None:
            continue
        default = _plain_default(flag)
        if getattr(args, flag.dest, default) != default:
            raise NotImplementedError(f"{'/'.join(flag.names)}: {flag.unsupported}")


def env_names(program: str) -> dict[str, str]:
    """LLAMA_ARG_* name -> option dest, for the program's options that llama.cpp reads from the environment."""
    return {f.env: f.dest for f in flags_for(program) if f.env}
