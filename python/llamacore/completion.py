"""One completion of a Llama: the generation loop that turns sampled tokens into text, and llama-cpp-python's
result dicts (text_completion, chat.completion and their stream chunks) built from it."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .sampling import log_softmax
from .sampling.stops import TextStream

if TYPE_CHECKING:
    from .llama import Llama


@dataclass
class CompletionResult:
    """What one completion produced, filled in while its text streams out."""

    prompt_tokens: int = 0
    completion_tokens: list[int] = field(default_factory=list)
    finish_reason: str | None = None


class CompletionRun:
    """One completion's generation, iterated as (text delta, logprobs of the tokens in it or None).

    Tokens are sampled one at a time; each is evaluated only when the next one is needed. The text goes through a
    TextStream (whole characters, stop strings held back); `result` is complete once iteration ends."""

    def __init__(self, llm: Llama, prompt_tokens, prompt_text, sampler, limit, stop, logprobs, echo, processors,
                 criteria, stop_tokens):  # fmt: skip
        self.llm, self.prompt_tokens, self.prompt_text = llm, prompt_tokens, prompt_text
        self.sampler, self.limit, self.stop, self.logprobs, self.echo = sampler, limit, stop, logprobs, echo
        self.processors, self.criteria, self.stop_tokens = processors, criteria, stop_tokens
        self.result = CompletionResult(prompt_tokens=len(prompt_tokens))
        self._started = False

    def __iter__(self) -> Iterator[tuple[str, dict | None]]:
        if self._started:
            raise RuntimeError("a completion can be iterated only once")
        self._started = True
        llm, r = self.llm, self.result
        t0 = time.perf_counter()
        reused = llm._prepare(self.prompt_tokens)
        t1 = time.perf_counter()
        base = len(self.prompt_text)  # text offsets count the prompt, echoed or not (as llama-cpp-python)
        if self.echo:
            yield self.prompt_text, self._echo_logprobs() if self.logprobs is not None else None
        out = TextStream(self.stop)
        pending: list[tuple[int, dict]] = []  # (text offset, logprob entry) of tokens whose text is not shown yet
        try:
            while True:
                if len(r.completion_tokens) >= self.limit:
                    r.finish_reason = "length"
                    break
                if r.completion_tokens:
                    llm.eval(r.completion_tokens[-1:])
                row = llm._last_logits
                token = self.sampler.sample(row, llm.input_ids, self.processors)
                if any(c(llm.input_ids, row) for c in self.criteria):
                    r.finish_reason = "stop"
                    break
                if token in self.stop_tokens or llm._tokenizer.is_eog(token):
                    r.finish_reason = "stop"
                    break
                r.completion_tokens.append(token)
                if self.logprobs is not None:
                    pending.append((base + out.emitted + len(out._held), self._token_logprobs(row, token)))
                text = out.push(llm._piece(token))
                if text:
                    yield text, self._release(pending, base + out.emitted, final=False)
                if out.stopped:  # the tokens whose text was cut off keep no logprobs
                    r.finish_reason = "stop"
                    break
            if not out.stopped:
                tail = out.flush()
                if tail or pending:
                    yield tail, self._release(pending, base + out.emitted, final=True)
        finally:
            if llm.verbose:
                t2 = time.perf_counter()
                n_new = len(self.prompt_tokens) - reused
                n_gen = len(r.completion_tokens)
                print(
                    f"llamacore: prompt {len(self.prompt_tokens)} tokens ({reused} cached, {n_new} evaluated in"
                    f" {t1 - t0:.2f} s); generated {n_gen} tokens in {t2 - t1:.2f} s"
                    f" ({n_gen / max(t2 - t1, 1e-9):.1f} tokens/s)",
                    file=sys.stderr,
                )

    def _token_logprobs(self, row: np.ndarray, token: int) -> dict:
        lp = log_softmax(row)
        n = int(self.logprobs)
        top = np.argpartition(-lp, n - 1)[:n] if 0 < n < lp.shape[0] else np.arange(0 if n == 0 else lp.shape[0])
        top = top[np.argsort(-lp[top], kind="stable")]
        piece = self._piece_text
        tops = {piece(int(i)): float(lp[i]) for i in top}
        tops[piece(token)] = float(lp[token])
        return {"token": piece(token), "logprob": float(lp[token]), "top": tops}

    def _piece_text(self, token: int) -> str:
        return self.llm._piece(token).decode("utf-8", errors="ignore")

    def _release(self, pending: list[tuple[int, dict]], shown_end: int, final: bool) -> dict | None:
        """The logprobs of the tokens whose text has been shown (all of them when final; none after a stop)."""
        if self.logprobs is None:
            return None
        done = [(o, e) for o, e in pending if final or o < shown_end]
        del pending[: len(done)]
        return {
            "tokens": [e["token"] for _, e in done],
            "text_offset": [o for o, _ in done],
            "token_logprobs": [e["logprob"] for _, e in done],
            "top_logprobs": [e["top"] for _, e in done],
        }

    def _echo_logprobs(self) -> dict:
        """Logprobs of the prompt's tokens (needs logits_all); the first has none, as in OpenAI's API."""
        llm, toks = self.llm, self.prompt_tokens
        out = {"tokens": [], "text_offset": [], "token_logprobs": [], "top_logprobs": []}
        offset = 0
        for i, t in enumerate(toks):
            s = self._piece_text(t)
            out["tokens"].append(s)
            out["text_offset"].append(offset)
            offset += len(s)
            if i == 0:
                out["token_logprobs"].append(None)
                out["top_logprobs"].append(None)
                continue
            e = self._token_logprobs(llm._all_logits[i - 1], t)
            out["token_logprobs"].append(e["logprob"])
            out["top_logprobs"].append(e["top"])
        return out


def chat_logprobs(lp: dict | None) -> dict | None:
    """Completion logprobs -> the chat format ({"content": [{token, logprob, bytes, top_logprobs}], "refusal"})."""
    if lp is None:
        return None
    content = [
        {
            "token": tok,
            "bytes": None,
            "logprob": lp_,
            "top_logprobs": [{"token": t, "logprob": v, "bytes": None} for t, v in (top or {}).items()],
        }
        for tok, lp_, top in zip(lp["tokens"], lp["token_logprobs"], lp["top_logprobs"], strict=True)
    ]
    return {"content": content, "refusal": None}


def stream_completion(run: CompletionRun, ident: str, created: int, name: str) -> Iterator[dict]:
    def chunk(text: str, lp: dict | None, finish: str | None) -> dict:
        choice = {"text": text, "index": 0, "logprobs": lp, "finish_reason": finish}
        return {"id": ident, "object": "text_completion", "created": created, "model": name, "choices": [choice]}

    for text, lp in run:
        yield chunk(text, lp, None)
    yield chunk("", None, run.result.finish_reason)


def collect_completion(run: CompletionRun, ident: str, created: int, name: str) -> dict:
    texts, lps = [], []
    for text, lp in run:
        texts.append(text)
        if lp is not None:
            lps.append(lp)
    logprobs = None
    if run.logprobs is not None:
        logprobs = {k: [v for lp in lps for v in lp[k]] for k in ("tokens", "text_offset", "token_logprobs")}
        logprobs["top_logprobs"] = [v for lp in lps for v in lp["top_logprobs"]]
    r = run.result
    return {
        "id": ident,
        "object": "text_completion",
        "created": created,
        "model": name,
        "choices": [{"text": "".join(texts), "index": 0, "logprobs": logprobs, "finish_reason": r.finish_reason}],
        "usage": {
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": len(r.completion_tokens),
            "total_tokens": r.prompt_tokens + len(r.completion_tokens),
        },
    }


def stream_chat(run: CompletionRun, ident: str, created: int, name: str) -> Iterator[dict]:
    def chunk(delta: dict, lp: dict | None, finish: str | None) -> dict:
        choice = {"index": 0, "delta": delta, "logprobs": lp, "finish_reason": finish}
        return {
            "id": ident,
            "model": name,
            "created": created,
            "object": "chat.completion.chunk",
            "choices": [choice],
        }

    yield chunk({"role": "assistant"}, None, None)
    for text, lp in run:
        yield chunk({"content": text}, chat_logprobs(lp), None)
    yield chunk({}, None, run.result.finish_reason)
