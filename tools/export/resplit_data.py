#!/usr/bin/env python3
"""Rewrite an ONNX graph's external data into files under a size bound, streaming.

    resplit_data.py IN/model.onnx OUT/model.onnx [--max-file-mb 2000]

Exports that keep all weights in one `model.onnx_data` (Optimum's, for FLUX.1's 24-48 GB
transformer and 9-19 GB T5) cannot load on the server's WebGPU runtime, which reads tensors past
4 GiB of one file as zeros (the server refuses such files at startup). This copies each tensor's
byte range into `model.onnx_data[_k]` files of at most --max-file-mb, one tensor at a time (no
weight is held in memory), and writes the graph with the new locations. Other files in IN's
folder (config.json) are copied.
"""
import argparse
import os
import shutil

import onnx
from onnx import TensorProto


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--max-file-mb", type=float, default=2000.0)
    args = ap.parse_args()
    limit = int(args.max_file_mb * 2**20)
    src_dir, dst_dir = os.path.dirname(os.path.abspath(args.src)), os.path.dirname(os.path.abspath(args.dst))
    if src_dir == dst_dir:
        raise SystemExit("write to another folder (the old data files are read while the new ones are written)")
    os.makedirs(dst_dir, exist_ok=True)
    model = onnx.load(args.src, load_external_data=False)
    inputs, files, out, size = {}, [], None, 0
    for init in model.graph.initializer:
        if init.data_location != TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in init.external_data}
        offset, length = int(info.get("offset", 0)), int(info["length"])
        if out is None or (size + length > limit and size > 0):
            name = "model.onnx_data" + (f"_{len(files)}" if files else "")
            out = open(os.path.join(dst_dir, name), "wb")
            files.append((name, out))
            size = 0
        size += -size % 64
        out.seek(size)
        src = inputs.get(info["location"])
        if src is None:
            src = inputs[info["location"]] = open(os.path.join(src_dir, info["location"]), "rb")
        src.seek(offset)
        left = length
        while left:
            chunk = src.read(min(left, 64 * 2**20))
            if not chunk:
                raise SystemExit(f"{info['location']}: ends before {init.name}'s data")
            out.write(chunk)
            left -= len(chunk)
        del init.external_data[:]
        for k, v in (("location", files[-1][0]), ("offset", str(size)), ("length", str(length))):
            e = init.external_data.add()
            e.key, e.value = k, v
        size += length
    for f in list(inputs.values()) + [f for _, f in files]:
        f.close()
    onnx.save_model(model, args.dst)
    for name in os.listdir(src_dir):
        if name.endswith(".json"):
            shutil.copy(os.path.join(src_dir, name), os.path.join(dst_dir, name))
    print(f"{args.dst}: {len(files)} data file(s) of at most {args.max_file_mb:g} MiB")


if __name__ == "__main__":
    main()
