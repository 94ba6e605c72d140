#!/usr/bin/env python3
"""Writes exported FLUX transformers and their expected outputs for tests/export.

    check_export.py OUT

For each case (dev-like with guidance, schnell-like without, a sharded BF16 checkpoint with
more blocks): a random diffusers checkpoint, its export through export_flux.py (the sharded
one with data split over several files), inputs with fractional image ids, and the output of
flux_reference.py (NumPy, float64). OUT/cases.json lists them; the Deno test runs each
model.onnx with onnxruntime-web and compares.
"""
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tiny_checkpoint  # noqa: E402
from flux_reference import Flux  # noqa: E402

CASES = [
    {"name": "dev", "config": {"guidance": True}, "dtype": "F32", "shards": 1, "max_mb": 2000},
    {"name": "dev_fp16", "config": {"guidance": True}, "dtype": "F32", "shards": 1, "max_mb": 2000,
     "export_dtype": "fp16"},
    {"name": "schnell", "config": {"guidance": False}, "dtype": "F32", "shards": 1, "max_mb": 2000},
    {"name": "sharded_bf16", "config": {"guidance": True, "double": 2, "single": 3, "heads": 3,
                                         "head_dim": 16, "axes": (4, 6, 6), "context_dim": 24},
     "dtype": "BF16", "shards": 3, "max_mb": 0.3},
]


def main(out):
    os.makedirs(out, exist_ok=True)
    cases = []
    rng = np.random.default_rng(7)
    for i, case in enumerate(CASES):
        src = os.path.join(out, case["name"] + "_src")
        cfg = tiny_checkpoint.transformer_config(**case["config"])
        tiny_checkpoint.write_component(os.path.join(src, "transformer"), "transformer", cfg,
                                        10 + (0 if case["name"].startswith("dev") else i),
                                        dtype=case["dtype"], shards=case["shards"])
        dst = os.path.join(out, case["name"])
        subprocess.run([sys.executable, os.path.join(HERE, "export_flux.py"), src, dst,
                        "--components", "transformer", "--max-file-mb", str(case["max_mb"]),
                        "--dtype", case.get("export_dtype", "fp32")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ref = Flux(os.path.join(src, "transformer"))
        B, n, L = 2, 12, 5
        h, w = 3, 4
        ids = np.array([[0.0, r + 0.5 * (r % 2), c * 0.75] for r in range(h) for c in range(w)])
        inputs = {
            "hidden_states": rng.standard_normal((B, n, 64)),
            "encoder_hidden_states": rng.standard_normal((B, L, cfg["joint_attention_dim"])),
            "pooled_projections": rng.standard_normal((B, cfg["pooled_projection_dim"])),
            "timestep": np.array([0.9, 0.35]),
            "img_ids": ids,
            "txt_ids": np.zeros((L, 3)),
        }
        if cfg["guidance_embeds"]:
            inputs["guidance"] = np.array([3.5, 1.0])
        # the exporter gets float32 inputs: the reference computes on the same rounded values
        inputs = {k: v.astype(np.float32) for k, v in inputs.items()}
        expected = ref(inputs["hidden_states"], inputs["encoder_hidden_states"],
                       inputs["pooled_projections"], inputs["timestep"], inputs["img_ids"],
                       inputs["txt_ids"], inputs.get("guidance"))
        cases.append({
            "name": case["name"], "model": os.path.join(dst, "transformer", "model.onnx"),
            "fp16": case.get("export_dtype") == "fp16",
            "data_files": sorted(f for f in os.listdir(os.path.join(dst, "transformer"))
                                 if f.startswith("model.onnx_data")),
            "inputs": {k: {"dims": list(v.shape), "data": v.ravel().tolist()} for k, v in inputs.items()},
            "expected": {"dims": list(expected.shape), "data": expected.ravel().tolist()},
        })
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f)
    print(f"{len(cases)} cases in {out}/cases.json")


if __name__ == "__main__":
    main(sys.argv[1])
