"""The float64 reference models reproduce the distance from llama.cpp that ../shared/reference/README.md measured
for exact float64 arithmetic (mean over prompts of the per-prompt mean KLD and top-1 agreement). Matching those
figures to a few percent shows the reference implements each architecture exactly (rope layout, sliding window,
norms, scaling), which is what makes it ground truth for the runtime."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gguf")

import fidelity  # noqa: E402
from reference_models import load  # noqa: E402

README_FLOAT64 = {  # model folder: (mean KLD, top-1), the README's "exact float64 vs llama.cpp" column
    "smollm2-135m-instruct-q4_1": (3.45e-3, 0.954),
    "gemma3-270m-q4_k_m": (5.46e-3, 0.979),
}


@pytest.mark.slow
@pytest.mark.parametrize("folder", sorted(README_FLOAT64))
def test_reference_matches_readme(folder, smollm2_path, gemma3_path, reference_dir):
    path = smollm2_path if folder.startswith("smollm2") else gemma3_path
    model = load(path)
    ref = np.load(reference_dir / folder / "forward.npz")
    n_prompts = sum(k.endswith("_tokens") for k in ref.files)
    klds, top1s = [], []
    for i in range(n_prompts):
        tokens = ref[f"p{i}_tokens"][:-1]
        r = fidelity.compare(ref, i, model.log_probs(model.hidden(tokens)))
        klds.append(r["mean_kld"])
        top1s.append(r["top1_agree"])
    kld, top1 = float(np.mean(klds)), float(np.mean(top1s))
    want_kld, want_top1 = README_FLOAT64[folder]
    assert kld == pytest.approx(want_kld, rel=0.03), (kld, top1)
    assert top1 == pytest.approx(want_top1, abs=0.002), (kld, top1)
