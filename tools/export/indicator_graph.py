#!/usr/bin/env python3
"""The TeaCache indicator of a DiT graph: how much the first block's timestep-modulated input
changed between two steps, as one cheap graph (src/samplers/tea_cache.ts runs it per step).

    indicator_graph.py DIT.onnx OUT.onnx --tensor NAME [--inputs hidden_states,timestep,...]

Extracts from DIT.onnx the subgraph that computes tensor NAME (the first block's modulated
input: LayerNorm(x) (1 + scale(t)) + shift(t)) from the DiT's own inputs, twice — once for the
current step (`hidden_states`, `timestep`) and once for the previous one (`prev_hidden_states`,
`prev_timestep`), the conditioning inputs shared — and outputs
`rel_l1 = mean|m - m_prev| / mean|m_prev|`, a scalar. Known tensors: the default model
`/blocks.0/Add_1_output_0`; FLUX graphs from tools/export `/transformer_blocks.0/norm1/Add_3_output_0`.
"""
import argparse
import os

import onnx
from onnx import TensorProto, helper, utils

STEP_INPUTS = ("hidden_states", "timestep")


# the first double block's modulated image input in graphs from tools/export/export_flux.py
FLUX_TENSOR = "/transformer_blocks.0/norm1/Add_3_output_0"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dit")
    ap.add_argument("out")
    ap.add_argument("--tensor", required=True)
    ap.add_argument("--inputs", default="hidden_states,encoder_hidden_states,pooled_projections,timestep")
    a = ap.parse_args()
    write_indicator(a.dit, a.out, a.tensor, a.inputs.split(","))


def write_indicator(dit, out, tensor, inputs):
    """Writes the indicator graph of DiT graph `dit` (a path) to `out`."""
    m = utils.Extractor(onnx.load(dit)).extract_model(inputs, [tensor])
    g = m.graph
    shared = [i for i in g.input if i.name not in STEP_INPUTS]

    def renamed(prefix):
        keep = {i.name for i in shared}
        names = lambda xs: [x if (x in keep or x == "") else prefix + x for x in xs]
        nodes = []
        for n in g.node:
            c = onnx.NodeProto()
            c.CopyFrom(n)
            del c.input[:]
            c.input.extend(names(n.input))
            del c.output[:]
            c.output.extend(names(n.output))
            c.name = prefix + n.name
            nodes.append(c)
        inits = []
        for t in g.initializer:
            c = onnx.TensorProto()
            c.CopyFrom(t)
            c.name = prefix + t.name
            inits.append(c)
        step = []
        for i in g.input:
            if i.name in STEP_INPUTS:
                c = onnx.ValueInfoProto()
                c.CopyFrom(i)
                c.name = prefix + i.name
                step.append(c)
        return nodes, inits, step

    cur_nodes, cur_inits, cur_in = renamed("")
    prev_nodes, prev_inits, prev_in = renamed("prev_")
    m_cur, m_prev = tensor, "prev_" + tensor
    tail = []
    if any(t.data_type == TensorProto.FLOAT16 for t in g.initializer):
        # cut from an fp16 graph (model_fp16.onnx): the relative change is taken in fp32
        tail = [helper.make_node("Cast", [m_cur], ["ind_cur32"], to=TensorProto.FLOAT),
                helper.make_node("Cast", [m_prev], ["ind_prev32"], to=TensorProto.FLOAT)]
        m_cur, m_prev = "ind_cur32", "ind_prev32"
    tail += [
        helper.make_node("Sub", [m_cur, m_prev], ["ind_diff"]),
        helper.make_node("Abs", ["ind_diff"], ["ind_abs"]),
        helper.make_node("ReduceMean", ["ind_abs"], ["ind_num"], keepdims=0),
        helper.make_node("Abs", [m_prev], ["ind_prev_abs"]),
        helper.make_node("ReduceMean", ["ind_prev_abs"], ["ind_den"], keepdims=0),
        helper.make_node("Div", ["ind_num", "ind_den"], ["rel_l1"]),
    ]
    graph = helper.make_graph(
        cur_nodes + prev_nodes + tail,
        "teacache_indicator",
        cur_in + prev_in + shared,
        [helper.make_tensor_value_info("rel_l1", TensorProto.FLOAT, [])],
        initializer=cur_inits + prev_inits,
    )
    model = helper.make_model(graph, opset_imports=m.opset_import, producer_name="ralu-indicator")
    model.ir_version = m.ir_version
    onnx.save(model, out)
    print(f"{out}: {os.path.getsize(out)} bytes, inputs {[i.name for i in graph.input]}")


if __name__ == "__main__":
    main()
