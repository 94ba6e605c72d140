#!/usr/bin/env python3
"""A transformer graph in float16 with float32 islands: the form it takes on a GPU with
`shader-f16` (the exporters call `to_mixed_fp16`; the command line is for tests):

    mixed_precision.py IN.onnx OUT.onnx [--islands sinusoid[,softmax] | --islands '']

Weights and every operator become float16, except the islands, kept in float32:
  sinusoid  (default) Sin / Cos and every node their arguments come from (timestep x 1000 has
            an fp16 spacing of 0.5 rad near 1000; RoPE angles of large positions lose the same),
            and the Concat that joins a Sin and a Cos: an fp16 operator reads them through a Cast;
  softmax   (opt-in) Softmax on fp32 scores, its output cast back. ORT's WebGPU Softmax sums a
            row in its input type; emulated in fp16 (bench/softmax_fp16.py) it is off by up to
            3.4e-3 of the row's largest probability at 1536-4608 keys (row sums by up to 1.7e-3;
            an fp32 island: 2.4e-4) — within bf16's rounding step (3.9e-3), the precision FLUX
            is usually run in — while fp32 scores double the largest tensor of a step
            (24 x 4608² x 4 B = 2.04 GB, at the binding limit), so it is off by default.
Norms must be in their fused form (LayerNormalization, SimplifiedLayerNormalization: the WebGPU
EP accumulates their statistics in fp32): an unfused ReduceMean chain is refused. Graph inputs
and outputs stay float32 (a Cast after each input, before each output), so the server feeds an
fp16 graph the same buffers as an fp32 one. Weights beyond fp16's range are clamped to ±65504
(counted in the summary). `--islands ''` converts everything — the mutation the tests use to
show the sinusoid island matters. Prints, as JSON, what it kept in fp32.
"""
import argparse
import json
import os
from collections import Counter

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from fuse_graph import infer_light

F, H = TensorProto.FLOAT, TensorProto.FLOAT16
FP16_MAX = 65504.0
SINUSOID = ("Sin", "Cos")
# operators whose float input is only looked at for its shape
SHAPE_ONLY = ("Shape", "Size")


def element_types(model):
    """Element type of every tensor: shape inference without the weight bytes (fuse_graph.py's
    infer_light), then propagation through what it cannot see past (the fused com.microsoft /
    ORT operators stop ONNX's inference)."""
    g = infer_light(model).graph
    types = {v.name: v.type.tensor_type.elem_type for v in list(g.value_info) + list(g.input) + list(g.output)}
    types = {k: t for k, t in types.items() if t}
    types.update({t.name: t.data_type for t in model.graph.initializer})
    for n in model.graph.node:
        for o in n.output:
            if o and o not in types:
                types[o] = output_type(n, types)
    return types


def output_type(n, types):
    """An operator's output element type from its attributes or inputs (where inference had none)."""
    attrs = {a.name: a for a in n.attribute}
    if n.op_type == "Cast":
        return attrs["to"].i
    if n.op_type in ("Constant", "ConstantOfShape") and "value" in attrs:
        return attrs["value"].t.data_type
    if n.op_type == "ConstantOfShape":
        return F
    if n.op_type in ("Shape", "Size", "NonZero", "ArgMax", "ArgMin"):
        return TensorProto.INT64
    if n.op_type in ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "IsNaN"):
        return TensorProto.BOOL
    data = n.input[1] if n.op_type == "Where" else n.input[0]
    return types.get(data, 0)


ISLANDS = ("sinusoid", "softmax")


def fp32_islands(g, islands=("sinusoid",)):
    """Indices of the nodes that stay float32, and what kept them (for the summary)."""
    producer = {o: i for i, n in enumerate(g.node) for o in n.output}
    keep, why = set(), Counter()
    sinusoid = "sinusoid" in islands
    stack = [i for i, n in enumerate(g.node) if n.op_type in SINUSOID and sinusoid]
    while stack:
        i = stack.pop()
        if i in keep:
            continue
        keep.add(i)
        why["sinusoid"] += 1
        stack.extend(producer[x] for x in g.node[i].input if x in producer)
    waves = {o for i, n in enumerate(g.node) if n.op_type in SINUSOID for o in n.output}
    for i, n in enumerate(g.node):
        if sinusoid and n.op_type == "Concat" and any(x in waves for x in n.input) and i not in keep:
            keep.add(i)
            why["sinusoid"] += 1
        if "softmax" in islands and n.op_type == "Softmax":
            keep.add(i)
            why["softmax"] += 1
    return keep, why


def half_array(a):
    """float32 → float16, clamped to fp16's finite range; returns (array, values clamped)."""
    clamped = int(np.count_nonzero(np.abs(a) > FP16_MAX))
    return np.clip(a, -FP16_MAX, FP16_MAX).astype(np.float16), clamped


def to_mixed_fp16(model, islands=("sinusoid",)):
    """Rewrites `model` in place (see the module's docstring); returns a summary dict."""
    g = model.graph
    bad = [x for x in islands if x not in ISLANDS]
    if bad:
        raise ValueError(f"unknown islands {bad}; choose from {ISLANDS}")
    if any(n.op_type == "ReduceMean" for n in g.node) and islands:
        raise ValueError("fp16 needs the fused norms (export with --fuse layernorm,rmsnorm): "
                         "an unfused ReduceMean norm would accumulate in fp16")
    types = element_types(model)
    is_float = {name for name, t in types.items() if t == F}
    keep, why = fp32_islands(g, islands)
    ops = Counter(g.node[i].op_type for i in keep)
    consumers = {}
    for i, n in enumerate(g.node):
        for x in n.input:
            consumers.setdefault(x, set()).add(i)
    # each float tensor's precision: graph inputs float32; initializers float16 unless only
    # kept nodes read them; node outputs as their node
    prec = {i.name: F for i in g.input if i.name in is_float}
    clamped = 0
    for t in g.initializer:
        if t.data_type != F:
            continue
        if consumers.get(t.name) and consumers[t.name] <= keep:
            prec[t.name] = F
            continue
        arr, c = half_array(numpy_helper.to_array(t))
        clamped += c
        t.CopyFrom(numpy_helper.from_array(arr, t.name))
        prec[t.name] = H
    for i, n in enumerate(g.node):
        p = F if i in keep else H
        for o in n.output:
            if o in is_float:
                prec[o] = p
        if p == H:
            for a in n.attribute:
                if n.op_type == "Cast" and a.name == "to" and a.i == F:
                    a.i = H
                if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == F:
                    arr, c = half_array(numpy_helper.to_array(a.t))
                    clamped += c
                    a.t.CopyFrom(numpy_helper.from_array(arr))
    # casts where a node reads a float tensor in the other precision, placed before its reader
    nodes, made, casts = [], {}, 0
    for i, n in enumerate(g.node):
        want = F if i in keep else H
        for k, x in enumerate(n.input):
            if x not in prec or prec[x] == want or n.op_type in SHAPE_ONLY:
                continue
            if (x, want) not in made:
                name = f"{x}__{'fp32' if want == F else 'fp16'}"
                nodes.append(helper.make_node("Cast", [x], [name], to=want, name=name + "_cast"))
                made[(x, want)] = name
                casts += 1
            n.input[k] = made[(x, want)]
        nodes.append(n)
    # float16 graph outputs: the producer writes NAME__fp16, a Cast writes NAME in float32
    for out in g.output:
        if prec.get(out.name) != H:
            continue
        inner = out.name + "__fp16"
        for n in nodes:
            n.output[:] = [inner if o == out.name else o for o in n.output]
            n.input[:] = [inner if x == out.name else x for x in n.input]
        nodes.append(helper.make_node("Cast", [inner], [out.name], to=F, name=out.name + "_cast"))
        casts += 1
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]  # element types changed; ORT infers them again
    return {"fp32_nodes": dict(why), "fp32_ops": dict(ops), "casts": casts, "clamped_weights": clamped}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--islands", default="sinusoid", help=f"of {','.join(ISLANDS)}; '' for none")
    args = ap.parse_args()
    model = onnx.load(args.src, load_external_data=True)
    summary = to_mixed_fp16(model, [x for x in args.islands.split(",") if x])
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    onnx.save(model, args.out)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
