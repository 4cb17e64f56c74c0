"""Qwen3 in float64: Qwen2's layer without q/k/v biases and with a per-head rms norm of q and k before rope."""

from __future__ import annotations

from . import qwen2


class Model(qwen2.Model):
    qk_norm = True
