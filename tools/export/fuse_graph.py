#!/usr/bin/env python3
"""Rewrites an exported transformer graph into fused operator forms that ORT's WebGPU EP runs
as one kernel each (its graph optimiser applies no transformer fusions to that EP):

    fuse_graph.py IN.onnx OUT.onnx [--forms layernorm,rmsnorm,gelu,reshape]

  layernorm  ReduceMean-Sub-Pow-ReduceMean-Add-Sqrt-Div [-Mul(weight) [-Add(bias)]]
             -> LayerNormalization (opset 17; scale of ones where the norm has no affine)
  rmsnorm    Pow-ReduceMean-Add-Sqrt-Div(1, .)-Mul(x, .)-Mul(weight)
             -> SimplifiedLayerNormalization (ORT, ONNX domain)
  gelu       the tanh GELU's nine Mul/Add/Tanh nodes -> com.microsoft FastGelu, taking the bias
             of the Linear before it as FastGelu's bias input where that Add feeds only the GELU
  reshape    a Reshape whose target shape is computed at run time (Shape-Gather-Unsqueeze per
             dim, Concat with constants: how torch exports reshape(b, s, heads, d) with dynamic
             b, s) -> a constant shape: 0 ("keep this dim") where a part is the same dim of its
             input (or of the tensor a Transpose permuted into it), -1 for at most one part
             computed otherwise; the bookkeeping nodes left unused are removed

Each fused node keeps the name of the chain's last output, so tensors named downstream (the
TeaCache indicator's) stay. A chain is fused only when its intermediates feed nothing else and
its constants are the expected ones. Weights are not read (a FLUX.1 graph's data files may be
absent, as the timing graphs' are): OUT refers to the same data files, copied beside it when
they exist. Prints, as JSON, what it fused and the operator counts before and after.
"""
import argparse
import json
import math
import os
import shutil
from collections import Counter

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

FORMS = ("layernorm", "rmsnorm", "gelu", "reshape")


def infer_light(model):
    """ONNX shape inference on a copy of `model` without weight bytes (a FLUX.1 graph is past
    protobuf's 2 GB; shapes and types need no values)."""
    light = onnx.ModelProto()
    light.CopyFrom(model)
    for t in light.graph.initializer:
        t.ClearField("raw_data")
        del t.external_data[:]
        t.data_location = onnx.TensorProto.DEFAULT
    return shape_inference.infer_shapes(light)


class Graph:
    def __init__(self, model):
        self.model, self.g = model, model.graph
        self.inits = {t.name: t for t in self.g.initializer}
        self.producer = {o: n for n in self.g.node for o in n.output}
        self.uses = Counter(i for n in self.g.node for i in n.input)
        for o in self.g.output:
            self.uses[o.name] += 1
        self.dead, self.new = set(), []
        self.half = any(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16 for i in self.g.input)
        inferred = infer_light(model)
        self.types = {v.name: v.type.tensor_type for v in list(inferred.graph.value_info) + list(inferred.graph.input)}

    def const(self, name):
        if name in self.inits:
            t = self.inits[name]
            if t.data_location == onnx.TensorProto.EXTERNAL and not t.raw_data:
                return None
            return numpy_helper.to_array(t)
        n = self.producer.get(name)
        if n is not None and n.op_type == "Constant":
            return numpy_helper.to_array(n.attribute[0].t)
        if n is not None and n.op_type == "Identity":  # the exporter's shared weights
            return self.const(n.input[0])
        return None

    def dims(self, name):
        """An initializer's shape (no data needed: external weights may be absent)."""
        if name in self.inits:
            return tuple(self.inits[name].dims)
        n = self.producer.get(name)
        if n is not None and n.op_type == "Identity":
            return self.dims(n.input[0])
        c = self.const(name)
        return None if c is None else c.shape

    def scalar(self, name, value, tol=1e-4):
        c = self.const(name)
        return c is not None and c.size == 1 and abs(float(c.reshape(-1)[0]) - value) <= tol * max(1, abs(value))

    def node(self, name, op):
        n = self.producer.get(name)
        return n if n is not None and n.op_type == op and id(n) not in self.dead else None

    def only_feeds(self, name, count=1):
        return self.uses[name] == count

    def last_dim(self, name):
        t = self.types.get(name)
        if t is None or not t.shape.dim or not t.shape.dim[-1].HasField("dim_value"):
            return None, None
        return t.shape.dim[-1].dim_value, t.elem_type

    def other(self, n, name):
        """The input of binary node n that is not `name`."""
        return n.input[1] if n.input[0] == name else n.input[0]

    def last_axis(self, n):
        axes = [a for a in n.attribute if a.name == "axes"]
        keep = [a.i for a in n.attribute if a.name == "keepdims"]
        return axes and list(axes[0].ints) == [-1] and (not keep or keep[0] == 1)

    def replace(self, chain, node):
        self.dead.update(id(n) for n in chain)
        self.new.append((chain[-1], node))

    def finish(self):
        out, pending = [], {id(last): node for last, node in self.new}
        for n in self.g.node:
            if id(n) in pending:
                out.append(pending[id(n)])
            elif id(n) not in self.dead:
                out.append(n)
        del self.g.node[:]
        self.g.node.extend(out)
        # constants only the removed chains read
        used = Counter(i for n in self.g.node for i in n.input)
        keep = [n for n in self.g.node if not (n.op_type == "Constant" and used[n.output[0]] == 0)]
        del self.g.node[:]
        self.g.node.extend(keep)

    def add_init(self, name, array):
        t = numpy_helper.from_array(array, name)
        self.g.initializer.append(t)
        self.inits[name] = t
        return name


def orders(n):
    """A binary node's two operands, each way round."""
    return [(n.input[0], n.input[1]), (n.input[1], n.input[0])]


def fuse_each(G, match, *args):
    """Replaces every chain `match(G, node, *args)` finds ending at a node: (chain, fused node)."""
    count = 0
    for n in list(G.g.node):
        found = None if id(n) in G.dead else match(G, n, *args)
        if found:
            G.replace(*found)
            count += 1
    return count


def layernorm_width(G, norm_dim):
    """norm_dim: the normalised width where shape inference cannot tell (after a Reshape with
    symbolic dimensions); otherwise the width every norm of known width has, if they agree."""
    if norm_dim is not None:
        return norm_dim
    subs = {i for n in G.g.node if n.op_type == "Sub" for i in n.input}
    known = {G.last_dim(n.input[0])[0] for n in G.g.node
             if n.op_type == "ReduceMean" and n.output[0] in subs} - {None}
    return known.pop() if len(known) == 1 else None


def match_layernorm(G, div, norm_dim):
    if div.op_type != "Div":
        return None
    sub, sqrt = G.node(div.input[0], "Sub"), G.node(div.input[1], "Sqrt")
    if not (sub and sqrt):
        return None
    x, mean = sub.input
    rm1 = G.node(mean, "ReduceMean")
    add = G.node(sqrt.input[0], "Add")
    if not (rm1 and rm1.input[0] == x and G.last_axis(rm1) and add):
        return None
    rm2 = G.node(add.input[0], "ReduceMean") or G.node(add.input[1], "ReduceMean")
    if not (rm2 and G.last_axis(rm2)):
        return None
    eps = G.const(G.other(add, rm2.output[0]))
    pw = G.node(rm2.input[0], "Pow")
    if eps is None or eps.size != 1 or not (pw and pw.input[0] == sub.output[0] and G.scalar(pw.input[1], 2.0)):
        return None
    inner = [(mean, 1), (sub.output[0], 2), (pw.output[0], 1), (rm2.output[0], 1), (add.output[0], 1), (sqrt.output[0], 1)]
    if not all(G.only_feeds(t, k) for t, k in inner):
        return None
    chain = [rm1, sub, pw, rm2, add, sqrt, div]
    dim, elem = G.last_dim(x)
    scale = bias = None
    y = div.output[0]
    mul = next((n for n in G.g.node if y in n.input and n.op_type == "Mul"), None) if G.only_feeds(y) else None
    if mul is not None:
        w = G.dims(G.other(mul, y))
        if w is not None and len(w) == 1 and w[0] == (dim or w[0]):
            scale, dim, chain, y = G.other(mul, y), w[0], chain + [mul], mul.output[0]
            badd = next((n for n in G.g.node if y in n.input and n.op_type == "Add"), None) if G.only_feeds(y) else None
            if badd is not None and G.dims(G.other(badd, y)) == (dim,):
                bias, chain, y = G.other(badd, y), chain + [badd], badd.output[0]
    dim = dim or norm_dim
    if dim is None:
        return None
    if scale is None:
        dtype = np.float16 if elem == onnx.TensorProto.FLOAT16 or G.half else np.float32
        scale = G.add_init(f"{div.name}_ln_scale".lstrip("/"), np.ones(dim, dtype))
    return chain, helper.make_node(
        "LayerNormalization", [x, scale] + ([bias] if bias else []), [y],
        name=f"{div.name}_LayerNormalization", axis=-1, epsilon=float(eps.reshape(-1)[0]))


def match_rmsnorm(G, mw):
    """x * (1 / sqrt(mean(x^2) + eps)) * weight."""
    if mw.op_type != "Mul":
        return None
    for a, weight in orders(mw):
        m1 = G.node(a, "Mul")
        w = G.dims(weight)
        if not (m1 and w is not None and len(w) == 1):
            continue
        for x, r in orders(m1):
            div = G.node(r, "Div")
            if not (div and G.scalar(div.input[0], 1.0)):
                continue
            sqrt = G.node(div.input[1], "Sqrt")
            add = sqrt and G.node(sqrt.input[0], "Add")
            rm = add and (G.node(add.input[0], "ReduceMean") or G.node(add.input[1], "ReduceMean"))
            pw = rm and G.node(rm.input[0], "Pow")
            if not (pw and pw.input[0] == x and G.scalar(pw.input[1], 2.0) and G.last_axis(rm)):
                continue
            eps = G.const(G.other(add, rm.output[0]))
            inner = [pw.output[0], rm.output[0], add.output[0], sqrt.output[0], div.output[0], m1.output[0]]
            if eps is None or not all(G.only_feeds(t) for t in inner):
                continue
            return [pw, rm, add, sqrt, div, m1, mw], helper.make_node(
                "SimplifiedLayerNormalization", [x, weight], [mw.output[0]],
                name=f"{mw.name}_SimplifiedLayerNormalization", axis=-1,
                epsilon=float(eps.reshape(-1)[0]))
    return None


C1, C2 = math.sqrt(2 / math.pi), 0.044715


def linear_bias(G, x, uses):
    """(MatMul output, 1-D bias) when x = MatMul + bias feeds only its `uses` reads, else None."""
    lin = G.node(x, "Add")
    if lin is None or not G.only_feeds(x, uses):
        return None
    for b, mm in orders(lin):
        if G.node(mm, "MatMul") and G.dims(b) is not None and len(G.dims(b)) == 1:
            return lin, mm, b
    return None


def match_gelu(G, half):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) as torch 1.13 writes it; or a FastGelu
    without bias whose input is a Linear's MatMul + bias (a graph fused before the bias joined)."""
    if half.op_type == "FastGelu" and half.domain == "com.microsoft" and len(half.input) == 1:
        found = linear_bias(G, half.input[0], 1)
        if found:
            lin, mm, b = found
            return [lin, half], helper.make_node("FastGelu", [mm, b], [half.output[0]], name=half.name,
                                                 domain="com.microsoft")
        return None
    if half.op_type != "Mul":
        return None
    for c, a in orders(half):
        m4 = G.scalar(c, 0.5) and G.node(a, "Mul")
        if not m4:
            continue
        for x, a1 in orders(m4):
            add1 = G.node(a1, "Add")
            one = [i for i in add1.input if G.scalar(i, 1.0)] if add1 else []
            th = one and G.node(G.other(add1, one[0]), "Tanh")
            m3 = th and G.node(th.input[0], "Mul")
            if not m3 or not any(G.scalar(i, C1) for i in m3.input):
                continue
            add = G.node(next(i for i in m3.input if not G.scalar(i, C1)), "Add")
            if not (add and x in add.input):
                continue
            m2 = G.node(G.other(add, x), "Mul")
            if not (m2 and any(G.scalar(i, C2) for i in m2.input)):
                continue
            m1 = G.node(next(i for i in m2.input if not G.scalar(i, C2)), "Mul")
            m0 = m1 and G.node(G.other(m1, x), "Mul")
            if not (m1 and x in m1.input and m0 and list(m0.input) == [x, x]):
                continue
            chain = [m0, m1, m2, add, m3, th, add1, m4, half]
            if not all(G.only_feeds(n.output[0]) for n in chain[:-1]):
                continue
            inputs = [x]
            # a Linear's bias joins the GELU (FastGelu's bias input: one pass less) when x is
            # MatMul + 1-D bias and feeds only this GELU (x, x in m0; m1; add; m4)
            found = linear_bias(G, x, 5)
            if found:
                chain, inputs = [found[0]] + chain, [found[1], found[2]]
            return chain, helper.make_node("FastGelu", inputs, [half.output[0]],
                                           name=f"{half.name}_FastGelu", domain="com.microsoft")
    return None


def kept_dim(G, name, data, j):
    """Whether `name` is dim j of `data` as a 1-element tensor: Unsqueeze(Gather(Shape(data), j)),
    or Unsqueeze(Gather(Shape(y), perm[j])) where data = Transpose(y, perm)."""
    u = G.node(name, "Unsqueeze")
    if u is None or list(G.const(u.input[1]) if len(u.input) > 1 else []) != [0]:
        return False
    g = G.node(u.input[0], "Gather")
    if g is None or any(a.name == "axis" and a.i != 0 for a in g.attribute):
        return False
    idx = G.const(g.input[1])
    sh = G.node(g.input[0], "Shape")
    if idx is None or idx.size != 1 or sh is None or sh.attribute:
        return False
    i = int(idx.reshape(-1)[0])
    if sh.input[0] == data:
        return i == j
    t = G.node(data, "Transpose")
    perm = [list(a.ints) for a in t.attribute if a.name == "perm"] if t else []
    return bool(perm) and t.input[0] == sh.input[0] and j < len(perm[0]) and perm[0][j] == i


def fold_reshapes(G):
    """The `reshape` form: returns how many Reshapes now take a constant shape."""
    count = 0
    for n in list(G.g.node):
        if n.op_type != "Reshape" or any(a.name == "allowzero" and a.i for a in n.attribute):
            continue
        cat = G.node(n.input[1], "Concat")
        if cat is None:
            continue
        # each part a constant, a kept dim (0), or — at most one — computed: -1 (the element
        # count fixes it, as the original graph's valid reshape did)
        dims = []
        for j, part in enumerate(cat.input):
            c = G.const(part)
            if c is not None and c.size == 1 and c.dtype == np.int64 and int(c.reshape(-1)[0]) != 0:
                dims.append(int(c.reshape(-1)[0]))
            elif kept_dim(G, part, n.input[0], j):
                dims.append(0)
            else:
                dims.append(-1)
        if dims.count(-1) > 1:
            continue
        n.input[1] = G.add_init(f"{n.name or n.output[0]}_shape", np.array(dims, np.int64))
        count += 1
    # the shape bookkeeping nothing reads any more (any operator whose outputs nothing reads:
    # ONNX operators have no side effects)
    graph_out = {o.name for o in G.g.output}
    while True:
        used = Counter(i for m in G.g.node for i in m.input)
        dead = [m for m in G.g.node if not any(used[o] or o in graph_out for o in m.output)]
        if not dead:
            break
        ids = {id(m) for m in dead}
        keep = [m for m in G.g.node if id(m) not in ids]
        del G.g.node[:]
        G.g.node.extend(keep)
    return count


def fuse(model, forms=FORMS, norm_dim=None):
    """Fuses in place; returns {form: chains fused}."""
    done = {}
    passes = (
        ("layernorm", lambda G: fuse_each(G, match_layernorm, layernorm_width(G, norm_dim))),
        ("rmsnorm", lambda G: fuse_each(G, match_rmsnorm)),
        ("gelu", lambda G: fuse_each(G, match_gelu)),
        ("reshape", fold_reshapes),
    )
    for form, fn in passes:
        if form in forms:
            G = Graph(model)
            done[form] = fn(G)
            G.finish()
            # the opsets the new operators need, before the next pass infers shapes
            ops = {n.op_type for n in model.graph.node}
            opsets = {o.domain: o for o in model.opset_import}
            if "LayerNormalization" in ops and opsets[""].version < 17:
                opsets[""].version = 17
            if "FastGelu" in ops and "com.microsoft" not in opsets:
                model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--forms", default=",".join(FORMS))
    ap.add_argument("--norm-dim", type=int, help="width of norms shape inference cannot see")
    a = ap.parse_args()
    # weights stay where they are: the graph is rewritten without reading them
    model = onnx.load(a.src, load_external_data=False)
    before = Counter(n.op_type for n in model.graph.node)
    done = fuse(model, a.forms.split(","), a.norm_dim)
    onnx.save(model, a.out)
    src_dir, out_dir = os.path.dirname(os.path.abspath(a.src)), os.path.dirname(os.path.abspath(a.out))
    files = {e.value for t in model.graph.initializer for e in t.external_data if e.key == "location"}
    for f in sorted(files) if src_dir != out_dir else []:
        if os.path.exists(os.path.join(src_dir, f)):
            shutil.copy(os.path.join(src_dir, f), os.path.join(out_dir, f))
    after = Counter(n.op_type for n in model.graph.node)
    print(json.dumps({"fused": done, "before": before, "after": after}))


if __name__ == "__main__":
    main()
