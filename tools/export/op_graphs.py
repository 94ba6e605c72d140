#!/usr/bin/env python3
"""Single-operator ONNX graphs for bench/webgpu_ceiling.ts: ORT-web's own kernels for the ops
our WGSL kernels replace, with every dimension symbolic (fixed per shape at session creation).

    op_graphs.py OUT [--heads 24]
    op_graphs.py OUT --block [--heads 24] [--head-dim 128]

Writes OUT/<op>_<dtype>.onnx for dtype fp32 and fp16:
  matmul     Y[S, N] = X[S, K] . W[K, N] + B[N]        (MatMul + Add; W is an input, not data)
  attention  O = softmax(Q Kt * scale) V, Q K V [B, H, S, D] (Transpose, MatMul, Mul, Softmax,
             MatMul: the unfused form, on the head-major layout it needs)
  mha        com.microsoft MultiHeadAttention, query/key/value [B, S, heads * D]
With --block: OUT/double_block_<dtype>/model.onnx, one FLUX double block at that width
(tools/export/flux_modules.py, norms and GELUs fused as the exporter fuses them): inputs
hidden_states [1, n, dim], encoder_hidden_states [1, L, dim], temb [1, dim], cos and sin
[L + n, head dim]; outputs out_hidden_states, out_encoder_hidden_states. Its data file is left
sparse (right size, zeros): bench/webgpu_ceiling.ts makes it at run time, the values do not
change the time.
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


def block_graphs(out, heads, head_dim):
    import sys
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from export_flux import export_module
    from flux_modules import DoubleBlock

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.block = DoubleBlock(heads * head_dim, heads, head_dim)

        def forward(self, hidden_states, encoder_hidden_states, temb, cos, sin):
            return self.block(hidden_states, encoder_hidden_states, temb, cos, sin)

    dim, n, L = heads * head_dim, 8, 4
    example = ({"hidden_states": torch.randn(1, n, dim), "encoder_hidden_states": torch.randn(1, L, dim),
                "temb": torch.randn(1, dim), "cos": torch.randn(L + n, head_dim), "sin": torch.randn(L + n, head_dim)},
               ["out_hidden_states", "out_encoder_hidden_states"],
               {"hidden_states": {1: "n"}, "encoder_hidden_states": {1: "L"}, "cos": {0: "S"}, "sin": {0: "S"},
                "out_hidden_states": {1: "n"}, "out_encoder_hidden_states": {1: "L"}})
    cfg = {"num_attention_heads": heads, "attention_head_dim": head_dim}
    for dtype in ("fp32", "fp16"):
        with torch.no_grad():
            module = Block().eval()
        export_module(module, cfg, f"double_block_{dtype}", out, dtype, 2000 * 2**20, skip_weights=True,
                      fuse_forms=["layernorm", "rmsnorm", "gelu"], example=example)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--heads", type=int, default=24)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--block", action="store_true", help="one FLUX double block (see above)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.block:
        block_graphs(a.out, a.heads, a.head_dim)
        return
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
