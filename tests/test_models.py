"""Architectures end to end: every declared architecture (llamacore.models, aliases included) on small synthetic GGUF
files written from its declaration against its float64 numpy reference (tests/reference_models, which does not read
the declaration), on every CPU level; negative controls show the comparison catches real bugs. Then the
declarations themselves: loading checks a file against them, and a build uses exactly the declared tensors.
The real models against llama.cpp's reference outputs are in test_models_real.py."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from llamacore import _core, models
from llamacore.engine import Engine
from llamacore.errors import GGUFError
from llamacore.gguf import GGUFFile, GGUFWriter
from llamacore.models import HParam, TensorSpec

pytest.importorskip("gguf")

from reference_models import common, load  # noqa: E402
from reference_models.common import log_softmax  # noqa: E402
from reference_models.synthetic import write_model  # noqa: E402

ARCHS = models.supported()  # declared architectures and aliases: a new file under models/ is tested here
N_TOKENS = 40  # longer than the synthetic gemma3's sliding window of 8


def kld(lp_ref: np.ndarray, lp: np.ndarray) -> np.ndarray:
    """KL(ref || ours) per row, over the whole vocabulary."""
    return (np.exp(lp_ref) * (lp_ref - lp)).sum(-1)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """arch -> (path, tokens, float64 reference log-probs at positions 0..N_TOKENS-1)."""
    out = {}
    d = tmp_path_factory.mktemp("synthetic")
    for arch in ARCHS:
        path = d / f"{arch}.gguf"
        p = write_model(path, arch, seed=ARCHS.index(arch))
        tokens = np.random.default_rng(7).integers(0, p["n_vocab"], N_TOKENS)
        ref = load(path)
        out[arch] = (path, tokens, ref.log_probs(ref.hidden(tokens)).astype(np.float64))
    return out


@pytest.fixture
def each_level():
    """Yields the CPU levels one by one (set for the process), restoring the original level afterwards."""
    before = _core.cpu_level()
    yield _core.cpu_levels_supported()
    _core.set_cpu_level(before)


def run_all(path, tokens, **kw) -> np.ndarray:
    with Engine(path, n_ctx=64, n_threads=2, **kw) as e:
        return log_softmax(e.decode(tokens, np.arange(len(tokens)), logits_all=True).astype(np.float64))


@pytest.mark.parametrize("arch", ARCHS)
def test_architecture_matches_float64(arch, synthetic, each_level):
    path, tokens, lp_ref = synthetic[arch]
    for level in each_level:
        _core.set_cpu_level(level)
        lp = run_all(path, tokens)
        k = kld(lp_ref, lp)
        top1 = (lp.argmax(-1) == lp_ref.argmax(-1)).mean()
        # Measured: mean KLD 0.6e-4 .. 9e-4 (8-bit activations, f16 KV); bugs give 1e-2 and more.
        assert k.mean() < 3e-3 and k.max() < 2e-2, (level, k.mean(), k.max())
        assert top1 >= 0.9, (level, top1)


def test_q8_0_kv_cache(synthetic):
    path, tokens, lp_ref = synthetic["llama"]
    lp = run_all(path, tokens, type_k="q8_0", type_v="q8_0")
    assert kld(lp_ref, lp).mean() < 4e-3


def batch_shapes(path, tokens):
    """Logits of every position computed in one call, token by token, and in 7-token chunks."""
    n = len(tokens)
    with Engine(path, n_ctx=64, n_threads=2) as e:
        whole = e.decode(tokens, np.arange(n), logits_all=True)
        e.kv_clear()
        stepwise = np.array([e.decode(tokens[t : t + 1], [t])[0] for t in range(n)])
    with Engine(path, n_ctx=64, n_threads=2, n_batch=7) as e:  # 7-token chunks inside decode()
        chunked = e.decode(tokens, np.arange(n), logits_all=True)
    return whole, stepwise, chunked


def test_batch_size_barely_changes_results(synthetic, each_level):
    for arch in ("gemma3", "qwen3"):
        path, tokens, _ = synthetic[arch]
        for level in each_level:
            _core.set_cpu_level(level)
            whole, stepwise, chunked = batch_shapes(path, tokens)
            for other in (chunked, stepwise):
                lw, lo = log_softmax(whole.astype(np.float64)), log_softmax(other.astype(np.float64))
                # the attention kernel's rounding (see test_batch_size_does_not_change_results). Measured on avx512
                # over 8 random models: max KLD up to 8e-5 (gemma3), 2.1e-3 (qwen3), 2.8e-3 (llama)
                assert kld(lw, lo).max() < 5e-3, (arch, level)


@pytest.mark.xfail(
    reason="the kernels' tiled prefill attention (several query tokens) rounds differently from the one-token path",
    strict=False,
)
def test_batch_size_does_not_change_results(synthetic, each_level):
    """Goal: a token's logits bit-identical however the batch around it is made up, on every level, so that a
    cached prefix gives exactly what a fresh evaluation gives. The runtime keeps its part of this (matmuls, norms
    and the attention cell ranges do not depend on the batch); the attention kernel's two paths do not yet."""
    for arch in ("gemma3", "qwen3"):
        path, tokens, _ = synthetic[arch]
        for level in each_level:
            _core.set_cpu_level(level)
            whole, stepwise, chunked = batch_shapes(path, tokens)
            np.testing.assert_array_equal(chunked, whole, err_msg=f"{arch} {level}")
            np.testing.assert_array_equal(stepwise, whole, err_msg=f"{arch} {level}")


def test_negative_controls(synthetic, tmp_path):
    """The comparison is sharp enough to catch the classic bugs: a missing sliding window, the wrong rope layout."""
    path, tokens, lp_ref = synthetic["gemma3"]
    ref = load(path)
    ref.window = 0  # the reference without Gemma's sliding window
    lp_nowin = ref.log_probs(ref.hidden(tokens)).astype(np.float64)
    assert kld(lp_nowin, run_all(path, tokens)).mean() > 1e-2

    path, tokens, lp_ref = synthetic["llama"]
    ref = load(path)
    ref.rope = lambda x, pos: common.rope(
        x, pos, n_dims=ref.n_rot, base=ref.base, neox=True, freq_factors=ref.freq_factors
    )
    lp_neox = ref.log_probs(ref.hidden(tokens)).astype(np.float64)
    assert kld(lp_neox, run_all(path, tokens)).mean() > 1e-2


def test_phi3_long_rope_factors(tmp_path):
    """Past the training context phi3 switches to rope_factors_long (llama.cpp's rule): the graph must change."""
    path = tmp_path / "phi3.gguf"
    write_model(path, "phi3", n_ctx_train=32)
    tokens = np.arange(20) % 50
    long = run_all(path, tokens)  # n_ctx 64 > 32: long factors
    with Engine(path, n_ctx=32, n_threads=2) as e:
        short = log_softmax(e.decode(tokens, np.arange(20), logits_all=True).astype(np.float64))
    assert np.abs(short - long).max() > 1e-3


def test_unknown_architecture(tmp_path):
    path = tmp_path / "x.gguf"
    w = GGUFWriter(path)
    w.add("general.architecture", "mamba")
    w.write()
    with pytest.raises(GGUFError, match=r"'mamba' is not supported by llamacore \(supported: gemma3, llama, mistral"):
        Engine(path)


@pytest.mark.parametrize("arch", ARCHS)
def test_fused_plan_equals_unfused(arch, synthetic):
    """Norms folded into matmul quantization, residual adds, biases and glus in matmul epilogues, barriers only
    between dependent steps: the same numbers as running every node on its own."""
    from llamacore.models import build_graph

    path, tokens, _ = synthetic[arch]
    outs, stats = [], []
    with GGUFFile(path) as f:
        g, _ = build_graph(f, n_ctx=64)
        for fuse in (False, True):
            p = g.compile(max_tokens=64, n_ctx=64, n_threads=2, fuse=fuse)
            n = len(tokens)
            out = np.empty((n, p.n_vocab), np.float32)
            p.run(tokens.astype(np.int32), np.arange(n, dtype=np.int32), None, np.arange(n, dtype=np.int32), out)
            outs.append(out)
            stats.append(p.stats())
            del p
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-5)
    assert stats[1]["n_steps"] < stats[0]["n_steps"] and stats[1]["n_barriers"] < stats[0]["n_barriers"]


# ---- the declarations ----


def load_error(tmp_path, arch: str, **kw) -> str:
    path = tmp_path / f"{arch}.gguf"
    write_model(path, arch, **kw)
    with pytest.raises(GGUFError) as e:
        Engine(path, n_ctx=64)
    return str(e.value)


def test_missing_tensors_named(tmp_path):
    msg = load_error(tmp_path, "qwen2", omit=("attn_k.bias", "blk.1.ffn_up.weight", "output_norm.weight"))
    assert msg == (
        "qwen2 model file does not match the qwen2 architecture: lacks output_norm.weight, "
        "blk.*.attn_k.bias (all 3 layers), blk.1.ffn_up.weight"
    )
    # optional tensors may be missing: llama without rope_freqs, phi3 without LongRoPE factors
    for arch, name in (("llama", "rope_freqs.weight"), ("phi3", "rope_factors_long.weight")):
        path = tmp_path / f"{arch}-opt.gguf"
        write_model(path, arch, omit=(name,))
        with Engine(path, n_ctx=64) as e:
            assert e.decode([1, 2, 3], [0, 1, 2]).shape == (1, e.n_vocab)


def test_wrong_shape_named(tmp_path):
    msg = load_error(tmp_path, "llama", metadata={"llama.feed_forward_length": 512})
    assert "llama model file does not match the llama architecture" in msg
    assert "blk.0.ffn_gate.weight has shape [256, 128], declared [n_ff, n_embd] = [512, 128]" in msg
    assert "more tensors have other shapes" in msg  # 9 in all: the list is cut
    msg = load_error(tmp_path, "phi3", metadata={"phi3.attention.key_length": 16})  # q, k, v: 128 of 256 rows
    assert "blk.0.attn_qkv.weight has shape [256, 128], declared [n_head * head_dim + n_head_kv * (head_dim + " in msg
    assert "head_dim_v), n_embd] = [128, 128]" in msg


def test_bad_metadata_named(tmp_path):
    msg = load_error(tmp_path, "qwen3", metadata={"qwen3.block_count": None, "qwen3.attention.head_count": None})
    assert msg == "qwen3 model metadata lacks qwen3.block_count, qwen3.attention.head_count"
    msg = load_error(tmp_path, "gemma3", metadata={"gemma3.attention.sliding_window": [8, 8, 8]})
    assert "gemma3.attention.sliding_window holds 3 values (one per layer?)" in msg
    msg = load_error(tmp_path, "llama", metadata={"llama.embedding_length": "128"})
    assert msg == "llama.embedding_length must be a number, not str"
    msg = load_error(tmp_path, "llama", metadata={"llama.attention.head_count_kv": 3})
    assert msg == "head_count 4 is not a multiple of head_count_kv 3"
    msg = load_error(tmp_path, "llama", metadata={"llama.attention.head_count": 0})
    assert msg == "llama.attention.head_count is 0; it must be at least 1"
    msg = load_error(tmp_path, "llama", metadata={"llama.attention.head_count": 256})  # n_embd 128
    assert msg == "head_dim = n_embd // n_head is 0; it must be at least 1"


@pytest.mark.parametrize("arch", ARCHS)
def test_build_uses_every_declared_tensor(arch, tmp_path):
    """Each declared tensor is one the graph reads (optional ones included, LongRoPE's long factors past the
    training context), and a file's hyperparameters come back as declared."""
    path = tmp_path / f"{arch}.gguf"
    values = write_model(path, arch, all_tensors=True)
    spec = models.lookup(arch)
    with GGUFFile(path) as f:
        hp = spec.read_params(f.metadata, f.tensors)
        f32 = {k: np.float32(v) if isinstance(v, float) else v for k, v in values.items()}  # floats stored as f32
        assert hp.arch == arch and hp.names() == f32
        used = set()
        for n_ctx in (64, 8 * hp.n_ctx_train):
            g = models.base.Graph()
            w = models.Weights(g, f.tensors, spec)
            spec.build(g, hp, w, n_ctx)
            used |= w.used
        assert used == set(f.tensors)


def test_declaration_errors():
    """A declaration's mistakes show when its file is imported, not when a model loads."""
    llama = models.lookup("llama")
    with pytest.raises(ValueError, match="unknown name.*n_embed"):
        replace(llama, layer=(TensorSpec("x.weight", "n_embed"),))
    with pytest.raises(ValueError, match="bad expression"):
        TensorSpec("x.weight", "n_embd,, 2")
    with pytest.raises(ValueError, match="kind must be one of"):
        TensorSpec("x.weight", "n_embd", kind="matrix")
    with pytest.raises(ValueError, match="declared twice"):
        replace(llama, layer=llama.layer + llama.layer[:1])
    with pytest.raises(ValueError, match="unknown name.*n_swa"):  # may use only the hyperparameters before it
        replace(llama, hparams=(HParam("n_swa2", None, derive="n_swa"), HParam("n_swa", "attention.sliding_window")))


def test_declaration_features_for_new_architectures(tmp_path):
    """What the next architectures need, on a llama variant: a tensor of some layers only (`when`: interleaved MoE),
    3-D expert stacks, per-layer hyperparameters (an array or one value for all), and their shapes."""
    llama = models.lookup("llama")
    arch = replace(
        llama,
        hparams=(
            HParam("n_expert", "expert_count", required=True, minimum=1, example=4),
            HParam("swa_layers", "attention.sliding_window_pattern", bool, default=False, per_layer=True),
            HParam("n_ff_layer", "feed_forward_length_per_layer", per_layer=True, derive="n_ff"),
        ),
        layer=llama.layer
        + (
            TensorSpec("ffn_gate_exps.weight", "n_expert, n_ff, n_embd", when="i % 2 == 1"),
            TensorSpec("ffn_extra.weight", "n_ff_layer[i], n_embd"),
        ),
    )
    path = tmp_path / "x.gguf"
    write_model(path, arch, n_layer=4, swa_layers=(True, False, True, False))
    with GGUFFile(path) as f:
        assert f.metadata["llama.expert_count"] == 4
        assert sorted(n for n in f.tensors if "exps" in n) == [
            "blk.1.ffn_gate_exps.weight",
            "blk.3.ffn_gate_exps.weight",
        ]
        assert tuple(f.tensors["blk.1.ffn_gate_exps.weight"].shape) == (128, 256, 4)  # GGUF order
        hp = arch.read_params(f.metadata, f.tensors)
        assert hp.swa_layers == (True, False, True, False) and hp.n_ff_layer == (256,) * 4
        arch.check_tensors(hp, f.tensors)
        meta = {**f.metadata, "llama.feed_forward_length_per_layer": [256, 256, 512, 256]}
        with pytest.raises(GGUFError, match=r"blk\.2\.ffn_extra\.weight has shape \[256, 128\], declared "):
            arch.check_tensors(arch.read_params(meta, f.tensors), f.tensors)
        with pytest.raises(GGUFError, match="holds 3 values for 4 layers"):
            arch.read_params({**meta, "llama.feed_forward_length_per_layer": [256] * 3}, f.tensors)
        with pytest.raises(GGUFError, match="llama model metadata lacks llama.expert_count"):
            arch.read_params({k: v for k, v in meta.items() if k != "llama.expert_count"}, f.tensors)


def test_layer_subsets_and_undeclared_tensors(tmp_path):
    """A file missing a layer's tensor is named by layer; a build that reads a tensor its declaration lacks fails
    at once (so declarations stay complete)."""
    llama = models.lookup("llama")
    extra = TensorSpec("extra_norm.weight", "n_embd", kind="norm", when="i % 2 == 1")
    arch = replace(llama, layer=llama.layer + (extra,))
    path = tmp_path / "x.gguf"
    write_model(path, arch, n_layer=4)
    with GGUFFile(path) as f:
        hp = arch.read_params(f.metadata, f.tensors)
        arch.check_tensors(hp, f.tensors)
        without = {k: v for k, v in f.tensors.items() if k != "blk.3.extra_norm.weight"}
        with pytest.raises(GGUFError, match=r"lacks blk\.3\.extra_norm\.weight$"):
            arch.check_tensors(hp, without)

        def build(g, hp, w, n_ctx):
            w("blk.0.ffn_gate_exps.weight")

        g = models.base.Graph()
        with pytest.raises(LookupError, match="uses tensor blk.0.ffn_gate_exps.weight, which its declaration lacks"):
            build(g, hp, models.Weights(g, f.tensors, replace(arch, build=build)), 64)
