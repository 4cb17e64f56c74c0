"""A Hugging Face tokenizer as GGUF metadata: the keys llama.cpp's convert_hf_to_gguf.py writes.

Three kinds, as llama.cpp names them in tokenizer.ggml.model:
  "llama"  SentencePiece from tokenizer.model (pieces, scores, types; added tokens from tokenizer_config.json)
  "gpt2"   byte-level BPE from tokenizer.json (vocab, merges); tokenizer.ggml.pre is identified from its own
           pre-tokenizer (the regexes and steps it applies), not from a table of model hashes
  "bert"   WordPiece from tokenizer.json (or vocab.txt), written with llama.cpp's phantom-space spelling
Then the special tokens (BOS/EOS/UNK/SEP/PAD/CLS/MASK ids, add_bos/add_eos/add_sep) and the chat template, by the
rules of gguf-py's SpecialVocab.

    vocab = read_vocab(folder, config, kind="spm-first")   # Vocab(meta=[(key, value, type)], n_tokens=...)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..gguf import GGUFValueType as VT
from . import sentencepiece as spm
from .errors import ConvertError

Meta = list[tuple[str, object, VT]]
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
MAX_JSON_BYTES = 1 << 30


@dataclass
class Vocab:
    meta: Meta = field(default_factory=list)
    n_tokens: int = 0


def read_json(path: Path, *, required: bool = False) -> dict | None:
    if not path.is_file():
        if required:
            raise ConvertError(f"{path.parent}: {path.name} is missing")
        return None
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ConvertError(f"{path}: over {MAX_JSON_BYTES >> 20} MiB, not a configuration file")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConvertError(f"{path}: cannot read it as JSON ({e})") from None
    if not isinstance(data, dict):
        raise ConvertError(f"{path}: not a JSON object")
    return data


def looks_special(text: str) -> bool:
    """convert_hf_to_gguf's does_token_look_special: added tokens some models forget to mark special."""
    return (
        text in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
        or (text.startswith("<|") and text.endswith("|>"))
        or (text.startswith("<\uff5c") and text.endswith("\uff5c>"))
        or (text.startswith("<unused") and text.endswith(">"))
    )


# ---- pre-tokenizer identification ----
_CONTRACTIONS = "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
_LLAMA3 = _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_QWEN2 = _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_QWEN35 = (
    _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# What each llama.cpp pre-tokenizer name applies, in tokenizer.json's terms: "split:<regex>" (Split, Isolated),
# "digits" (Digits, one digit per piece), "bytelevel+regex" (ByteLevel with GPT-2's own expression),
# "bytelevel" (ByteLevel as the byte mapping only). The names are those csrc/tokenizer/pretokenize.cpp implements.
PRE_TOKENIZERS: dict[tuple[str, ...], str] = {
    ("split:" + _LLAMA3, "bytelevel"): "llama-bpe",
    ("split:" + _QWEN2, "bytelevel"): "qwen2",
    ("split:" + _QWEN35, "bytelevel"): "qwen35",
    ("bytelevel+regex",): "gpt-2",
    ("digits", "bytelevel+regex"): "starcoder",  # "smollm" when clean_up_tokenization_spaces is false
}


def pre_tokenizer_steps(tokenizer: dict) -> tuple[str, ...]:
    """tokenizer.json's normalizer and pre_tokenizer as the step names of PRE_TOKENIZERS (unknown steps are kept,
    spelled out, so the error message can show them)."""
    norm = tokenizer.get("normalizer")
    steps: list[str] = []
    if norm is not None and norm.get("type") not in ("NFC",):  # NFC changes nothing llama.cpp's regexes see
        steps.append(f"normalizer:{json.dumps(norm, sort_keys=True)[:200]}")

    def visit(p: dict | None) -> None:
        if p is None:
            return
        kind = p.get("type")
        if kind == "Sequence":
            for q in p.get("pretokenizers", []):
                visit(q)
        elif kind == "Split" and isinstance(p.get("pattern"), dict) and "Regex" in p["pattern"]:
            if p.get("behavior") != "Isolated" or p.get("invert"):
                steps.append(f"split({p.get('behavior')}, invert={p.get('invert')}):{p['pattern']['Regex']}")
            else:
                steps.append("split:" + p["pattern"]["Regex"])
        elif kind == "Digits":
            steps.append("digits" if p.get("individual_digits") else "digits+")
        elif kind == "ByteLevel":
            steps.append("bytelevel+regex" if p.get("use_regex", True) else "bytelevel")
        else:
            steps.append(f"{kind}:{json.dumps(p, sort_keys=True)[:200]}")

    visit(tokenizer.get("pre_tokenizer"))
    return tuple(steps)


def identify_pre(tokenizer: dict, tokenizer_config: dict | None) -> str:
    steps = pre_tokenizer_steps(tokenizer)
    name = PRE_TOKENIZERS.get(steps)
    if name is None:
        raise ConvertError(
            "tokenizer.json's pre-tokenizer is not one llamacore knows: "
            + " -> ".join(steps or ("(none)",))
            + f"; known: {', '.join(sorted(set(PRE_TOKENIZERS.values())))} (pass pre=NAME / --pre NAME to choose)"
        )
    if name == "starcoder" and (tokenizer_config or {}).get("clean_up_tokenization_spaces") is False:
        name = "smollm"
    return name


# ---- the three vocabulary kinds ----
def _hf_tokens(tokenizer: dict, vocab_size: int | None, what: str) -> tuple[list[str], list[int], dict[int, dict]]:
    """tokenizer.json's model vocabulary plus its added tokens, by id, padded to vocab_size with [PAD{i}]."""
    model = tokenizer.get("model") or {}
    vocab = model.get("vocab")
    if not isinstance(vocab, dict):
        raise ConvertError(f"{what}: model.vocab is not a mapping of tokens to ids")
    by_id: dict[int, str] = {}
    for tok, i in vocab.items():
        if not isinstance(i, int) or i < 0:
            raise ConvertError(f"{what}: token {tok!r} has id {i!r}")
        by_id[i] = tok
    added: dict[int, dict] = {}
    for a in tokenizer.get("added_tokens") or []:
        if not isinstance(a, dict) or not isinstance(a.get("id"), int) or not isinstance(a.get("content"), str):
            raise ConvertError(f"{what}: malformed added token {a!r}")
        by_id[a["id"]] = a["content"]
        added[a["id"]] = a
    n = max(by_id) + 1 if by_id else 0
    if vocab_size is not None:
        if n > vocab_size:
            raise ConvertError(f"{what}: token id {n - 1} is not below config.json's vocab_size {vocab_size}")
        n = vocab_size
    if n > 1 << 24:
        raise ConvertError(f"{what}: {n} tokens is not a plausible vocabulary")
    tokens, types = [], []
    for i in range(n):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(UNUSED)
        elif i in added:
            tok = by_id[i]
            if added[i].get("special") or looks_special(tok):
                types.append(CONTROL)
            else:
                tok = tok.replace("\u2581", " ")  # llama.cpp wants user-defined tokens pre-normalized
                types.append(USER_DEFINED)
            tokens.append(tok)
        else:
            tokens.append(by_id[i])
            types.append(NORMAL)
    return tokens, types, added


def _merges(tokenizer: dict, what: str) -> list[str]:
    merges = (tokenizer.get("model") or {}).get("merges")
    if not isinstance(merges, list) or not merges:
        return []
    if all(isinstance(m, str) for m in merges):
        return merges
    if all(isinstance(m, list) and len(m) == 2 and all(isinstance(s, str) for s in m) for m in merges):
        # pairs (tokenizers >= 0.20): a space inside a part is written as U+0120 + ... as gguf-py does
        return [" ".join("".join(chr(ord(c) + 256) if c == " " else c for c in part) for part in m) for m in merges]
    raise ConvertError(f"{what}: model.merges is neither strings nor pairs of strings")


def _bpe(folder: Path, tokenizer: dict, config: dict, tconfig: dict | None, pre: str | None) -> Vocab:
    what = str(folder / "tokenizer.json")
    model = tokenizer.get("model") or {}
    if model.get("type") != "BPE":
        raise ConvertError(f"{what}: model type {model.get('type')!r} is not BPE")
    if model.get("byte_fallback"):
        raise ConvertError(
            f"{what}: a SentencePiece-style BPE (byte_fallback) without tokenizer.model is not supported; "
            "add the model's tokenizer.model"
        )
    tokens, types, _ = _hf_tokens(tokenizer, config.get("vocab_size"), what)
    merges = _merges(tokenizer, what)
    if not merges:
        raise ConvertError(f"{what}: a BPE vocabulary without merges")
    pre_name = pre or identify_pre(tokenizer, tconfig)
    v = Vocab(n_tokens=len(tokens))
    v.meta += [
        ("tokenizer.ggml.model", "gpt2", VT.STRING),
        ("tokenizer.ggml.pre", pre_name, VT.STRING),
        ("tokenizer.ggml.tokens", tokens, VT.STRING),
        ("tokenizer.ggml.token_type", types, VT.INT32),
        ("tokenizer.ggml.merges", merges, VT.STRING),
    ]
    v.meta += special_vocab(folder, tokenizer, tconfig, config, n_vocab=None)
    return v


def _spm(folder: Path, tokenizer: dict | None, config: dict, tconfig: dict | None, arch: str) -> Vocab:
    m = spm.read_model(folder / "tokenizer.model")
    vocab_size = config.get("vocab_size") or len(m.pieces)
    tokens = [f"[PAD{i}]" for i in range(vocab_size)]
    scores = [-10000.0] * vocab_size
    types = [UNUSED] * vocab_size
    for i, (text, score, kind) in enumerate(m.pieces[:vocab_size]):
        tokens[i], scores[i], types[i] = text, score, kind
    added_json = read_json(folder / "added_tokens.json")
    for text, i in (added_json or {}).items():
        if isinstance(i, int) and 0 <= i < vocab_size:
            tokens[i], scores[i], types[i] = text, -1000.0, USER_DEFINED
    for key, data in ((tconfig or {}).get("added_tokens_decoder") or {}).items():
        try:
            i = int(key)
        except ValueError:
            raise ConvertError(f"tokenizer_config.json: added_tokens_decoder key {key!r} is not an id") from None
        if not isinstance(data, dict) or not isinstance(data.get("content"), str):
            raise ConvertError(f"tokenizer_config.json: added_tokens_decoder[{key}] has no content")
        if not 0 <= i < vocab_size:
            continue
        text = data["content"]
        if arch == "phi3":  # Phi3MiniModel: special -> control, else user-defined, no look-special guess
            types[i] = CONTROL if data.get("special") else USER_DEFINED
        elif data.get("special") or looks_special(text):
            types[i] = CONTROL
        else:
            text = text.replace("\u2581", " ")
            types[i] = USER_DEFINED
        tokens[i], scores[i] = text, -1000.0
    if arch == "phi3" and tokenizer:  # Phi3MiniModel also takes tokenizer.json's added tokens
        for a in tokenizer.get("added_tokens") or []:
            i = a.get("id") if isinstance(a, dict) else None
            if isinstance(i, int) and 0 <= i < vocab_size and isinstance(a.get("content"), str):
                tokens[i], scores[i] = a["content"], -1000.0
                types[i] = CONTROL if a.get("special") else USER_DEFINED
    v = Vocab(n_tokens=len(tokens))
    v.meta += [
        ("tokenizer.ggml.model", "llama", VT.STRING),
        ("tokenizer.ggml.pre", "default", VT.STRING),
        ("tokenizer.ggml.tokens", tokens, VT.STRING),
        ("tokenizer.ggml.scores", scores, VT.FLOAT32),
        ("tokenizer.ggml.token_type", types, VT.INT32),
    ]
    v.meta += special_vocab(folder, tokenizer, tconfig, config, n_vocab=len(tokens))
    return v


def _wordpiece(folder: Path, tokenizer: dict | None, config: dict, tconfig: dict | None) -> Vocab:
    if tokenizer is not None:
        what = str(folder / "tokenizer.json")
        if (tokenizer.get("model") or {}).get("type") != "WordPiece":
            raise ConvertError(f"{what}: model type {(tokenizer.get('model') or {}).get('type')!r} is not WordPiece")
        tokens, types, _ = _hf_tokens(tokenizer, config.get("vocab_size"), what)
        norm = tokenizer.get("normalizer") or {}
        lowercase = norm.get("lowercase", False) if norm.get("type") == "BertNormalizer" else False
    else:
        path = folder / "vocab.txt"
        if not path.is_file():
            raise ConvertError(f"{folder}: a WordPiece model needs tokenizer.json or vocab.txt")
        words = path.read_text(encoding="utf-8").split("\n")
        if words and words[-1] == "":
            words.pop()
        special = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
        tokens, types = words, [CONTROL if w in special else NORMAL for w in words]
        lowercase = bool((tconfig or {}).get("do_lower_case", True))
    # llama.cpp's WordPiece spelling: a word start gets U+2581, a "##" continuation loses its "##"
    tokens = [
        t if k == CONTROL else t[2:] if t.startswith("##") else "\u2581" + t for t, k in zip(tokens, types, strict=True)
    ]
    v = Vocab(n_tokens=len(tokens))
    v.meta += [
        ("tokenizer.ggml.token_type_count", config.get("type_vocab_size", 1), VT.UINT32),
        ("tokenizer.ggml.model", "bert", VT.STRING),
        # convert_hf_to_gguf names the vocabulary by a hash of its output; for BERT-base-uncased-style ones
        # (all-MiniLM-L6-v2) that gives "jina-v2-en". llama.cpp's WordPiece applies no pre-tokenizer by name, so
        # this is only what tools show
        ("tokenizer.ggml.pre", "jina-v2-en" if lowercase else "default", VT.STRING),
        ("tokenizer.ggml.tokens", tokens, VT.STRING),
        ("tokenizer.ggml.token_type", types, VT.INT32),
    ]
    v.meta += special_vocab(folder, tokenizer or {}, tconfig, config, n_vocab=len(tokens))
    return v


# ---- special tokens and the chat template (gguf-py's SpecialVocab) ----
_SPECIAL = ("bos", "eos", "unk", "sep", "pad", "cls", "mask")
_ID_KEYS = {
    "bos": "bos_token_id",
    "eos": "eos_token_id",
    "unk": "unknown_token_id",
    "sep": "seperator_token_id",  # sic: llama.cpp's key
    "pad": "padding_token_id",
    "mask": "mask_token_id",
    "eot": "eot_token_id",
    "eom": "eom_token_id",
}


def _content(entry) -> str | None:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and isinstance(entry.get("content"), str):
        return entry["content"]
    return None


def special_vocab(
    folder: Path, tokenizer: dict | None, tconfig: dict | None, config: dict, *, n_vocab: int | None
) -> Meta:
    tc = dict(tconfig) if tconfig else None
    types = list(_SPECIAL)
    ids: dict[str, int] = {}
    add: dict[str, bool] = {}
    lower = strip = None

    def set_id(typ: str, tid) -> None:
        if not isinstance(tid, int) or isinstance(tid, bool):
            return
        if tid < 0:
            raise ConvertError(f"special token {typ} has the invalid id {tid}")
        if (n_vocab is None or tid < n_vocab) and typ not in ids:
            ids[typ] = tid

    added_tokens = []
    if tokenizer:
        norm = tokenizer.get("normalizer")
        for n in norm.get("normalizers", []) if isinstance(norm, dict) and norm.get("type") == "Sequence" else [norm]:
            if not isinstance(n, dict):
                continue
            if n.get("type") == "Lowercase":
                lower = True
            elif n.get("type") == "StripAccents":
                strip = True
            elif n.get("type") == "BertNormalizer":
                lower = n.get("lowercase", lower)
                strip = n.get("strip_accents", strip)
        added_tokens = tokenizer.get("added_tokens") or []
        bos, cls = _content((tc or {}).get("bos_token")), _content((tc or {}).get("cls_token"))
        eos, sep = _content((tc or {}).get("eos_token")), _content((tc or {}).get("sep_token"))
        if not bos and cls and tc:
            tc["bos_token"] = bos = cls
        if not eos and sep and tc:
            tc["eos_token"] = eos = sep
        post = tokenizer.get("post_processor")
        for proc in post.get("processors", [post]) if isinstance(post, dict) else []:
            kind = proc.get("type") if isinstance(proc, dict) else None
            if kind == "ByteLevel":
                add.setdefault("bos", False)
                add.setdefault("eos", False)
            elif kind == "RobertaProcessing":
                add.update(bos=True, eos=True, sep=True)
                if not cls and tc:
                    tc["cls_token"] = cls = (proc.get("cls") or [bos])[0]
                if not sep and tc:
                    tc["sep_token"] = sep = (proc.get("sep") or [eos])[0]
            elif kind == "TemplateProcessing":
                single, pair = proc.get("single") or [], proc.get("pair") or []
                first = last = None
                if len(single) > 1:
                    if first := (single[0].get("SpecialToken") or {}).get("id"):
                        if not tc:
                            bos = first
                        elif first not in (bos, cls):
                            if not bos:
                                tc["bos_token"] = bos = first
                            if not cls:
                                tc["cls_token"] = cls = first
                        add["bos"] = first in (bos, cls)
                    if last := (single[-1].get("SpecialToken") or {}).get("id"):
                        if not tc:
                            eos = last
                        elif last != eos:
                            extra = "eot" if "eot" not in types else "eom" if "eom" not in types else None
                            if extra:
                                types.append(extra)
                                tc[f"{extra}_token"] = eos
                            tc["eos_token"] = eos = last
                        add["eos"] = last == eos
                if pair:
                    start = 1 if first and (pair[0].get("SpecialToken") or {}).get("id") == first else 0
                    stop = -1 if last and (pair[-1].get("SpecialToken") or {}).get("id") == last else None
                    pair = pair[start:stop]
                    if pair:
                        a = (pair[0].get("Sequence") or {}).get("id")
                        b = (pair[-1].get("Sequence") or {}).get("id")
                        if a == "A" and b == "B" and (mid := pair[1:-1]):
                            add_sep = False
                            e = (mid[0].get("SpecialToken") or {}).get("id")
                            if e and e in (sep, eos) and not last:
                                add_sep = True
                            if len(mid) == 2:
                                e2 = (mid[1].get("SpecialToken") or {}).get("id")
                                if e2 and e2 in (sep, eos):
                                    add_sep = True
                            add["sep"] = add_sep
                            if add_sep and not sep and tc:
                                tc["sep_token"] = eos
    template = None
    if tc:
        alt = None
        if (folder / "chat_template.jinja").is_file():
            alt = (folder / "chat_template.jinja").read_text(encoding="utf-8")
        elif (folder / "chat_template.json").is_file():
            alt = (read_json(folder / "chat_template.json") or {}).get("chat_template")
        template = tc.get("chat_template", alt)
        if template is not None and not isinstance(template, (str, list)):
            template = None
        for typ in types:
            flag = tc.get(f"add_{typ}_token")
            if isinstance(flag, bool) and typ not in add:
                add[typ] = flag
            text = _content(tc.get(f"{typ}_token"))
            if text is None:
                continue
            set_id(
                typ, next((a.get("id") for a in added_tokens if isinstance(a, dict) and a.get("content") == text), None)
            )
    for typ in types:  # config.json's *_token_id for those still unknown
        tid = config.get(f"{typ}_token_id")
        if tid is None and isinstance(config.get("text_config"), dict):
            tid = config["text_config"].get(f"{typ}_token_id")
        set_id(typ, tid)
    # (cls has no GGUF key: llama.cpp's writer has no handler for it and skips it)
    out: Meta = [(f"tokenizer.ggml.{_ID_KEYS[t]}", i, VT.UINT32) for t, i in ids.items() if t in _ID_KEYS]
    out += [(f"tokenizer.ggml.add_{t}_token", v, VT.BOOL) for t, v in add.items() if t in ("bos", "eos", "sep")]
    out += _chat_templates(template)
    if lower is not None:
        out.append(("tokenizer.ggml.normalizer.lowercase", bool(lower), VT.BOOL))
    if strip is not None:
        out.append(("tokenizer.ggml.normalizer.strip_accents", bool(strip), VT.BOOL))
    return out


def _chat_templates(template) -> Meta:
    if template is None:
        return []
    if isinstance(template, str):
        return [("tokenizer.chat_template", template, VT.STRING)]
    out: Meta = []
    default, names = None, []
    for choice in template:
        if not isinstance(choice, dict):
            continue
        name = "".join(c if c.isascii() and c.isalnum() else "_" for c in str(choice.get("name", "")))
        if name and isinstance(choice.get("template"), str):
            if name == "default":
                default = choice["template"]
            else:
                names.append(name)
                out.append((f"tokenizer.chat_template.{name}", choice["template"], VT.STRING))
    if names:
        out.append(("tokenizer.chat_templates", names, VT.STRING))
    if default is not None:
        out.append(("tokenizer.chat_template", default, VT.STRING))
    return out


def read_vocab(folder: Path, config: dict, *, kind: str, arch: str, pre: str | None = None) -> Vocab:
    """The vocabulary of a model folder. kind: "spm-first" (tokenizer.model when there is one, else tokenizer.json's
    BPE), "wordpiece"."""
    tokenizer = read_json(folder / "tokenizer.json")
    tconfig = read_json(folder / "tokenizer_config.json")
    if kind == "wordpiece":
        return _wordpiece(folder, tokenizer, config, tconfig)
    if arch == "phi3" and (tconfig or {}).get("tokenizer_class") == "GPT2Tokenizer":
        if tokenizer is None:
            raise ConvertError(f"{folder}: tokenizer.json is missing")
        return _bpe(folder, tokenizer, config, tconfig, pre)
    if (folder / "tokenizer.model").is_file():
        v = _spm(folder, tokenizer, config, tconfig, arch)
        if arch == "gemma3":
            v.meta.append(("tokenizer.ggml.add_space_prefix", False, VT.BOOL))
        elif arch == "llama" and isinstance((tconfig or {}).get("add_prefix_space"), bool):
            v.meta.insert(0, ("tokenizer.ggml.add_space_prefix", tconfig["add_prefix_space"], VT.BOOL))
        return v
    if tokenizer is None:
        raise ConvertError(f"{folder}: neither tokenizer.model nor tokenizer.json is there")
    v = _bpe(folder, tokenizer, config, tconfig, pre)
    if arch == "llama" and isinstance((tconfig or {}).get("add_prefix_space"), bool):
        v.meta.insert(0, ("tokenizer.ggml.add_space_prefix", tconfig["add_prefix_space"], VT.BOOL))
    if arch == "llama" and config.get("vocab_size") == 49152:  # llama.cpp: granite small models (and SmolLM)
        v.meta = [m for m in v.meta if m[0] != "tokenizer.ggml.add_bos_token"]
        v.meta.append(("tokenizer.ggml.add_bos_token", False, VT.BOOL))
    return v
