"""The architectures the converter knows: Hugging Face class names, tensor names and hyperparameters -> GGUF.

Facts follow llama.cpp's convert_hf_to_gguf.py (conversion/*.py) and gguf-py's constants: the same keys, the same
value types, the same tensor names and the same per-tensor changes (Llama's q/k row permutation for its rope, Gemma's
norm weights stored as 1 + w, Gemma's embedding trimmed to the real vocabulary), so our files equal its files.

    arch = find_arch(config)                   # Arch for config.json's "architectures"[0]
    arch.metadata(config, n_vocab)             # [(key, value, GGUFValueType), ...]
    arch.gguf_name("model.layers.3.self_attn.q_proj.weight")   # "blk.3.attn_q.weight" (None: not written)
    arch.transform(hf_name, a, config)         # float32 numpy -> what GGUF stores
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..gguf import GGUFValueType as VT
from .errors import ConvertError
from .vocab import read_json

Meta = list[tuple[str, object, VT]]

# ---- tensor names ----
_DECODER_GLOBAL = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}
_DECODER_LAYER = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_QK_NORM = {"self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm"}
_GEMMA3_LAYER = {
    **_DECODER_LAYER,
    **_QK_NORM,
    "post_attention_layernorm": "post_attention_norm",
    "pre_feedforward_layernorm": "ffn_norm",
    "post_feedforward_layernorm": "post_ffw_norm",
}
_PHI3_LAYER = {
    **{
        k: v for k, v in _DECODER_LAYER.items() if k not in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")
    },
    "self_attn.qkv_proj": "attn_qkv",
    "mlp.gate_up_proj": "ffn_up",
}
_BERT_GLOBAL = {
    "embeddings.word_embeddings": "token_embd",
    "embeddings.position_embeddings": "position_embd",
    "embeddings.token_type_embeddings": "token_types",
    "embeddings.LayerNorm": "token_embd_norm",
}
_BERT_LAYER = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}
_LAYER = re.compile(r"^(?:model\.layers|encoder\.layer)\.(\d+)\.(.+)$")
# tensors llama.cpp drops: rope caches, BERT's pooler and pretraining heads, multimodal towers
_SKIP = re.compile(
    r"(\.rotary_emb\.inv_freq|\.attention\.masked_bias|\.attention\.bias)$|^(embeddings\.position_ids|pooler\.|cls\.)"
    r"|(^|\.)(vision_tower|multi_modal_projector|vision_model|audio_tower)\."
)

# llama.cpp keeps these tensors in F32 whatever the output type (besides 1-D tensors and norms)
F32_TENSORS = ("position_embd.weight", "token_types.weight")


def _need(config: dict, key: str, arch: str):
    if key not in config or config[key] is None:
        raise ConvertError(f"config.json lacks '{key}', which a {arch} model needs")
    return config[key]


def _first(config: dict, keys: tuple[str, ...]):
    for k in keys:
        if config.get(k) is not None:
            return config[k]
    return None


def rope_params(config: dict) -> dict:
    """Rope settings wherever the config keeps them (transformers 5: rope_parameters; before: rope_scaling and
    rope_theta at the top), as one dict with rope_theta, rope_type, factor, ..."""
    rp = dict(config.get("rope_parameters") or config.get("rope_scaling") or {})
    if "full_attention" in rp:  # per-attention-kind parameters (Gemma 3 in transformers 5)
        rp = {**rp, **rp["full_attention"]}
    if "rope_theta" not in rp and (t := _first(config, ("rope_theta", "rotary_emb_base"))) is not None:
        rp["rope_theta"] = t
    if "rope_type" not in rp and "type" in rp:
        rp["rope_type"] = rp["type"]
    for k in ("partial_rotary_factor", "original_max_position_embeddings"):
        if k not in rp and config.get(k) is not None:
            rp[k] = config[k]
    return rp


@dataclass
class Arch:
    name: str  # general.architecture
    hf_classes: tuple[str, ...]
    global_names: dict[str, str]
    layer_names: dict[str, str]
    hparams: Callable[[Arch, dict], Meta]
    vocab: str = "auto"  # "spm-first" (tokenizer.model if present), "bpe-first", "wordpiece"
    strip_prefixes: tuple[str, ...] = ()
    transform_fn: Callable[[Arch, str, np.ndarray, dict], np.ndarray] | None = None
    extra_fn: Callable[[Arch, dict], list[tuple[str, np.ndarray]]] | None = None
    drop_parts: tuple[str, ...] = ()  # removed wherever they appear in a name (multimodal checkpoints)

    def metadata(self, config: dict) -> Meta:
        return self.hparams(self, config)

    def gguf_name(self, hf_name: str) -> str | None:
        """The GGUF name of a Hugging Face tensor, None for tensors llama.cpp does not write; ConvertError for one
        it cannot place."""
        name = hf_name
        for p in self.strip_prefixes:
            if name.startswith(p):
                name = name[len(p) :]
        for part in self.drop_parts:  # "model.language_model.layers.0..." -> "model.layers.0..."
            name = name.replace(part, "")
        if _SKIP.search(name):
            return None
        if name.endswith(".gamma"):  # old BERT checkpoints
            name = name[:-6] + ".weight"
        elif name.endswith(".beta"):
            name = name[:-5] + ".bias"
        stem, dot, suffix = name.rpartition(".")
        if not dot or suffix not in ("weight", "bias"):
            raise ConvertError(f"cannot map tensor '{hf_name}' of a {self.name} model")
        m = _LAYER.match(stem)
        if m and m.group(2) in self.layer_names:
            return f"blk.{int(m.group(1))}.{self.layer_names[m.group(2)]}.{suffix}"
        if stem in self.global_names:
            return f"{self.global_names[stem]}.{suffix}"
        raise ConvertError(f"cannot map tensor '{hf_name}' of a {self.name} model")

    def transform(self, hf_name: str, a: np.ndarray, config: dict) -> np.ndarray:
        return self.transform_fn(self, hf_name, a, config) if self.transform_fn else a

    def extra_tensors(self, config: dict) -> list[tuple[str, np.ndarray]]:
        return self.extra_fn(self, config) if self.extra_fn else []


# ---- hyperparameters (TextModel.set_gguf_parameters and the model classes' additions) ----
def _common(arch: Arch, c: dict, *, rope: bool = True) -> Meta:
    a = arch.name
    out: Meta = [(f"{a}.block_count", _need(c, "num_hidden_layers", a), VT.UINT32)]
    if (v := _first(c, ("max_position_embeddings", "n_ctx", "n_positions"))) is not None:
        out.append((f"{a}.context_length", v, VT.UINT32))
    out.append((f"{a}.embedding_length", _need(c, "hidden_size", a), VT.UINT32))
    out.append((f"{a}.feed_forward_length", _need(c, "intermediate_size", a), VT.UINT32))
    out.append((f"{a}.attention.head_count", _need(c, "num_attention_heads", a), VT.UINT32))
    if c.get("num_key_value_heads") is not None:
        out.append((f"{a}.attention.head_count_kv", c["num_key_value_heads"], VT.UINT32))
    if c.get("is_causal") is False:
        out.append((f"{a}.attention.causal", False, VT.BOOL))
    rp = rope_params(c)
    if rope:
        out += _rope_scaling(a, rp)
        if rp.get("rope_theta") is not None:
            out.append((f"{a}.rope.freq_base", float(rp["rope_theta"]), VT.FLOAT32))
        local = _first(c, ("rope_local_base_freq", "local_rope_theta", "swa_rope_theta"))
        if local is not None:
            out.append((f"{a}.rope.freq_base_swa", float(local), VT.FLOAT32))
    if c.get("rms_norm_eps") is not None:
        out.append((f"{a}.attention.layer_norm_rms_epsilon", float(c["rms_norm_eps"]), VT.FLOAT32))
    if (v := _first(c, ("layer_norm_eps", "layer_norm_epsilon"))) is not None:
        out.append((f"{a}.attention.layer_norm_epsilon", float(v), VT.FLOAT32))
    if c.get("head_dim") is not None:
        out.append((f"{a}.attention.key_length", c["head_dim"], VT.UINT32))
        out.append((f"{a}.attention.value_length", c["head_dim"], VT.UINT32))
    return out


def _rope_scaling(a: str, rp: dict) -> Meta:
    kind, factor = rp.get("rope_type"), rp.get("factor")
    if kind == "linear" and factor is not None:
        return [
            (f"{a}.rope.scaling.type", "linear", VT.STRING),
            (f"{a}.rope.scaling.factor", float(factor), VT.FLOAT32),
        ]
    if kind == "yarn" and factor is not None:
        out: Meta = [
            (f"{a}.rope.scaling.type", "yarn", VT.STRING),
            (f"{a}.rope.scaling.factor", float(factor), VT.FLOAT32),
            (f"{a}.rope.scaling.original_context_length", rp["original_max_position_embeddings"], VT.UINT32),
        ]
        for src, key in (
            ("extrapolation_factor", "yarn_ext_factor"),
            ("attention_factor", "yarn_attn_factor"),
            ("beta_fast", "yarn_beta_fast"),
            ("beta_slow", "yarn_beta_slow"),
        ):
            if rp.get(src) is not None:
                out.append((f"{a}.rope.scaling.{key}", float(rp[src]), VT.FLOAT32))
        return out
    if kind in ("su", "longrope"):
        return [(f"{a}.rope.scaling.type", "longrope", VT.STRING)]
    return []


def _head_dim(c: dict) -> int:
    return c["head_dim"] if c.get("head_dim") is not None else c["hidden_size"] // c["num_attention_heads"]


def _llama_hparams(arch: Arch, c: dict) -> Meta:
    out = _common(arch, c)
    out.append((f"{arch.name}.vocab_size", _need(c, "vocab_size", arch.name), VT.UINT32))
    out.append((f"{arch.name}.rope.dimension_count", _head_dim(c), VT.UINT32))
    return out


def _qwen_hparams(arch: Arch, c: dict) -> Meta:
    return _common(arch, c)


def _gemma3_hparams(arch: Arch, c: dict) -> Meta:
    a = arch.name
    if c.get("attn_logit_softcapping") is not None:
        raise ConvertError("config.json sets attn_logit_softcapping, which Gemma 3 does not have")
    # Gemma3Model writes these after the common ones; with llama.cpp's writer a second add replaces the value
    over: dict[str, tuple[object, VT]] = {
        f"{a}.context_length": (c.get("max_position_embeddings", 131072), VT.UINT32),
        f"{a}.attention.head_count": (c.get("num_attention_heads", 8), VT.UINT32),
        f"{a}.attention.layer_norm_rms_epsilon": (float(c.get("rms_norm_eps", 1e-6)), VT.FLOAT32),
        f"{a}.attention.key_length": (c.get("head_dim", 256), VT.UINT32),
        f"{a}.attention.value_length": (c.get("head_dim", 256), VT.UINT32),
        f"{a}.rope.freq_base": (float(rope_params(c).get("rope_theta", 1_000_000.0)), VT.FLOAT32),
    }
    if c.get("final_logit_softcapping"):
        over[f"{a}.final_logit_softcapping"] = (float(c["final_logit_softcapping"]), VT.FLOAT32)
    if c.get("sliding_window_pattern") != 1:
        over[f"{a}.attention.sliding_window"] = (_need(c, "sliding_window", a), VT.UINT32)
    over[f"{a}.attention.head_count_kv"] = (c.get("num_key_value_heads", 4), VT.UINT32)
    c = {"num_attention_heads": 8, **c}
    out = [(k, *over.pop(k)) if k in over else (k, v, t) for k, v, t in _common(arch, c)]
    return out + [(k, v, t) for k, (v, t) in over.items()]


def _phi3_rope(c: dict) -> tuple[int, int, int]:
    n_embd, n_head = _need(c, "hidden_size", "phi3"), _need(c, "num_attention_heads", "phi3")
    rp = rope_params(c)
    rope_dims = int(rp.get("partial_rotary_factor", 1.0) * n_embd) // n_head
    n_ctx = _need(c, "max_position_embeddings", "phi3")
    return rope_dims, n_ctx, rp.get("original_max_position_embeddings", c.get("original_max_position_embeddings"))


def _phi3_hparams(arch: Arch, c: dict) -> Meta:
    a = arch.name
    rope_dims, n_ctx, orig = _phi3_rope(c)
    if orig is None:
        raise ConvertError("config.json lacks 'original_max_position_embeddings', which a phi3 model needs")
    rp = rope_params(c)
    out: Meta = [
        (f"{a}.context_length", n_ctx, VT.UINT32),
        (f"{a}.rope.scaling.original_context_length", orig, VT.UINT32),
        (f"{a}.embedding_length", c["hidden_size"], VT.UINT32),
        (f"{a}.feed_forward_length", _need(c, "intermediate_size", a), VT.UINT32),
        (f"{a}.block_count", _need(c, "num_hidden_layers", a), VT.UINT32),
        (f"{a}.attention.head_count", c["num_attention_heads"], VT.UINT32),
        (f"{a}.attention.head_count_kv", _need(c, "num_key_value_heads", a), VT.UINT32),
        (f"{a}.attention.layer_norm_rms_epsilon", float(_need(c, "rms_norm_eps", a)), VT.FLOAT32),
        (f"{a}.rope.dimension_count", rope_dims, VT.UINT32),
        (f"{a}.rope.freq_base", float(_need(rp, "rope_theta", a)), VT.FLOAT32),
        (f"{a}.attention.sliding_window", c.get("sliding_window") or 0, VT.UINT32),
    ]
    if rp.get("long_factor"):
        scale = n_ctx / orig
        kind = str(rp.get("rope_type", "")).lower()
        if kind in ("su", "longrope"):
            attn = math.sqrt(1 + math.log(scale) / math.log(orig)) if scale > 1.0 else 1.0
        elif kind == "yarn":
            attn = 0.1 * math.log(scale) + 1.0 if scale > 1.0 else 1.0
        else:
            raise ConvertError(f"phi3 rope scaling type {kind!r} is not supported (longrope, su, yarn)")
        # written first: llama.cpp sets it while generating the factor tensors, before the other keys
        out.insert(0, (f"{a}.rope.scaling.attn_factor", float(attn), VT.FLOAT32))
    return out


def _bert_hparams(arch: Arch, c: dict) -> Meta:
    out = _common(arch, c, rope=False)
    out.append((f"{arch.name}.attention.causal", False, VT.BOOL))
    return out


# ---- tensor changes ----
def _permute(w: np.ndarray, n_head: int, n_head_kv: int) -> np.ndarray:
    """Llama's q/k rows from Hugging Face's half-split rope layout to GGUF's adjacent pairs (per head)."""
    n = n_head_kv if n_head_kv != n_head else n_head
    return w.reshape(n, 2, w.shape[0] // n // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _llama_transform(arch: Arch, name: str, a: np.ndarray, c: dict) -> np.ndarray:
    n_head = c["num_attention_heads"]
    if name.endswith(("q_proj.weight", "q_proj.bias")):
        return _permute(a, n_head, n_head)
    if name.endswith(("k_proj.weight", "k_proj.bias")):
        return _permute(a, n_head, c.get("num_key_value_heads", n_head))
    return a


def _gemma3_transform(arch: Arch, name: str, a: np.ndarray, c: dict) -> np.ndarray:
    if name.endswith("norm.weight"):  # Gemma3RMSNorm multiplies by (1 + w)
        return a + np.float32(1.0)
    return a


def _llama_extra(arch: Arch, c: dict) -> list[tuple[str, np.ndarray]]:
    """Llama 3's rope scaling as rope_freqs.weight: a frequency divisor per rotated pair. Computed in float32 the
    way llama.cpp's converter does it with torch (x / tensor is reciprocal(tensor) * x there; the power is rounded
    from float64), which gives its bytes for the Llama 3.x configurations (a rare 1-2 ulp difference remains where
    torch's float32 pow is not correctly rounded)."""
    rp = rope_params(c)
    if str(rp.get("rope_type", "")).lower() != "llama3":
        return []
    f32 = np.float32
    base = float(rp.get("rope_theta", 10000.0))
    dim = _head_dim(c)
    exponent = np.arange(0, dim, 2, dtype=f32) / f32(dim)
    freqs = f32(1) / (np.float64(base) ** exponent.astype(np.float64)).astype(f32)
    factor = rp.get("factor", 8.0)
    low, high = rp.get("low_freq_factor", 1.0), rp.get("high_freq_factor", 4.0)
    old_ctx = rp.get("original_max_position_embeddings", 8192)
    low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
    out = []
    for f in freqs:
        wavelen = (f32(1) / f) * f32(2 * math.pi)
        if wavelen < high_wavelen:
            out.append(f32(1))
        elif wavelen > low_wavelen:
            out.append(f32(factor))
        else:
            smooth = ((f32(1) / wavelen) * f32(old_ctx) - f32(low)) / f32(high - low)
            out.append(f32(1) / ((f32(1) - smooth) / f32(factor) + smooth))
    return [("rope_freqs.weight", np.array(out, dtype=f32))]


def _phi3_extra(arch: Arch, c: dict) -> list[tuple[str, np.ndarray]]:
    rp = rope_params(c)
    long, short = rp.get("long_factor"), rp.get("short_factor")
    if not long:
        return []
    rope_dims = _phi3_rope(c)[0]
    if short is None or len(long) != len(short) or len(long) != rope_dims / 2:
        raise ConvertError(f"phi3 rope long_factor and short_factor must both have {rope_dims // 2} values")
    return [
        ("rope_factors_long.weight", np.asarray(long, dtype=np.float32)),
        ("rope_factors_short.weight", np.asarray(short, dtype=np.float32)),
    ]


ARCHS: dict[str, Arch] = {
    a.name: a
    for a in (
        Arch(
            "llama",
            ("LlamaForCausalLM", "LlamaModel", "MistralForCausalLM", "MistralModel"),
            _DECODER_GLOBAL,
            _DECODER_LAYER,
            _llama_hparams,
            vocab="spm-first",
            transform_fn=_llama_transform,
            extra_fn=_llama_extra,
        ),
        Arch(
            "qwen2",
            ("Qwen2ForCausalLM", "Qwen2Model"),
            _DECODER_GLOBAL,
            _DECODER_LAYER,
            _qwen_hparams,
            vocab="spm-first",
        ),
        Arch(
            "qwen3",
            ("Qwen3ForCausalLM", "Qwen3Model"),
            _DECODER_GLOBAL,
            {**_DECODER_LAYER, **_QK_NORM},
            _qwen_hparams,
            vocab="spm-first",
        ),
        Arch(
            "gemma3",
            ("Gemma3ForCausalLM", "Gemma3ForConditionalGeneration"),
            _DECODER_GLOBAL,
            _GEMMA3_LAYER,
            _gemma3_hparams,
            vocab="spm-first",
            drop_parts=("language_model.",),
            transform_fn=_gemma3_transform,
        ),
        Arch(
            "phi3",
            ("Phi3ForCausalLM",),
            _DECODER_GLOBAL,
            _PHI3_LAYER,
            _phi3_hparams,
            vocab="spm-first",
            extra_fn=_phi3_extra,
        ),
        Arch(
            "bert",
            ("BertModel", "BertForMaskedLM"),
            _BERT_GLOBAL,
            _BERT_LAYER,
            _bert_hparams,
            vocab="wordpiece",
            strip_prefixes=("bert.",),
        ),
    )
}


def pooling(folder, arch: Arch) -> Meta:
    """{arch}.pooling_type from a sentence-transformers folder (modules.json -> the Pooling module's config.json),
    as _try_set_pooling_type does for bert, qwen2 and qwen3: 1 mean, 2 cls, 3 last token."""
    if arch.name not in ("bert", "qwen2", "qwen3"):
        return []
    modules = None
    if (folder / "modules.json").is_file():
        try:
            modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConvertError(f"{folder / 'modules.json'}: cannot read it as JSON ({e})") from None
    if not isinstance(modules, list):
        return []
    path = next(
        (m.get("path") for m in modules if isinstance(m, dict) and str(m.get("type", "")).endswith("Pooling")), None
    )
    if not isinstance(path, str) or ".." in path.replace("\\", "/").split("/"):
        return []
    cfg = read_json(folder / path / "config.json", required=True)
    modes = {"mean": 1, "cls": 2, "lasttoken": 3}
    if cfg.get("pooling_mode_mean_tokens"):
        kind = 1
    elif cfg.get("pooling_mode_cls_token"):
        kind = 2
    elif cfg.get("pooling_mode_lasttoken"):
        kind = 3
    elif cfg.get("pooling_mode") in modes:
        kind = modes[cfg["pooling_mode"]]
    else:
        raise ConvertError(f"{folder / path / 'config.json'}: only mean, cls and last-token pooling are supported")
    return [(f"{arch.name}.pooling_type", kind, VT.UINT32)]


def supported() -> list[str]:
    return sorted(c for a in ARCHS.values() for c in a.hf_classes)


def find_arch(config: dict) -> Arch:
    """The Arch for config.json's `architectures` (a Gemma 3 multimodal config's text_config is merged in)."""
    classes = config.get("architectures")
    if not isinstance(classes, list) or not classes or not isinstance(classes[0], str):
        raise ConvertError(f"config.json has no 'architectures' list; supported: {', '.join(supported())}")
    for a in ARCHS.values():
        if classes[0] in a.hf_classes:
            return a
    raise ConvertError(f"architecture {classes[0]} is not supported; supported: {', '.join(supported())}")


def text_config(config: dict) -> dict:
    """config.json with a multimodal model's text_config lifted to the top (as TextModel does), and the defaults
    transformers' config classes fill in (llama.cpp reads configs through AutoConfig, so it sees them)."""
    if isinstance(config.get("text_config"), dict):
        config = {**config, **config["text_config"]}
    c = dict(config)
    classes = c.get("architectures") or [""]
    heads = c.get("num_attention_heads")
    if isinstance(heads, int) and heads > 0:
        if c.get("num_key_value_heads") is None and "Bert" not in str(classes[0]) and "Gemma3" not in str(classes[0]):
            c["num_key_value_heads"] = heads
        if str(classes[0]).startswith(("Llama", "Mistral")) and c.get("head_dim") is None:
            if isinstance(c.get("hidden_size"), int):
                c["head_dim"] = c["hidden_size"] // heads
    if str(classes[0]).startswith("Qwen3") and c.get("head_dim") is None:
        c["head_dim"] = 128
    return c
