#!/usr/bin/env python3
"""Single-operator ONNX graphs for bench/webgpu_ceiling.ts: ORT-web's own kernels for the ops
our WGSL kernels replace, with every dimension symbolic (fixed per shape at session creation).

    op_graphs.py OUT [--heads 24]

Writes OUT/<op>_<dtype>.onnx for dtype fp32 and fp16:
  matmul     Y[S, N] = X[S, K] . W[K, N] + B[N]        (MatMul + Add; W is an input, not data)
  attention  O = softmax(Q Kt * scale) V, Q K V [B, H, S, D] (Transpose, MatMul, Mul, Softmax,
             MatMul: the unfused form, on the head-major layout it needs)
  mha        com.microsoft MultiHeadAttention, query/key/value [B, S, heads * D]
"""
import argparse
import os

import onnx
from onnx import TensorProto, helper


def io(name, dtype, dims):
    return helper.make_tensor_value_info(name, dtype, dims)


def save(graph, out, name, ms=False):
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("com.microsoft", 1)] if ms else [])
    model = helper.make_model(graph, opset_imports=opsets, producer_name="ralu-op-graphs")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--heads", type=int, default=24)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for tag, dt in (("fp32", TensorProto.FLOAT), ("fp16", TensorProto.FLOAT16)):
        g = helper.make_graph(
            [helper.make_node("MatMul", ["X", "W"], ["XW"]), helper.make_node("Add", ["XW", "B"], ["Y"])],
            "matmul",
            [io("X", dt, ["S", "K"]), io("W", dt, ["K", "N"]), io("B", dt, ["N"])],
            [io("Y", dt, ["S", "N"])],
        )
        save(g, a.out, f"matmul_{tag}.onnx")
        qkv = [io(n, dt, ["B", "H", "S", "D"]) for n in ("Q", "K", "V")]
        g = helper.make_graph(
            [
                helper.make_node("Transpose", ["K"], ["Kt"], perm=[0, 1, 3, 2]),
                helper.make_node("MatMul", ["Q", "Kt"], ["QK"]),
                helper.make_node("Mul", ["QK", "scale"], ["L"]),
                helper.make_node("Softmax", ["L"], ["P"], axis=-1),
                helper.make_node("MatMul", ["P", "V"], ["O"]),
            ],
            "attention",
            qkv + [io("scale", dt, [])],
            [io("O", dt, ["B", "H", "S", "D"])],
        )
        save(g, a.out, f"attention_{tag}.onnx")
        g = helper.make_graph(
            [helper.make_node("MultiHeadAttention", ["q", "k", "v"], ["o"], domain="com.microsoft", num_heads=a.heads)],
            "mha",
            [io(n, dt, ["B", "S", "HD"]) for n in ("q", "k", "v")],
            [io("o", dt, ["B", "S", "HD"])],
        )
        save(g, a.out, f"mha_h{a.heads}_{tag}.onnx", ms=True)


if __name__ == "__main__":
    main()
