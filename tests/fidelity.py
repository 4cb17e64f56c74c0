"""The fidelity metric of ../shared/tools/fidelity.py (kept identical here so the suite runs without shared/).

compare(ref_npz, i, cand_logprobs) -> dict of metrics for prompt i, where cand_logprobs[pos, vocab] are the
candidate's full log-softmax outputs over the reference token sequence (teacher-forced).
"""

import numpy as np


def compare(ref, i, cand_lp):
    ids = ref[f"p{i}_top_ids"]
    lp_ref = ref[f"p{i}_top_logprobs"].astype(np.float64)
    n = ids.shape[0]
    cand_lp = np.asarray(cand_lp, dtype=np.float64)[:n]
    lp_c = np.take_along_axis(cand_lp, ids, axis=-1)
    p_ref = np.exp(lp_ref)
    kld = (p_ref * (lp_ref - lp_c)).sum(-1)  # KL(ref || cand) over ref's top-256 (tail ignored)
    top1 = (cand_lp.argmax(-1) == ids[:, 0]).mean()
    dtop = np.abs(lp_ref[:, :10] - lp_c[:, :10]).max()
    return {
        "positions": int(n),
        "mean_kld": float(kld.mean()),
        "max_kld": float(kld.max()),
        "top1_agree": float(top1),
        "max_abs_dlogprob_top10": float(dtop),
    }
