"""llama-cpp-python's result dicts (text_completion, chat.completion and their stream chunks) around one generation
(the token loop itself is engine/generation.py's)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

from .engine.generation import GenerationState, Vocab, stream_generate, token_logprobs
from .engine.session import Session


class CompletionRun:
    """One completion of a Llama, iterated as (text delta, logprobs of the tokens in it or None).

    The generation itself is engine.generation's: a GenerationState stepped on the Session's logits. This adds what
    the text_completion API wants around it: echo of the prompt (and its logprobs), and the timing line."""

    def __init__(self, session: Session, state: GenerationState, prompt_tokens: list[int], prompt_text: str,
                 echo: bool, vocab: Vocab, verbose: bool = False):  # fmt: skip
        self.session, self.state, self.prompt_tokens, self.prompt_text = session, state, prompt_tokens, prompt_text
        self.echo, self.vocab, self.verbose = echo, vocab, verbose
        self._started = False

    @property
    def logprobs(self) -> int | None:
        return self.state.logprobs

    @property
    def finish_reason(self) -> str | None:
        return self.state.finish_reason

    @property
    def usage(self) -> dict:
        n_prompt, n_gen = len(self.prompt_tokens), len(self.state.completion_tokens)
        return {"prompt_tokens": n_prompt, "completion_tokens": n_gen, "total_tokens": n_prompt + n_gen}

    def __iter__(self) -> Iterator[tuple[str, dict | None]]:
        if self._started:
            raise RuntimeError("a completion can be iterated only once")
        self._started = True
        t0 = time.perf_counter()
        reused = self.session.prepare(self.prompt_tokens)
        t1 = time.perf_counter()
        if self.echo:
            yield self.prompt_text, self._echo_logprobs() if self.logprobs is not None else None
        try:
            for ev in stream_generate(self.session, self.state):
                if ev.text or ev.logprobs is not None:
                    yield ev.text, ev.logprobs
        finally:
            if self.verbose:
                t2 = time.perf_counter()
                n_new = len(self.prompt_tokens) - reused
                n_gen = len(self.state.completion_tokens)
                print(
                    f"llamacore: prompt {len(self.prompt_tokens)} tokens ({reused} cached, {n_new} evaluated in"
                    f" {t1 - t0:.2f} s); generated {n_gen} tokens in {t2 - t1:.2f} s"
                    f" ({n_gen / max(t2 - t1, 1e-9):.1f} tokens/s)",
                    file=sys.stderr,
                )

    def _echo_logprobs(self) -> dict:
        """Logprobs of the prompt's tokens (needs logits_all); the first has none, as in OpenAI's API."""
        toks, rows = self.prompt_tokens, self.session.all_logits
        out = {"tokens": [], "text_offset": [], "token_logprobs": [], "top_logprobs": []}
        offset = 0
        for i, t in enumerate(toks):
            s = self.vocab.text(t)
            out["tokens"].append(s)
            out["text_offset"].append(offset)
            offset += len(s)
            if i == 0:
                out["token_logprobs"].append(None)
                out["top_logprobs"].append(None)
                continue
            e = token_logprobs(rows[i - 1], t, int(self.logprobs), self.vocab)
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
    yield chunk("", None, run.finish_reason)


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
    return {
        "id": ident,
        "object": "text_completion",
        "created": created,
        "model": name,
        "choices": [{"text": "".join(texts), "index": 0, "logprobs": logprobs, "finish_reason": run.finish_reason}],
        "usage": run.usage,
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
    yield chunk({}, None, run.finish_reason)
