"""`llamacore convert` on small random-weight Hugging Face folders of every architecture, written here from numpy with
real config.json keys, Hugging Face tensor names, safetensors files and tokenizer files (tokenizer.json built with the
`tokenizers` package; tokenizer.model written as SentencePiece's protobuf).

Each folder is converted, loaded by llamacore's Engine, and its logits compared with the float64 reference models
(tests/reference_models) fed the Hugging Face weights directly: the test maps the names with the `gguf` package's
own tensor-name tables (llama.cpp's), and applies Llama's q/k permutation and Gemma's 1 + w itself. So a wrong name,
a missing permutation or a wrong hyperparameter key shows up as a different model.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest

from llamacore.convert import convert
from llamacore.engine import Engine
from llamacore.gguf import GGUFFile
from llamacore.tokenizer import Tokenizer

gguf = pytest.importorskip("gguf")
tokenizers = pytest.importorskip("tokenizers")

from reference_models import WeightSource, load  # noqa: E402
from reference_models.common import log_softmax  # noqa: E402

ARCHS = ["llama", "mistral", "qwen2", "qwen3", "gemma3", "phi3"]
SIZES = dict(vocab=320, hidden=128, ff=256, layers=2, heads=4, kv_heads=2, head_dim=32)
N_TOKENS = 24
TEXT = (
    "The quick brown fox jumps over the lazy dog. Tokenizers split text into pieces; models turn pieces into "
    "vectors. 1234567890 and 3.14159! Hello, world? Ünïcödé café naïve. "
) * 4


# ---- safetensors, written by hand (the format is 8 bytes of header length, a JSON header, the data) ----
def bf16_bits(a: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def write_safetensors(path: Path, tensors: dict[str, tuple[str, np.ndarray]], metadata: dict | None = None) -> None:
    """tensors: name -> (safetensors dtype, array already in that dtype's storage)."""
    header, blobs, off = {}, [], 0
    for name, (dtype, a) in tensors.items():
        b = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def store(arrays: dict[str, np.ndarray], dtype: str) -> dict[str, tuple[str, np.ndarray]]:
    if dtype == "BF16":
        return {k: ("BF16", bf16_bits(v)) for k, v in arrays.items()}
    if dtype == "F16":
        return {k: ("F16", v.astype(np.float16)) for k, v in arrays.items()}
    return {k: ("F32", v.astype(np.float32)) for k, v in arrays.items()}


def stored_values(a: np.ndarray, dtype: str) -> np.ndarray:
    """What the checkpoint holds after storing `a` as dtype, as float32."""
    if dtype == "BF16":
        return (bf16_bits(a).astype(np.uint32) << 16).view(np.float32)
    if dtype == "F16":
        return a.astype(np.float16).astype(np.float32)
    return a.astype(np.float32)


# ---- tokenizers ----
LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)
QWEN2_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def bpe_tokenizer(kind: str, vocab_size: int, specials: list[str]) -> tokenizers.Tokenizer:
    """A byte-level BPE trained on TEXT, with the pre-tokenizer of llama3 / qwen2 / smollm (Digits + ByteLevel)."""
    from tokenizers import Regex, decoders, models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    if kind == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
        )
    else:
        regex = LLAMA3_REGEX if kind == "llama3" else QWEN2_REGEX
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(specials),
        special_tokens=[],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([TEXT], trainer)
    tok.add_special_tokens(specials)
    return tok


def _pb_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _pb_field(num: int, wt: int, payload: bytes | int) -> bytes:
    key = _pb_varint(num << 3 | wt)
    if wt == 0:
        return key + _pb_varint(payload)
    if wt == 5:
        return key + payload
    return key + _pb_varint(len(payload)) + payload


def spm_model(n_vocab: int) -> tuple[bytes, list[tuple[str, float, int]]]:
    """A SentencePiece BPE model (protobuf ModelProto): <unk>, <s>, </s>, 256 byte pieces, then pieces by score."""
    pieces = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
    pieces += [(f"<0x{b:02X}>", 0.0, 6) for b in range(256)]
    words = sorted({w for w in TEXT.replace(".", " ").replace(",", " ").split() if w.isalpha()})
    cands = ["\u2581"] + [c for c in "abcdefghijklmnopqrstuvwxyzTHUéö"] + ["\u2581" + w for w in words]
    for i, p in enumerate(dict.fromkeys(cands)):
        if len(pieces) >= n_vocab:
            break
        pieces.append((p, -float(i), 1))
    body = b""
    for text, score, kind in pieces:
        sp = _pb_field(1, 2, text.encode()) + _pb_field(2, 5, struct.pack("<f", score))
        if kind != 1:
            sp += _pb_field(3, 0, kind)
        body += _pb_field(1, 2, sp)
    body += _pb_field(2, 2, _pb_field(3, 0, 2) + _pb_field(35, 0, 1))  # trainer_spec: model_type BPE, byte_fallback
    body += _pb_field(3, 2, _pb_field(3, 0, 1))  # normalizer_spec.add_dummy_prefix = true
    return body, pieces


# ---- Hugging Face folders ----
HF_CLASS = {
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "gemma3": "Gemma3ForCausalLM",
    "phi3": "Phi3ForCausalLM",
}


def hf_config(arch: str) -> dict:
    s = SIZES
    c = {
        "architectures": [HF_CLASS[arch]],
        "model_type": {"gemma3": "gemma3_text"}.get(arch, arch),
        "vocab_size": s["vocab"],
        "hidden_size": s["hidden"],
        "intermediate_size": s["ff"],
        "num_hidden_layers": s["layers"],
        "num_attention_heads": s["heads"],
        "num_key_value_heads": s["kv_heads"],
        "max_position_embeddings": 512,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "tie_word_embeddings": arch == "gemma3",
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "bfloat16",
    }
    if arch == "llama":
        c["rope_scaling"] = {
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64,
        }
    if arch in ("qwen3", "gemma3"):
        c["head_dim"] = s["head_dim"]
    if arch == "gemma3":
        c.update(
            sliding_window=8,
            sliding_window_pattern=3,
            final_logit_softcapping=10.0,
            query_pre_attn_scalar=s["head_dim"],
            rope_local_base_freq=10000.0,
            hidden_activation="gelu_pytorch_tanh",
        )
    if arch == "phi3":
        # LongRoPE (Phi-3 128k style): per-pair factors, short ones within the original context
        hd = s["hidden"] // s["heads"]
        c.update(max_position_embeddings=1024, original_max_position_embeddings=512, sliding_window=None)
        c["rope_scaling"] = {
            "type": "longrope",
            "long_factor": np.linspace(1.0, 30.0, hd // 2).tolist(),
            "short_factor": np.linspace(1.0, 3.0, hd // 2).tolist(),
        }
    return c


def hf_weights(arch: str, seed: int) -> dict[str, np.ndarray]:
    """Random weights under Hugging Face's names (float32; the folder stores them as bf16 or f32)."""
    s, rng = SIZES, np.random.default_rng(seed)
    V, D, F, L, H, HKV, HD = (s[k] for k in ("vocab", "hidden", "ff", "layers", "heads", "kv_heads", "head_dim"))

    def mat(rows, cols, scale=None):
        return (rng.standard_normal((rows, cols)) * (scale if scale is not None else cols**-0.5)).astype(np.float32)

    def vec(n, mean=1.0, spread=0.2):
        return (mean + spread * rng.standard_normal(n)).astype(np.float32)

    w = {"model.embed_tokens.weight": mat(V, D, 3.0 * D**-0.5 if arch == "gemma3" else 1.0)}
    if arch != "gemma3":
        w["lm_head.weight"] = mat(V, D, 4.0 * D**-0.5)
    # Gemma's norms store w with 1 + w applied: keep them near 0 so the model is like the others
    w["model.norm.weight"] = vec(D, mean=0.0) if arch == "gemma3" else vec(D)
    for i in range(L):
        p = f"model.layers.{i}."
        norm_mean = 0.0 if arch == "gemma3" else 1.0
        w[p + "input_layernorm.weight"] = vec(D, norm_mean)
        w[p + "post_attention_layernorm.weight"] = vec(D, norm_mean)
        if arch == "phi3":
            w[p + "self_attn.qkv_proj.weight"] = mat((H + 2 * HKV) * HD, D)
            w[p + "mlp.gate_up_proj.weight"] = mat(2 * F, D)
        else:
            w[p + "self_attn.q_proj.weight"] = mat(H * HD, D)
            w[p + "self_attn.k_proj.weight"] = mat(HKV * HD, D)
            w[p + "self_attn.v_proj.weight"] = mat(HKV * HD, D)
            w[p + "mlp.gate_proj.weight"] = mat(F, D)
            w[p + "mlp.up_proj.weight"] = mat(F, D)
        w[p + "self_attn.o_proj.weight"] = mat(D, H * HD)
        w[p + "mlp.down_proj.weight"] = mat(D, F)
        if arch == "qwen2":
            for n, rows in (("q_proj", H * HD), ("k_proj", HKV * HD), ("v_proj", HKV * HD)):
                w[p + f"self_attn.{n}.bias"] = vec(rows, 0.0, 0.5)
        if arch in ("qwen3", "gemma3"):
            w[p + "self_attn.q_norm.weight"] = vec(HD, norm_mean)
            w[p + "self_attn.k_norm.weight"] = vec(HD, norm_mean)
        if arch == "gemma3":
            w[p + "pre_feedforward_layernorm.weight"] = vec(D, 0.0)
            w[p + "post_feedforward_layernorm.weight"] = vec(D, 0.0)
    return w


def write_folder(folder: Path, arch: str, *, seed: int = 0, dtype: str = "BF16", shards: int = 1) -> dict:
    """A Hugging Face model folder; returns {config, weights (float32 as stored), tokenizer (or None)}."""
    folder.mkdir(parents=True, exist_ok=True)
    config = hf_config(arch)
    weights = hf_weights(arch, seed)
    names = list(weights)
    if shards == 1:
        write_safetensors(folder / "model.safetensors", store(weights, dtype), {"format": "pt"})
    else:
        wmap = {}
        for k in range(shards):
            part = names[k::shards]
            fname = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
            write_safetensors(folder / fname, store({n: weights[n] for n in part}, dtype))
            wmap.update({n: fname for n in part})
        (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wmap}))
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    (folder / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": 2}))
    template = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    tok = None
    if arch in ("gemma3", "phi3"):
        data, _ = spm_model(SIZES["vocab"] - 2)  # the config's vocab is larger: padded with [PAD{i}]
        (folder / "tokenizer.model").write_bytes(data)
        tconfig = {
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "add_bos_token": True,
            "add_eos_token": False,
            "chat_template": template,
            "tokenizer_class": "GemmaTokenizer" if arch == "gemma3" else "LlamaTokenizer",
            "added_tokens_decoder": {
                str(SIZES["vocab"] - 2): {"content": "<|end|>", "special": True},
                str(SIZES["vocab"] - 1): {"content": "<tool>", "special": False},
            },
        }
    else:
        kind = {"qwen2": "qwen2", "qwen3": "qwen2", "mistral": "smollm"}.get(arch, "llama3")
        tok = bpe_tokenizer(kind, SIZES["vocab"], ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        tok.save(str(folder / "tokenizer.json"))
        tconfig = {
            "bos_token": "<|im_start|>",
            "eos_token": "<|im_end|>",
            "pad_token": "<|endoftext|>",
            "add_prefix_space": False,
            "clean_up_tokenization_spaces": False,
            "chat_template": template,
            "tokenizer_class": "GPT2Tokenizer",
        }
    (folder / "tokenizer_config.json").write_text(json.dumps(tconfig, indent=1))
    stored = {k: stored_values(v, dtype) for k, v in weights.items()}
    return {"config": config, "weights": stored, "tokenizer": tok}


# ---- the reference, fed the Hugging Face weights ----
GGUF_ARCH = {
    "llama": "LLAMA",
    "mistral": "LLAMA",
    "qwen2": "QWEN2",
    "qwen3": "QWEN3",
    "gemma3": "GEMMA3",
    "phi3": "PHI3",
}


def llama_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF's rotate-half q/k rows -> the interleaved pairs GGUF files hold (n_head heads of this matrix)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def reference_weights(arch: str, hf: dict, metadata: dict) -> WeightSource:
    """The HF weights under GGUF names (gguf's TensorNameMap), as F32 rows for the float64 reference."""
    cfg, weights = hf["config"], hf["weights"]
    tmap = gguf.get_tensor_name_map(getattr(gguf.MODEL_ARCH, GGUF_ARCH[arch]), cfg["num_hidden_layers"])
    raw = {}
    for name, a in weights.items():
        new = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        assert new is not None, name
        a = a.astype(np.float32)
        if arch in ("llama", "mistral") and name.endswith("q_proj.weight"):
            a = llama_permute(a, cfg["num_attention_heads"])
        if arch in ("llama", "mistral") and name.endswith("k_proj.weight"):
            a = llama_permute(a, cfg["num_key_value_heads"])
        if arch == "gemma3" and name.endswith("norm.weight"):
            a = a + np.float32(1.0)
        a2 = a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a.reshape(1, -1)
        raw[new] = (np.ascontiguousarray(a2).view(np.uint8), 0, a.shape)
    if arch == "phi3":  # LongRoPE factors, straight from the config
        for kind in ("long", "short"):
            f = np.asarray(cfg["rope_scaling"][f"{kind}_factor"], dtype=np.float32)
            raw[f"rope_factors_{kind}.weight"] = (f.reshape(1, -1).view(np.uint8), 0, f.shape)
    if arch == "llama":  # llama3 rope factors, from the config as transformers computes them
        rp = cfg["rope_scaling"]
        hd = cfg["hidden_size"] // cfg["num_attention_heads"]
        inv = 1.0 / (cfg["rope_theta"] ** (np.arange(0, hd, 2) / hd))
        wavelen = 2 * np.pi / inv
        old = rp["original_max_position_embeddings"]
        lo, hi = old / rp["low_freq_factor"], old / rp["high_freq_factor"]
        smooth = (old / wavelen - rp["low_freq_factor"]) / (rp["high_freq_factor"] - rp["low_freq_factor"])
        div = np.where(
            wavelen < hi, 1.0, np.where(wavelen > lo, rp["factor"], 1 / ((1 - smooth) / rp["factor"] + smooth))
        )
        raw["rope_freqs.weight"] = (div.astype(np.float32).reshape(1, -1).view(np.uint8), 0, div.shape)
    return WeightSource(metadata, raw)


def kld(lp_ref: np.ndarray, lp: np.ndarray) -> np.ndarray:
    return (np.exp(lp_ref) * (lp_ref - lp)).sum(-1)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return {arch: (root / arch, write_folder(root / arch, arch, seed=ARCHS.index(arch))) for arch in ARCHS}


# the hyperparameters each config must produce, under llama.cpp's keys
def expected_metadata(arch: str, cfg: dict) -> dict:
    a = "llama" if arch == "mistral" else arch
    exp = {
        "general.architecture": a,
        f"{a}.block_count": cfg["num_hidden_layers"],
        f"{a}.context_length": cfg["max_position_embeddings"],
        f"{a}.embedding_length": cfg["hidden_size"],
        f"{a}.feed_forward_length": cfg["intermediate_size"],
        f"{a}.attention.head_count": cfg["num_attention_heads"],
        f"{a}.attention.head_count_kv": cfg["num_key_value_heads"],
        f"{a}.rope.freq_base": cfg["rope_theta"],
        f"{a}.attention.layer_norm_rms_epsilon": pytest.approx(cfg["rms_norm_eps"], rel=1e-6),
    }
    if a == "llama":
        exp[f"{a}.vocab_size"] = cfg["vocab_size"]
        exp[f"{a}.rope.dimension_count"] = cfg["hidden_size"] // cfg["num_attention_heads"]
    if arch in ("qwen3", "gemma3"):
        exp[f"{a}.attention.key_length"] = cfg["head_dim"]
        exp[f"{a}.attention.value_length"] = cfg["head_dim"]
    if arch == "gemma3":
        exp[f"{a}.attention.sliding_window"] = cfg["sliding_window"]
        exp[f"{a}.final_logit_softcapping"] = cfg["final_logit_softcapping"]
    if arch == "phi3":
        exp[f"{a}.rope.dimension_count"] = cfg["hidden_size"] // cfg["num_attention_heads"]
        exp[f"{a}.rope.scaling.original_context_length"] = cfg["original_max_position_embeddings"]
        exp[f"{a}.rope.scaling.attn_factor"] = pytest.approx(math.sqrt(1 + math.log(2) / math.log(512)), rel=1e-6)
    return exp


@pytest.mark.parametrize("arch", ARCHS)
def test_converted_model_matches_float64_reference(arch, folders, tmp_path):
    folder, hf = folders[arch]
    (out,) = convert(folder, tmp_path / "m.gguf", outtype="f32", progress=False)
    with GGUFFile(out) as f:
        meta = dict(f.metadata)
        names = set(f.tensors)
    for k, v in expected_metadata(arch, hf["config"]).items():
        assert meta[k] == v, k
    assert meta["general.file_type"] == 0
    # every HF tensor is there under llama.cpp's name (gguf's table), plus the generated rope factors
    tmap = gguf.get_tensor_name_map(getattr(gguf.MODEL_ARCH, GGUF_ARCH[arch]), hf["config"]["num_hidden_layers"])
    want = {tmap.get_name(n, try_suffixes=(".weight", ".bias")) for n in hf["weights"]}
    extra = {"llama": {"rope_freqs.weight"}, "phi3": {"rope_factors_long.weight", "rope_factors_short.weight"}}
    assert names == want | extra.get(arch, set())

    tokens = np.random.default_rng(7).integers(0, SIZES["vocab"] - 3, N_TOKENS)
    ref = load(out, weights=reference_weights(arch, hf, meta))
    lp_ref = ref.log_probs(ref.hidden(tokens)).astype(np.float64)
    with Engine(out, n_ctx=64, n_threads=2) as e:
        lp = log_softmax(e.decode(tokens, np.arange(N_TOKENS), logits_all=True).astype(np.float64))
    k = kld(lp_ref, lp)
    top1 = (lp.argmax(-1) == lp_ref.argmax(-1)).mean()
    # measured like tests/test_models.py: ~1e-4 (8-bit activations, f16 KV); a wrong permutation or key gives > 1e-2
    assert k.mean() < 3e-3 and k.max() < 2e-2, (k.mean(), k.max())
    assert top1 >= 0.9


def test_bpe_vocabulary_and_pre_tokenizer(folders, tmp_path):
    for arch, pre in (("llama", "llama-bpe"), ("qwen2", "qwen2"), ("mistral", "smollm")):
        folder, hf = folders[arch]
        (out,) = convert(folder, tmp_path / f"{arch}.gguf", vocab_only=True, progress=False)
        with GGUFFile(out) as f:
            meta = dict(f.metadata)
            assert not f.tensors
        assert meta["tokenizer.ggml.model"] == "gpt2"
        assert meta["tokenizer.ggml.pre"] == pre
        tok = hf["tokenizer"]
        vocab = tok.get_vocab(with_added_tokens=True)
        assert list(meta["tokenizer.ggml.tokens"]) == sorted(vocab, key=vocab.get)
        types = list(meta["tokenizer.ggml.token_type"])
        assert types[vocab["<|im_start|>"]] == 3 and types[tok.encode(" quick").ids[0]] == 1
        merges = json.loads(tok.to_str())["model"]["merges"]
        assert list(meta["tokenizer.ggml.merges"]) == [" ".join(m) if isinstance(m, list) else m for m in merges]
        assert meta["tokenizer.ggml.bos_token_id"] == vocab["<|im_start|>"]
        assert meta["tokenizer.ggml.eos_token_id"] == vocab["<|im_end|>"]
        assert meta["tokenizer.ggml.padding_token_id"] == vocab["<|endoftext|>"]
        # LlamaModel writes tokenizer_config's add_prefix_space; Qwen2Model does not
        assert meta.get("tokenizer.ggml.add_space_prefix") is (False if arch != "qwen2" else None)
        assert meta["tokenizer.chat_template"].startswith("{% for m in messages %}")
        # llamacore's tokenizer on the converted vocabulary gives Hugging Face's ids
        t = Tokenizer.from_gguf(out)
        for text in ["Hello, world! The quick brown fox.", "1234567890 and 3.14159", "Ünïcödé café naïve   spaces\n\n"]:
            assert t.tokenize(text.encode(), add_bos=False) == tok.encode(text).ids, (arch, text)


def test_sentencepiece_vocabulary(folders, tmp_path):
    folder, hf = folders["gemma3"]
    (out,) = convert(folder, tmp_path / "g.gguf", vocab_only=True, progress=False)
    with GGUFFile(out) as f:
        meta = dict(f.metadata)
    _, pieces = spm_model(SIZES["vocab"] - 2)
    n = SIZES["vocab"]
    tokens = list(meta["tokenizer.ggml.tokens"])
    assert len(tokens) == n
    assert tokens[: len(pieces)] == [p[0] for p in pieces]
    assert tokens[n - 2 :] == ["<|end|>", "<tool>"]
    scores = np.asarray(meta["tokenizer.ggml.scores"])
    assert np.array_equal(scores[: len(pieces)], np.float32([p[1] for p in pieces]))
    types = list(meta["tokenizer.ggml.token_type"])
    assert types[: len(pieces)] == [p[2] for p in pieces] and types[n - 2 :] == [3, 4]
    assert meta["tokenizer.ggml.model"] == "llama" and meta["tokenizer.ggml.pre"] == "default"
    assert (meta["tokenizer.ggml.bos_token_id"], meta["tokenizer.ggml.eos_token_id"]) == (1, 2)
    # no tokenizer.json: the ids come from config.json (as gguf-py's SpecialVocab finds them)
    assert meta["tokenizer.ggml.add_bos_token"] is True and meta["tokenizer.ggml.add_eos_token"] is False
    assert meta["tokenizer.ggml.add_space_prefix"] is False  # Gemma
    t = Tokenizer.from_gguf(out)
    assert t.tokenize(b"the quick", add_bos=True)[0] == 1
    assert t.detokenize(t.tokenize(b"the quick brown fox", add_bos=False)) == b"the quick brown fox"


@pytest.mark.parametrize("outtype", ["f16", "bf16", "q8_0"])
def test_outtypes_store_what_gguf_package_would(outtype, folders, tmp_path):
    """Each weight's bytes equal the gguf package's quantize() of the same float32 values (what
    convert_hf_to_gguf writes); norms and 1-D tensors stay F32."""
    from gguf.quants import quantize as gguf_quantize

    folder, hf = folders["qwen2"]
    (out,) = convert(folder, tmp_path / "m.gguf", outtype=outtype, progress=False)
    want_type = {"f16": 1, "bf16": 30, "q8_0": 8}[outtype]
    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, hf["config"]["num_hidden_layers"])
    with GGUFFile(out) as f:
        assert f.metadata["general.file_type"] == {"f16": 1, "bf16": 32, "q8_0": 7}[outtype]
        for name, a in hf["weights"].items():
            t = f.tensors[tmap.get_name(name, try_suffixes=(".weight", ".bias"))]
            qtype = want_type if a.ndim == 2 else 0
            assert int(t.type) == qtype, name
            expect = gguf_quantize(a, gguf.GGMLQuantizationType(qtype))
            assert np.asarray(t.data).tobytes() == expect.tobytes(), name


def test_auto_outtype_follows_the_checkpoint(folders, tmp_path):
    folder, _ = folders["qwen3"]  # stored as bf16
    (out,) = convert(folder, tmp_path / "m.gguf", progress=False)
    with GGUFFile(out) as f:
        assert f.metadata["general.file_type"] == 32
        assert int(f.tensors["blk.0.attn_q.weight"].type) == 30


def test_sharded_input_and_split_output(tmp_path):
    folder = tmp_path / "hf"
    hf = write_folder(folder, "qwen3", seed=5, dtype="F16", shards=3)
    (single,) = convert(folder, tmp_path / "one.gguf", outtype="f16", progress=False)
    parts = convert(folder, tmp_path / "split.gguf", outtype="f16", split_max_size="100K", progress=False)
    assert len(parts) > 2 and parts[0].name == f"split-00001-of-{len(parts):05d}.gguf"
    assert not list(tmp_path.glob(".*partial"))
    with GGUFFile(single) as f:
        whole = {n: np.asarray(t.data).tobytes() for n, t in f.tensors.items()}
        meta = dict(f.metadata)
    for i, p in enumerate(parts):  # each part read on its own with the gguf package
        r = gguf.GGUFReader(p)
        assert r.fields["split.no"].contents() == i and r.fields["split.count"].contents() == len(parts)
        assert r.fields["split.tensors.count"].contents() == len(whole)
        assert ("tokenizer.ggml.tokens" in r.fields) == (i == 0)
        assert sum(int(t.n_bytes) for t in r.tensors) <= 100_000 or len(r.tensors) == 1
    with GGUFFile(parts[0]) as f:
        assert {n: np.asarray(t.data).tobytes() for n, t in f.tensors.items()} == whole
        assert f.metadata["tokenizer.ggml.tokens"] == meta["tokenizer.ggml.tokens"]
    # the split model loads as one (llamacore opens the parts beside the first)
    tokens = np.arange(10)
    with Engine(single, n_ctx=32, n_threads=2) as a, Engine(parts[0], n_ctx=32, n_threads=2) as b:
        assert np.array_equal(a.decode(tokens, np.arange(10)), b.decode(tokens, np.arange(10)))
    assert hf["config"]["num_hidden_layers"] == 2


def test_memory_stays_near_the_largest_tensor(tmp_path):
    """Python-heap peak (numpy allocations are traced) while converting a model many times larger than its largest
    tensor: tensors are streamed from the memory-mapped file, never all held at once."""
    import tracemalloc

    folder = tmp_path / "hf"
    old = dict(SIZES)
    SIZES.update(layers=12)
    try:
        hf = write_folder(folder, "qwen3", seed=9, dtype="BF16")
    finally:
        SIZES.clear()
        SIZES.update(old)
    total = sum(a.size * 4 for a in hf["weights"].values())
    largest = max(a.size * 4 for a in hf["weights"].values())
    assert total > 20 * largest
    tracemalloc.start()
    try:
        convert(folder, tmp_path / "m.gguf", outtype="f32", progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a float32 copy, its transform and its encoding of one tensor, plus the vocabulary's metadata
    assert peak < 4 * largest + 1_000_000, (peak, largest, total)


def test_progress_bar_runs(folders, tmp_path, capsys):
    pytest.importorskip("tqdm")
    folder, _ = folders["qwen2"]
    convert(folder, tmp_path / "m.gguf", outtype="q8_0", progress=True)
    err = capsys.readouterr().err
    assert "converting" in err and "100%" in err


def test_gemma3_multimodal_checkpoint_gives_the_text_model(folders, tmp_path):
    """Gemma3ForConditionalGeneration: config.json's text_config, tensors under model.language_model., a vision
    tower that is left out."""
    folder, hf = folders["gemma3"]
    mm = tmp_path / "mm"
    mm.mkdir()
    for f in folder.iterdir():
        if f.suffix != ".safetensors" and f.name != "config.json":
            (mm / f.name).write_bytes(f.read_bytes())
    text = {k: v for k, v in hf["config"].items() if k not in ("architectures", "bos_token_id", "eos_token_id")}
    cfg = {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3", "text_config": text}
    cfg.update(vision_config={"hidden_size": 16}, bos_token_id=1, eos_token_id=2)
    (mm / "config.json").write_text(json.dumps(cfg))
    tensors = {k.replace("model.", "model.language_model.", 1): v for k, v in hf["weights"].items()}
    tensors["model.vision_tower.vision_model.embeddings.patch_embedding.weight"] = np.ones((4, 4), np.float32)
    write_safetensors(mm / "model.safetensors", store(tensors, "F32"))
    (a,) = convert(folder, tmp_path / "a.gguf", outtype="f32", progress=False)
    (b,) = convert(mm, tmp_path / "b.gguf", outtype="f32", progress=False)
    with GGUFFile(a) as fa, GGUFFile(b) as fb:
        assert list(fa.tensors) == list(fb.tensors)
        for n, t in fa.tensors.items():
            assert np.asarray(t.data).tobytes() == np.asarray(fb.tensors[n].data).tobytes(), n
        assert set(fa.metadata) == set(fb.metadata)
        for k, v in fa.metadata.items():
            if k != "general.name":
                assert np.array_equal(np.asarray(v), np.asarray(fb.metadata[k])), k
