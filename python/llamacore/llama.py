"""The Llama class: llama-cpp-python's `llama_cpp.Llama`, drop-in, over llamacore's engine.

    from llamacore import Llama
    llm = Llama("smollm2-135m-instruct")            # a path, hf:ORG/REPO/FILE.gguf, or a catalog name
    llm("Q: Name the planets. A:", max_tokens=64, stop=["Q:"])["choices"][0]["text"]
    llm.create_chat_completion([{"role": "user", "content": "Hi!"}])["choices"][0]["message"]["content"]

Same argument names, methods and result dicts as llama-cpp-python 0.3. Where it differs (see README):
  - n_ctx defaults to min(4096, the model's training context) instead of 512; 0 still means the model's own.
  - logprobs of generated tokens work without logits_all=True (only echo=True with logprobs needs it).
  - max_tokens None, 0 or -1 mean "until the context is full"; other negative values are an error.
  - temperature < 0 is an error (llama-cpp-python samples from the plain softmax).
  - GPU-only arguments (n_gpu_layers, main_gpu, ...) are accepted and ignored; arguments whose effect is not
    implemented (lora_path, draft_model, grammar, mirostat, ...) raise NotImplementedError instead of being ignored.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .chat import ChatFormatter, load_chat_formatter
from .chat.tools import prepare_chat_request
from .completion import CompletionRun, chat_logprobs, collect_completion, stream_chat, stream_completion
from .engine.generation import GenerationState, Vocab
from .engine.session import Session, longest_token_prefix
from .sampling import LLAMA_DEFAULT_SEED, Sampler, SamplingParams, make_rng
from .sampling.dry import DEFAULT_BREAKERS as DRY_BREAKERS

DEFAULT_N_CTX_CAP = 4096  # n_ctx=None -> min(this, the model's training context)

# Accepted for llama-cpp-python compatibility; they only steer GPU offload or memory mapping, which llamacore does
# its own way, so they are ignored.
_IGNORED_ARGS = (
    "n_gpu_layers split_mode main_gpu tensor_split rpc_servers use_mmap use_mlock n_ubatch n_threads_batch "
    "offload_kqv flash_attn op_offload swa_full no_perf numa"
).split()
# Arguments whose effect llamacore does not implement yet: a non-default value raises instead of being ignored.
_UNSUPPORTED_DEFAULTS: dict[str, Any] = {
    "kv_overrides": None,
    "rope_scaling_type": -1,
    "pooling_type": -1,
    "attention_type": -1,
    "rope_freq_base": 0.0,
    "rope_freq_scale": 0.0,
    "yarn_ext_factor": -1.0,
    "yarn_attn_factor": 1.0,
    "yarn_beta_fast": 32.0,
    "yarn_beta_slow": 1.0,
    "yarn_orig_ctx": 0,
    "embedding": False,
    "lora_base": None,
    "lora_scale": 1.0,
    "lora_path": None,
    "chat_handler": None,
    "draft_model": None,
    "tokenizer": None,
    "spm_infill": False,
}


def _scalar_metadata(metadata: dict[str, Any]) -> dict[str, str]:
    """llama-cpp-python's Llama.metadata: the scalar GGUF key/values as strings (arrays left out)."""
    out = {}
    for k, v in metadata.items():
        if isinstance(v, (str, int, float, bool, np.integer, np.floating, np.bool_)):
            out[k] = str(v).lower() if isinstance(v, (bool, np.bool_)) else str(v)
    return out


class _Exclusive:
    """One generation at a time on a Llama: its session (KV cache, tokens, logits) is a single sequence.

    Another thread waits until the current call or stream has finished (calls are serialised). On the thread that
    holds it, a new call closes that thread's unfinished stream first (an abandoned `for chunk in stream` loop, e.g.
    after Ctrl-C): the old stream ends there, as llama-cpp-python's would have its state overwritten."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None  # the thread holding the lock
        self._stream: Iterator | None = None  # the suspended stream holding it, if any

    @contextmanager
    def hold(self):
        me = threading.get_ident()
        if self._owner == me:
            if self._stream is None:
                raise RuntimeError("a Llama was called again from inside one of its own calls")
            self._stream.close()  # releases the lock through its own `hold`
        with self._lock:
            self._owner = me
            try:
                yield
            finally:
                self._owner, self._stream = None, None

    def stream(self, make: Callable[[], Iterator]) -> Iterator:
        """An iterator over make()'s items that holds the lock from its first item to its end."""

        def run():
            with self.hold():
                self._stream = it
                yield from make()

        it = run()
        return it


class Llama:
    """A GGUF model with llama-cpp-python's API (see the module docstring)."""

    def __init__(
        self,
        model_path: str | os.PathLike,
        *,
        vocab_only: bool = False,
        seed: int = LLAMA_DEFAULT_SEED,
        n_ctx: int | None = None,
        n_batch: int = 512,
        n_threads: int | None = None,
        logits_all: bool = False,
        last_n_tokens_size: int = 64,
        chat_format: str | None = None,
        type_k: int | str | None = None,
        type_v: int | str | None = None,
        verbose: bool = True,
        **kwargs: Any,
    ):
        """Load a model. model_path: a GGUF path, "hf:ORG/REPO/FILE.gguf" or a catalog name (llamacore.hub).

        n_ctx: context length; None (default) = min(4096, the model's training context), 0 = the model's.
        n_threads: None = the number of physical cores. vocab_only: load only the tokenizer (no weights).
        seed: the default random seed (LLAMA_DEFAULT_SEED = random). chat_format: None = the GGUF's template.
        type_k / type_v: KV cache types ("f16" default, "q8_0"; or ggml type ids).
        """
        from . import hub
        from .gguf import GGUFFile
        from .tokenizer import Tokenizer

        self._init_kwargs = dict(
            vocab_only=vocab_only, seed=seed, n_ctx=n_ctx, n_batch=n_batch, n_threads=n_threads,
            logits_all=logits_all, last_n_tokens_size=last_n_tokens_size, chat_format=chat_format,
            type_k=type_k, type_v=type_v, verbose=verbose, **kwargs,
        )  # fmt: skip
        _check_extra_args(kwargs)
        path = hub.resolve(model_path)
        with GGUFFile(path) as f:
            metadata = dict(f.metadata)
            tokenizer = Tokenizer.from_gguf(f)

        def engine_factory(n_ctx: int, n_batch: int, n_threads: int):
            from .engine import Engine

            # type_k / type_v: "f16" (default), "q8_0", "f32", or llama-cpp-python's GGML type ids
            return Engine(
                str(path),
                n_ctx=n_ctx,
                n_batch=n_batch,
                n_threads=n_threads,
                type_k="f16" if type_k is None else type_k,
                type_v="f16" if type_v is None else type_v,
                n_seq_max=1,
                verbose=verbose,
            )

        self._setup(
            model_path=str(path),
            metadata=metadata,
            tokenizer=tokenizer,
            engine_factory=None if vocab_only else engine_factory,
            seed=seed,
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_threads=n_threads,
            logits_all=logits_all,
            last_n_tokens_size=last_n_tokens_size,
            chat_format=chat_format,
            verbose=verbose,
        )

    @classmethod
    def _from_parts(
        cls,
        *,
        metadata: dict[str, Any],
        tokenizer: Any,
        engine_factory: Callable[[int, int, int], Any] | None,
        model_path: str = "model.gguf",
        **options: Any,
    ) -> Llama:
        """A Llama over a given tokenizer and engine (tests use small fakes here)."""
        self = cls.__new__(cls)
        self._init_kwargs = None
        self._setup(
            model_path=model_path, metadata=metadata, tokenizer=tokenizer, engine_factory=engine_factory, **options
        )
        return self

    def _setup(
        self,
        *,
        model_path: str,
        metadata: dict[str, Any],
        tokenizer: Any,
        engine_factory: Callable[[int, int, int], Any] | None,
        seed: int = LLAMA_DEFAULT_SEED,
        n_ctx: int | None = None,
        n_batch: int = 512,
        n_threads: int | None = None,
        logits_all: bool = False,
        last_n_tokens_size: int = 64,
        chat_format: str | None = None,
        verbose: bool = True,
    ) -> None:
        self._engine = None
        self._exclusive = _Exclusive()
        self._vocab_only = engine_factory is None
        self.model_path = model_path
        self.verbose = verbose
        self._metadata = metadata
        self.metadata = _scalar_metadata(metadata)
        self._tokenizer = tokenizer
        arch = str(metadata.get("general.architecture", ""))
        self._n_ctx_train = int(metadata.get(f"{arch}.context_length", 0) or 0)
        self._n_embd = int(metadata.get(f"{arch}.embedding_length", 0) or 0)
        self._n_vocab = int(tokenizer.n_vocab())

        if n_ctx is None:
            n_ctx = min(DEFAULT_N_CTX_CAP, self._n_ctx_train) if self._n_ctx_train > 0 else DEFAULT_N_CTX_CAP
        elif n_ctx == 0:
            if self._n_ctx_train <= 0:
                raise ValueError("n_ctx=0 asks for the model's training context, but the file does not give it")
            n_ctx = self._n_ctx_train
        elif n_ctx < 0:
            raise ValueError(f"n_ctx must be > 0 (or 0 for the model's training context), got {n_ctx}")
        if n_batch < 1:
            raise ValueError(f"n_batch must be >= 1, got {n_batch}")
        if n_threads is not None and n_threads < 1:
            raise ValueError(f"n_threads must be >= 1 (or None for the number of physical cores), got {n_threads}")
        if last_n_tokens_size < 0:
            raise ValueError(f"last_n_tokens_size must be >= 0, got {last_n_tokens_size}")
        self._n_ctx = int(n_ctx)
        self.n_batch = min(int(n_batch), self._n_ctx)
        self.n_threads = n_threads or _default_threads()
        self.last_n_tokens_size = last_n_tokens_size
        self._logits_all = bool(logits_all)
        self._seed = seed
        self._rng = make_rng(seed)

        self._chat_formatter: ChatFormatter | None = None
        self._chat_format_arg = chat_format
        self.chat_format = chat_format or _guess(metadata)
        if chat_format is not None:
            self._chat_formatter = load_chat_formatter(chat_format, metadata)  # a bad name fails here, not later
        self.chat_handler = None
        self._bos_added = self._adds_bos()
        self._vocab = Vocab(tokenizer)

        if engine_factory is not None:
            t0 = time.perf_counter()
            self._engine = engine_factory(self._n_ctx, self.n_batch, self.n_threads)
            rows = int(getattr(self._engine, "n_vocab", self._n_vocab))
            if rows < self._n_vocab:  # more rows than tokens is fine (padded vocabularies); fewer is a broken file
                self.close()
                raise ValueError(
                    f"the tokenizer has {self._n_vocab} tokens but token_embd.weight has only {rows} rows: "
                    "the file's vocabulary and weights disagree"
                )
            if verbose:
                name = metadata.get("general.name", os.path.basename(model_path))
                print(
                    f"llamacore: loaded {name} ({arch}, {self._n_vocab} tokens) in {time.perf_counter() - t0:.2f} s;"
                    f" n_ctx={self._n_ctx}, n_threads={self.n_threads}, chat_format={self.chat_format}",
                    file=sys.stderr,
                )
        # Evaluation state: the tokens whose keys/values are in the engine's cache, and the logits they produced.
        self._session = Session(self._engine, n_vocab=self._n_vocab, n_ctx=self._n_ctx, n_batch=self.n_batch,
                                logits_all=self._logits_all)  # fmt: skip

    # ---- lifetime ------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Free the model and its context (the object cannot generate afterwards)."""
        engine, self._engine = getattr(self, "_engine", None), None
        session = getattr(self, "_session", None)
        if session is not None:
            session.engine = None
        if engine is not None:
            engine.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self) -> Llama:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self):
        if self._init_kwargs is None:
            raise TypeError("this Llama was built from parts and cannot be pickled")
        return {"model_path": self.model_path, **self._init_kwargs}

    def __setstate__(self, state):
        self.__init__(**state)

    @classmethod
    def from_pretrained(cls, repo_id: str, filename: str, **kwargs: Any) -> Llama:
        """A model file from the Hugging Face Hub (exact file name; needs huggingface_hub)."""
        if any(ch in filename for ch in "*?["):
            raise ValueError(f"filename must be an exact file name (no wildcards), got {filename!r}")
        for key in ("additional_files", "local_dir", "local_dir_use_symlinks", "cache_dir"):
            kwargs.pop(key, None)
        return cls(f"hf:{repo_id}/{filename}", **kwargs)

    # ---- model facts ---------------------------------------------------------------------------------------------

    def n_ctx(self) -> int:
        return self._n_ctx

    def n_embd(self) -> int:
        return self._n_embd

    def n_vocab(self) -> int:
        return self._n_vocab

    def token_bos(self) -> int:
        return int(self._tokenizer.token_bos())

    def token_eos(self) -> int:
        return int(self._tokenizer.token_eos())

    def token_nl(self) -> int:
        return self.tokenize(b"\n", add_bos=False, special=False)[-1]

    def tokenizer(self) -> LlamaTokenizer:
        return LlamaTokenizer(self)

    @property
    def input_ids(self) -> np.ndarray:
        """The tokens evaluated so far, int32[n_tokens]."""
        return self._session.tokens

    @property
    def n_tokens(self) -> int:
        return self._session.n_tokens

    @property
    def scores(self) -> np.ndarray:
        """Logits: float32[n_tokens, n_vocab] with logits_all=True, else float32[1, n_vocab] after the last token."""
        s = self._session
        if self._logits_all:
            return s.all_logits[: s.n_tokens]
        if s.logits is None:
            return np.zeros((0, self._n_vocab), dtype=np.float32)
        return s.logits[None, :]

    # ---- tokens --------------------------------------------------------------------------------------------------

    def tokenize(self, text: bytes | str, add_bos: bool = True, special: bool = False) -> list[int]:
        """Token ids of UTF-8 text. add_bos: add BOS if the model wants one; special: parse control-token text."""
        if isinstance(text, str):
            text = text.encode("utf-8")
        return [int(t) for t in self._tokenizer.tokenize(text, add_bos=add_bos, special=special)]

    def detokenize(
        self, tokens: Sequence[int], prev_tokens: Sequence[int] | None = None, special: bool = False
    ) -> bytes:
        """Bytes of tokens (prev_tokens is accepted for llama-cpp-python compatibility)."""
        tokens = [int(t) for t in tokens]
        self._check_token_ids(tokens)
        return bytes(self._tokenizer.detokenize(tokens, special=special))

    def _piece(self, token: int) -> bytes:
        return self._vocab.piece(token)

    def _adds_bos(self) -> bool:
        try:
            return list(self._tokenizer.tokenize(b"", add_bos=True, special=False))[:1] == [self.token_bos()]
        except Exception:
            return False

    def _check_token_ids(self, tokens: Sequence[int] | np.ndarray) -> None:
        arr = np.asarray(tokens)
        if arr.size and (arr.min() < 0 or arr.max() >= self._n_vocab):
            bad = int(arr[(arr < 0) | (arr >= self._n_vocab)][0])
            raise ValueError(f"token id {bad} is outside the vocabulary (0..{self._n_vocab - 1})")

    # ---- evaluation ----------------------------------------------------------------------------------------------

    def _require_engine(self):
        if self._engine is None:
            if self._vocab_only:
                raise ValueError("this model was loaded with vocab_only=True: it has no weights to run")
            raise ValueError("this model is closed")
        return self._engine

    def reset(self) -> None:
        """Forget the evaluated tokens (the next eval starts at position 0)."""
        with self._exclusive.hold():
            self._session.reset()

    def set_seed(self, seed: int) -> None:
        self._seed = seed
        self._rng = make_rng(seed)

    def eval(self, tokens: Sequence[int]) -> None:
        """Evaluate tokens after the current ones, in chunks of n_batch, keeping the logits (see `scores`)."""
        with self._exclusive.hold():
            self._eval(tokens)

    def _eval(self, tokens: Sequence[int]) -> None:
        self._require_engine()
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
        self._check_token_ids(tokens)
        self._session.eval(tokens)

    # ---- sampling ------------------------------------------------------------------------------------------------

    def _sampler(
        self, *, top_k, top_p, min_p, typical_p, temp, repeat_penalty, frequency_penalty, presence_penalty,
        logit_bias=None, mirostat_mode=0, mirostat_tau=5.0, mirostat_eta=0.1, seed=None, min_keep=1,
        top_n_sigma=-1.0, xtc_probability=0.0, xtc_threshold=0.1, dry_multiplier=0.0, dry_base=1.75,
        dry_allowed_length=2, dry_penalty_last_n=-1, dry_sequence_breakers=None, samplers=None,
    ) -> Sampler:  # fmt: skip
        """A checked sampler chain for one generation (ValueError/TypeError for bad settings)."""
        bias = {int(k): float(v) for k, v in logit_bias.items()} if logit_bias else None
        if bias and any(v != v for v in bias.values()):
            raise ValueError("logit_bias values must be numbers (-inf bans a token), not NaN")
        params = SamplingParams(
            temp=float(temp), top_k=int(top_k), top_p=float(top_p), min_p=float(min_p), typical_p=float(typical_p),
            repeat_penalty=float(repeat_penalty), frequency_penalty=float(frequency_penalty),
            presence_penalty=float(presence_penalty), penalty_last_n=int(self.last_n_tokens_size), logit_bias=bias,
            min_keep=int(min_keep), top_n_sigma=float(top_n_sigma), xtc_probability=float(xtc_probability),
            xtc_threshold=float(xtc_threshold), dry_multiplier=float(dry_multiplier), dry_base=float(dry_base),
            dry_allowed_length=int(dry_allowed_length), dry_penalty_last_n=int(dry_penalty_last_n),
            dry_sequence_breakers=DRY_BREAKERS if dry_sequence_breakers is None else tuple(dry_sequence_breakers),
            mirostat=int(mirostat_mode), mirostat_tau=float(mirostat_tau), mirostat_eta=float(mirostat_eta),
            samplers=samplers,
        )  # fmt: skip
        rng = self._rng if seed is None else make_rng(seed)
        return Sampler(params, rng, self._tokenizer)

    def _constraint(self, grammar: Any = None, response_format: dict | None = None):
        """The TokenConstraint for grammar= or response_format= (None when neither constrains the output)."""
        if response_format is not None:
            if not isinstance(response_format, dict):
                raise TypeError(f"response_format must be a dict, got {type(response_format).__name__}")
            kind = response_format.get("type", "text")
            if kind not in ("text", "json_object", "json_schema"):
                raise ValueError(f"response_format type must be text, json_object or json_schema, got {kind!r}")
            if kind == "text":
                response_format = None
        if grammar is None and response_format is None:
            return None
        if grammar is not None and response_format is not None:
            raise ValueError("give either grammar= or a JSON response_format, not both")
        if importlib.util.find_spec(f"{__package__}.sampling.grammar") is None:
            what = "grammar-constrained sampling" if grammar is not None else "response_format json_object"
            raise NotImplementedError(f"{what} needs grammar support, not in llamacore yet")
        G = importlib.import_module(f"{__package__}.sampling.grammar")
        if grammar is not None:
            if not isinstance(grammar, G.LlamaGrammar):
                raise TypeError(f"grammar must be a LlamaGrammar, got {type(grammar).__name__}")
            return grammar.constraint(self._tokenizer)
        if response_format["type"] == "json_object":
            schema = response_format.get("schema")
        else:
            spec = response_format.get("json_schema")
            if not isinstance(spec, dict):
                raise ValueError('response_format json_schema needs "json_schema": {"name": ..., "schema": {...}}')
            schema = spec.get("schema")
        if schema is not None and not isinstance(schema, dict):
            raise ValueError(f"the response_format schema must be a JSON object (dict), got {type(schema).__name__}")
        return G.json_schema_constraint(schema, self._tokenizer)

    def sample(
        self,
        top_k: int = 40,
        top_p: float = 0.95,
        min_p: float = 0.05,
        typical_p: float = 1.0,
        temp: float = 0.80,
        repeat_penalty: float = 1.0,
        frequency_penalty: float = 0.0,
        presence_penalty: float = 0.0,
        tfs_z: float = 1.0,
        mirostat_mode: int = 0,
        mirostat_eta: float = 0.1,
        mirostat_tau: float = 5.0,
        penalize_nl: bool = True,
        logits_processor: Sequence[Callable] | None = None,
        grammar: Any = None,
        idx: int | None = None,
        response_format: dict | None = None,
        **sampler_options: Any,
    ) -> int:
        """One token sampled from the logits after the last evaluated token (or row idx with logits_all).
        sampler_options: min_keep, top_n_sigma, xtc_*, dry_*, samplers (see create_completion). A grammar constrains
        this one token from its start (as llama-cpp-python, whose sample() builds a fresh sampler each call)."""
        sampler = self._sampler(
            top_k=top_k, top_p=top_p, min_p=min_p, typical_p=typical_p, temp=temp, repeat_penalty=repeat_penalty,
            frequency_penalty=frequency_penalty, presence_penalty=presence_penalty, mirostat_mode=mirostat_mode,
            mirostat_tau=mirostat_tau, mirostat_eta=mirostat_eta, **_sampler_options(sampler_options),
        )  # fmt: skip
        constraint = self._constraint(grammar, response_format)
        if idx is not None:
            if not self._logits_all:
                raise ValueError("sample(idx=...) needs logits_all=True")
            row, context = self._session.all_logits[idx], self.input_ids[: idx + 1]
        else:
            if self._session.logits is None:
                raise ValueError("nothing evaluated yet: call eval() first")
            row, context = self._session.logits, self.input_ids
        state = GenerationState(context, sampler, self._vocab, constraint=constraint, logits_processor=logits_processor)
        return state.sample(row)

    def generate(
        self,
        tokens: Sequence[int],
        top_k: int = 40,
        top_p: float = 0.95,
        min_p: float = 0.05,
        typical_p: float = 1.0,
        temp: float = 0.80,
        repeat_penalty: float = 1.0,
        reset: bool = True,
        frequency_penalty: float = 0.0,
        presence_penalty: float = 0.0,
        tfs_z: float = 1.0,
        mirostat_mode: int = 0,
        mirostat_tau: float = 5.0,
        mirostat_eta: float = 0.1,
        penalize_nl: bool = True,
        logits_processor: Sequence[Callable] | None = None,
        stopping_criteria: Sequence[Callable] | Callable | None = None,
        grammar: Any = None,
        response_format: dict | None = None,
        **sampler_options: Any,
    ) -> Iterator[int]:
        """Yield sampled tokens after `tokens`, forever (the caller stops; a grammar that is finished stops too).
        With reset=True the longest prefix of `tokens` already evaluated is reused; with reset=False `tokens` are
        appended to the current state. Sending a list of tokens into the generator evaluates them after the yielded
        token. sampler_options: min_keep, top_n_sigma, xtc_*, dry_*, samplers (see create_completion)."""
        sampler = self._sampler(
            top_k=top_k, top_p=top_p, min_p=min_p, typical_p=typical_p, temp=temp, repeat_penalty=repeat_penalty,
            frequency_penalty=frequency_penalty, presence_penalty=presence_penalty, mirostat_mode=mirostat_mode,
            mirostat_tau=mirostat_tau, mirostat_eta=mirostat_eta, **_sampler_options(sampler_options),
        )  # fmt: skip
        constraint = self._constraint(grammar, response_format)
        return self._exclusive.stream(
            lambda: self._generate(tokens, sampler, reset, constraint, logits_processor, _as_list(stopping_criteria))
        )

    def _generate(self, tokens, sampler: Sampler, reset: bool, constraint, logits_processor, criteria) -> Iterator[int]:
        if reset:
            self._require_engine()
            self._check_token_ids(tokens)
            self._session.prepare(tokens)
        else:
            self._eval(tokens)
        state = GenerationState(self.input_ids, sampler, self._vocab, stop_at_eog=False, constraint=constraint,
                                logits_processor=logits_processor, stopping_criteria=criteria)  # fmt: skip
        while True:
            ev = state.step(self._session.logits)
            if ev.token is None:
                return
            extra = yield ev.token
            if ev.finish_reason is not None:  # a finished grammar: nothing may follow
                return
            if extra:
                state.add_tokens(extra)
            self._eval([ev.token, *(extra or [])])

    # ---- completions ---------------------------------------------------------------------------------------------

    def __call__(self, prompt: str | Sequence[int], **kwargs: Any):
        return self.create_completion(prompt, **kwargs)

    def create_completion(
        self,
        prompt: str | Sequence[int],
        suffix: str | None = None,
        max_tokens: int | None = 16,
        temperature: float = 0.8,
        top_p: float = 0.95,
        min_p: float = 0.05,
        typical_p: float = 1.0,
        logprobs: int | None = None,
        echo: bool = False,
        stop: str | list[str] | None = None,
        frequency_penalty: float = 0.0,
        presence_penalty: float = 0.0,
        repeat_penalty: float = 1.0,
        top_k: int = 40,
        stream: bool = False,
        seed: int | None = None,
        tfs_z: float = 1.0,
        mirostat_mode: int = 0,
        mirostat_tau: float = 5.0,
        mirostat_eta: float = 0.1,
        model: str | None = None,
        stopping_criteria: Sequence[Callable] | Callable | None = None,
        logits_processor: Sequence[Callable] | None = None,
        grammar: Any = None,
        logit_bias: dict[int, float] | None = None,
        *,
        response_format: dict | None = None,
        min_keep: int = 1,
        top_n_sigma: float = -1.0,
        xtc_probability: float = 0.0,
        xtc_threshold: float = 0.1,
        dry_multiplier: float = 0.0,
        dry_base: float = 1.75,
        dry_allowed_length: int = 2,
        dry_penalty_last_n: int = -1,
        dry_sequence_breakers: Sequence[str] | None = None,
        samplers: str | Sequence[str] | None = None,
    ):
        """Complete a prompt (text or token ids). Returns llama-cpp-python's text_completion dict, or with
        stream=True an iterator of its chunks. max_tokens None/0/-1: until the context is full.

        Beyond llama-cpp-python's arguments (llama.cpp's names and defaults): response_format (as in chat),
        min_keep, top_n_sigma (<= 0: off), xtc_probability / xtc_threshold, dry_multiplier (0: off) / dry_base /
        dry_allowed_length / dry_penalty_last_n / dry_sequence_breakers, and samplers, the chain's order as
        llama.cpp's --samplers ("penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature")."""
        self._require_engine()
        prompt_tokens = self._completion_prompt(prompt, suffix)
        prompt_text = prompt if isinstance(prompt, str) else self._text(prompt_tokens)
        sampler = self._sampler(
            top_k=top_k, top_p=top_p, min_p=min_p, typical_p=typical_p, temp=temperature,
            repeat_penalty=repeat_penalty, frequency_penalty=frequency_penalty, presence_penalty=presence_penalty,
            logit_bias=logit_bias, mirostat_mode=mirostat_mode, mirostat_tau=mirostat_tau, mirostat_eta=mirostat_eta,
            seed=seed, min_keep=min_keep, top_n_sigma=top_n_sigma, xtc_probability=xtc_probability,
            xtc_threshold=xtc_threshold, dry_multiplier=dry_multiplier, dry_base=dry_base,
            dry_allowed_length=dry_allowed_length, dry_penalty_last_n=dry_penalty_last_n,
            dry_sequence_breakers=dry_sequence_breakers, samplers=samplers,
        )  # fmt: skip
        constraint = self._constraint(grammar, response_format)
        run = self._completion_run(
            prompt_tokens, prompt_text=prompt_text, sampler=sampler, constraint=constraint, max_tokens=max_tokens,
            logprobs=logprobs, echo=echo, stop=stop, stopping_criteria=stopping_criteria,
            logits_processor=logits_processor,
        )  # fmt: skip
        ident, created, name = f"cmpl-{uuid.uuid4()}", int(time.time()), model or self.model_path
        if stream:
            return self._exclusive.stream(lambda: stream_completion(run, ident, created, name))
        with self._exclusive.hold():
            return collect_completion(run, ident, created, name)

    def _completion_prompt(self, prompt: str | Sequence[int], suffix: str | None) -> list[int]:
        if isinstance(prompt, str):
            tokens = self.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        elif isinstance(prompt, (bytes, bytearray)):
            raise TypeError("prompt must be a str or a list of token ids, not bytes")
        else:
            tokens = [int(t) for t in prompt]
            self._check_token_ids(tokens)
        if suffix is not None:
            tokens = self._infill_prompt(tokens, suffix)
        if not tokens:
            if self._bos_added:
                tokens = [self.token_bos()]
            else:
                raise ValueError("the prompt is empty (and this model adds no BOS token to start from)")
        return tokens

    def _infill_prompt(self, prefix: list[int], suffix: str) -> list[int]:
        """Fill-in-the-middle: <PRE> prefix <SUF> suffix <MID>, with the model's FIM tokens."""

        def fim(*names: str) -> int | None:
            for n in names:
                v = self._metadata.get(f"tokenizer.ggml.{n}_token_id")
                if v is not None and int(v) >= 0:
                    return int(v)
            return None

        pre, suf, mid = fim("fim_pre", "prefix"), fim("fim_suf", "suffix"), fim("fim_mid", "middle")
        if pre is None or suf is None or mid is None:
            raise ValueError("suffix= needs a model with fill-in-the-middle tokens; this model has none")
        bos = [self.token_bos()] if self._bos_added else []
        if prefix[:1] == bos:
            prefix = prefix[1:]
        return [*bos, pre, *prefix, suf, *self.tokenize(suffix.encode("utf-8"), add_bos=False), mid]

    def _text(self, tokens: Sequence[int]) -> str:
        return self.detokenize(tokens).decode("utf-8", errors="replace")

    def _completion_run(
        self,
        prompt_tokens: list[int],
        *,
        prompt_text: str,
        sampler: Sampler,
        constraint=None,
        max_tokens: int | None,
        logprobs: int | None,
        echo: bool,
        stop: str | list[str] | None,
        stopping_criteria=None,
        logits_processor=None,
        stop_tokens: Sequence[int] = (),
    ) -> CompletionRun:
        """Check every argument, then return the (not yet started) generation."""
        if max_tokens is not None and (not isinstance(max_tokens, (int, np.integer)) or isinstance(max_tokens, bool)):
            raise TypeError(f"max_tokens must be an int or None, got {max_tokens!r}")
        if max_tokens is not None and max_tokens < -1:
            raise ValueError(f"max_tokens must be >= -1 (None, 0 or -1: until the context is full), got {max_tokens}")
        if logprobs is not None and (not isinstance(logprobs, (int, np.integer)) or logprobs < 0):
            raise ValueError(f"logprobs must be an int >= 0 or None, got {logprobs!r}")
        if logprobs is not None and echo and not self._logits_all:
            raise ValueError("logprobs with echo=True needs the prompt's logits: create the Llama with logits_all=True")
        if len(prompt_tokens) >= self._n_ctx:
            raise ValueError(f"Requested tokens ({len(prompt_tokens)}) exceed context window of {self._n_ctx}")
        if isinstance(stop, str):
            stop = [stop]
        stop = [s for s in (stop or []) if s]
        if not all(isinstance(s, str) for s in stop):
            raise TypeError("stop must be a string or a list of strings")
        limit = self._n_ctx - len(prompt_tokens)
        if max_tokens is not None and max_tokens > 0:
            limit = min(limit, int(max_tokens))
        state = GenerationState(
            prompt_tokens, sampler, self._vocab, max_tokens=limit, stop=stop, stop_tokens=stop_tokens,
            logprobs=logprobs, constraint=constraint, logits_processor=logits_processor,
            stopping_criteria=_as_list(stopping_criteria), text_offset=len(prompt_text),
        )  # fmt: skip
        return CompletionRun(self._session, state, prompt_tokens, prompt_text, echo, self._vocab, self.verbose)

    # ---- chat ----------------------------------------------------------------------------------------------------

    @property
    def chat_formatter(self) -> ChatFormatter:
        if self._chat_formatter is None:
            self._chat_formatter = load_chat_formatter(self._chat_format_arg, self._metadata)
        return self._chat_formatter

    def apply_chat_template(
        self, messages: list[dict], *, add_generation_prompt: bool = True, tools: list[dict] | None = None, **kwargs
    ) -> str:
        """The prompt text for messages, as the model's chat template writes it."""
        return self.chat_formatter.render(messages, add_generation_prompt=add_generation_prompt, tools=tools, **kwargs)

    def _chat_prompt_tokens(self, prompt: str) -> list[int]:
        tokens = self.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        if self._bos_added and tokens[:1] != [self.token_bos()]:
            tokens.insert(0, self.token_bos())
        return tokens

    def _stop_tokens(self, stop: Sequence[str]) -> list[int]:
        """Token ids of the stop strings that are a single control token (e.g. <|im_end|>): such a token renders
        as no text, so the string itself would never be seen."""
        out = []
        for s in stop:
            ids = self.tokenize(s.encode("utf-8"), add_bos=False, special=True)
            if len(ids) == 1 and ids != self.tokenize(s.encode("utf-8"), add_bos=False, special=False):
                out.append(ids[0])
        return out

    def create_chat_completion(
        self,
        messages: list[dict],
        functions: list[dict] | None = None,
        function_call: Any = None,
        tools: list[dict] | None = None,
        tool_choice: Any = None,
        temperature: float = 0.2,
        top_p: float = 0.95,
        top_k: int = 40,
        min_p: float = 0.05,
        typical_p: float = 1.0,
        stream: bool = False,
        stop: str | list[str] | None = None,
        seed: int | None = None,
        response_format: dict | None = None,
        max_tokens: int | None = None,
        presence_penalty: float = 0.0,
        frequency_penalty: float = 0.0,
        repeat_penalty: float = 1.0,
        tfs_z: float = 1.0,
        mirostat_mode: int = 0,
        mirostat_tau: float = 5.0,
        mirostat_eta: float = 0.1,
        model: str | None = None,
        logits_processor: Sequence[Callable] | None = None,
        grammar: Any = None,
        logit_bias: dict[int, float] | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        chat_template_kwargs: dict[str, Any] | None = None,
        *,
        parallel_tool_calls: bool | None = None,
        stopping_criteria: Sequence[Callable] | Callable | None = None,
        min_keep: int = 1,
        top_n_sigma: float = -1.0,
        xtc_probability: float = 0.0,
        xtc_threshold: float = 0.1,
        dry_multiplier: float = 0.0,
        dry_base: float = 1.75,
        dry_allowed_length: int = 2,
        dry_penalty_last_n: int = -1,
        dry_sequence_breakers: Sequence[str] | None = None,
        samplers: str | Sequence[str] | None = None,
    ):
        """Answer a conversation. Returns llama-cpp-python's chat.completion dict, or with stream=True an iterator of
        chat.completion.chunk dicts. The prompt is the model's chat template (see `chat_format`); generation stops
        at the model's end-of-turn tokens, the template's stop strings and `stop`. response_format {"type":
        "json_object"} (optionally with "schema") or {"type": "json_schema", "json_schema": {"schema": ...}}, or a
        grammar, constrain the answer. The sampler options after chat_template_kwargs are create_completion's."""
        self._require_engine()
        constraint = self._constraint(grammar, response_format)
        formatter = self.chat_formatter
        req = prepare_chat_request(
            formatter, messages, tools=tools, tool_choice=tool_choice, functions=functions,
            function_call=function_call, parallel_tool_calls=parallel_tool_calls,
            template_kwargs=chat_template_kwargs,
        )  # fmt: skip
        tool_constraint = req.constraint(self._tokenizer)  # None, or the tool call's schema (forced or lazy)
        if tool_constraint is not None:
            if constraint is not None:
                raise ValueError("grammar/response_format cannot be combined with tools the model may call")
            constraint = tool_constraint
        prompt = req.prompt
        prompt_tokens = self._chat_prompt_tokens(prompt)
        user_stop = [stop] if isinstance(stop, str) else list(stop or [])
        sampler = self._sampler(
            top_k=top_k, top_p=top_p, min_p=min_p, typical_p=typical_p, temp=temperature,
            repeat_penalty=repeat_penalty, frequency_penalty=frequency_penalty, presence_penalty=presence_penalty,
            logit_bias=logit_bias, mirostat_mode=mirostat_mode, mirostat_tau=mirostat_tau, mirostat_eta=mirostat_eta,
            seed=seed, min_keep=min_keep, top_n_sigma=top_n_sigma, xtc_probability=xtc_probability,
            xtc_threshold=xtc_threshold, dry_multiplier=dry_multiplier, dry_base=dry_base,
            dry_allowed_length=dry_allowed_length, dry_penalty_last_n=dry_penalty_last_n,
            dry_sequence_breakers=dry_sequence_breakers, samplers=samplers,
        )  # fmt: skip
        run = self._completion_run(
            prompt_tokens, prompt_text=prompt, sampler=sampler, constraint=constraint, max_tokens=max_tokens,
            logprobs=(top_logprobs or 0) if logprobs else None, echo=False,
            stop=user_stop + list(formatter.stop) + list(req.stop), stopping_criteria=stopping_criteria,
            logits_processor=logits_processor, stop_tokens=self._stop_tokens(formatter.stop),
        )  # fmt: skip
        ident, created, name = f"chatcmpl-{uuid.uuid4()}", int(time.time()), model or self.model_path
        if stream:
            return self._exclusive.stream(lambda: req.stream(stream_chat(run, ident, created, name)))
        with self._exclusive.hold():
            result = collect_completion(run, ident, created, name)
        choice = result["choices"][0]
        message, finish_reason = req.message(choice["text"], choice["finish_reason"])
        return {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": name,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": chat_logprobs(choice["logprobs"]),
                    "finish_reason": finish_reason,
                }
            ],
            "usage": result["usage"],
        }

    # ---- helpers llama-cpp-python exposes ------------------------------------------------------------------------

    @staticmethod
    def logits_to_logprobs(logits: np.ndarray, axis: int = -1) -> np.ndarray:
        logits = np.asarray(logits, dtype=np.float32)
        m = np.max(logits, axis=axis, keepdims=True)
        shifted = logits - m
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    @staticmethod
    def longest_token_prefix(a: Sequence[int], b: Sequence[int]) -> int:
        return longest_token_prefix(a, b)


class LlamaTokenizer:
    """llama-cpp-python's LlamaTokenizer: text <-> tokens through a Llama."""

    def __init__(self, llama: Llama):
        self._llama = llama

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = True) -> list[int]:
        return self._llama.tokenize(text, add_bos=add_bos, special=special)

    def detokenize(self, tokens: Sequence[int], prev_tokens: Sequence[int] | None = None, special: bool = False):
        return self._llama.detokenize(tokens, special=special)

    def encode(self, text: str, add_bos: bool = True, special: bool = True) -> list[int]:
        return self.tokenize(text.encode("utf-8", errors="ignore"), add_bos=add_bos, special=special)

    def decode(self, tokens: Sequence[int]) -> str:
        return self.detokenize(tokens).decode("utf-8", errors="ignore")


# Sampler settings beyond llama-cpp-python's (llama.cpp's names): accepted by sample() and generate() as keywords.
_SAMPLER_OPTIONS = (
    "min_keep top_n_sigma xtc_probability xtc_threshold dry_multiplier dry_base dry_allowed_length dry_penalty_last_n "
    "dry_sequence_breakers samplers seed logit_bias"
).split()


def _sampler_options(options: dict[str, Any]) -> dict[str, Any]:
    for name in options:
        if name not in _SAMPLER_OPTIONS:
            raise TypeError(f"unexpected keyword argument {name!r}")
    return options


def _as_list(x) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _guess(metadata: dict[str, Any]) -> str:
    from .chat import guess_chat_format

    return guess_chat_format(metadata)


def _default_threads() -> int:
    try:
        from . import _core

        return max(1, int(_core.physical_core_count()))
    except Exception:
        return max(1, (os.cpu_count() or 2) // 2)


def _check_extra_args(kwargs: dict[str, Any]) -> None:
    for name, value in kwargs.items():
        if name in _IGNORED_ARGS:
            continue
        if name in _UNSUPPORTED_DEFAULTS:
            if value != _UNSUPPORTED_DEFAULTS[name] and value is not None:
                raise NotImplementedError(f"Llama({name}={value!r}) is not supported by llamacore yet")
            continue
        raise TypeError(f"Llama() got an unexpected keyword argument {name!r}")
