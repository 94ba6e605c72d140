"""Reads and writes .safetensors files (8-byte little-endian header size, JSON header,
raw little-endian tensors) and diffusers' sharded `*.safetensors.index.json` folders,
with F32 / F16 / BF16 tensors. No safetensors package is installable here."""
import json
import os
import struct

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I64": np.int64}


def read_file(path):
    """name → float32 numpy array (BF16 widened exactly)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dt = info["dtype"]
            if dt not in DTYPES:
                raise ValueError(f"{path}: tensor {name} has unsupported dtype {dt}")
            a, b = info["data_offsets"]
            f.seek(base + a)
            raw = np.frombuffer(f.read(b - a), dtype=DTYPES[dt]).reshape(info["shape"])
            if dt == "BF16":
                raw = (raw.astype(np.uint32) << 16).view(np.float32)
            out[name] = raw.astype(np.float32) if dt != "I64" else raw
        return out


def read_folder(folder):
    """All tensors of a diffusers component folder: one or more safetensors files, or an index."""
    names = sorted(os.listdir(folder))
    index = [n for n in names if n.endswith(".safetensors.index.json")]
    if index:
        with open(os.path.join(folder, index[0])) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = [n for n in names if n.endswith(".safetensors")]
    if not files:
        raise FileNotFoundError(f"{folder}: no *.safetensors")
    out = {}
    for name in files:
        out.update(read_file(os.path.join(folder, name)))
    return out


def write_file(path, tensors, dtype="F32"):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        a = np.ascontiguousarray(t, dtype=np.float32)
        if dtype == "F16":
            raw = a.astype(np.float16).tobytes()
        elif dtype == "BF16":
            u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
            # to the nearest, ties to even, as torch's .to(torch.bfloat16) rounds
            raw = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16).tobytes()
        else:
            raw = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_folder(folder, tensors, dtype="F32", shards=1, prefix="diffusion_pytorch_model"):
    """Writes one file, or `shards` files plus the index diffusers writes for them."""
    os.makedirs(folder, exist_ok=True)
    names = list(tensors)
    if shards == 1:
        write_file(os.path.join(folder, f"{prefix}.safetensors"), tensors, dtype)
        return
    weight_map = {}
    for s in range(shards):
        part = names[s::shards]
        fname = f"{prefix}-{s + 1:05d}-of-{shards:05d}.safetensors"
        write_file(os.path.join(folder, fname), {n: tensors[n] for n in part}, dtype)
        weight_map.update({n: fname for n in part})
    with open(os.path.join(folder, f"{prefix}.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)
