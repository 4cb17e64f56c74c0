"""Regenerate golden_<model>.json: what the PyPI `gguf` package (llama.cpp's own Python reader) reads from the two
real test models. test_gguf_read.py compares llamacore.gguf against these files, so CI needs no 20-second gguf
package run. Usage: python tests/data/gguf/make_golden.py MODEL.gguf... (writes next to this script)."""

import hashlib
import json
import sys
from pathlib import Path

import gguf
import numpy as np


def digest_strings(items) -> str:
    h = hashlib.sha256()
    for s in items:
        h.update(len(s).to_bytes(8, "little") + s)
    return h.hexdigest()


def main(paths: list[str]) -> None:
    for path in paths:
        r = gguf.GGUFReader(path)
        kv = {}
        for name, f in r.fields.items():
            if name.startswith("GGUF."):
                continue
            types = [t.name for t in f.types]
            entry = {"types": types}
            if types[0] != "ARRAY":
                v = f.contents()
                entry["value"] = v if not isinstance(v, float) else float(np.float32(v)) if types[0] == "FLOAT32" else v
            elif types[1] == "STRING":
                items = [bytes(f.parts[i]) for i in f.data]
                entry["count"] = len(items)
                entry["sha256"] = digest_strings(items)
                entry["first"] = [s.decode("utf-8", "replace") for s in items[:5]]
            else:
                arr = np.concatenate([f.parts[i] for i in f.data]) if f.data else np.zeros(0)
                entry["count"] = len(f.data)
                entry["sha256"] = hashlib.sha256(arr.astype(arr.dtype.newbyteorder("<")).tobytes()).hexdigest()
            kv[name] = entry
        tensors = [
            {
                "name": t.name,
                "type": t.tensor_type.name,
                "shape": [int(d) for d in t.shape],
                "offset": int(t.data_offset),
                "nbytes": int(t.n_bytes),
            }
            for t in r.tensors
        ]
        out = {
            "file": Path(path).name,
            "size": Path(path).stat().st_size,
            "version": int(r.fields["GGUF.version"].contents()),
            "alignment": int(r.alignment),
            "data_offset": int(r.data_offset),
            "metadata": kv,
            "tensors": tensors,
        }
        dest = Path(__file__).with_name(f"golden_{Path(path).stem}.json")
        dest.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
        print(dest, len(kv), "keys", len(tensors), "tensors")


if __name__ == "__main__":
    main(sys.argv[1:])
