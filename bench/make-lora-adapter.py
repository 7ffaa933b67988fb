#!/usr/bin/env python3
"""Writes a PEFT-layout LoRA adapter (adapter_config.json + adapter_model.safetensors, f32) for a Llama checkpoint,
e.g. one made by `mergestream testdata`: random A [r, in] and B [out, r] (normal, std 0.02, numpy seed) for the
chosen projections of every layer. For memory measurements of merges with LoRA fine-tunes (see bench/README.md).

usage: make-lora-adapter.py BASE_DIR OUT_DIR [--r 16] [--alpha 32] [--targets q_proj,v_proj] [--rslora] [--seed 1]
"""
import argparse, json, os, struct
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("base"); p.add_argument("out")
p.add_argument("--r", type=int, default=16); p.add_argument("--alpha", type=float, default=32)
p.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj")
p.add_argument("--rslora", action="store_true"); p.add_argument("--seed", type=int, default=1)
a = p.parse_args()
targets = a.targets.split(",")

def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))

shapes = {}
for f in sorted(os.listdir(a.base)):
    if f.endswith(".safetensors"):
        for k, v in header(os.path.join(a.base, f)).items():
            if k != "__metadata__":
                shapes[k] = v["shape"]

rng = np.random.default_rng(a.seed)
tensors = []
for name, shape in shapes.items():
    module = name[:-len(".weight")] if name.endswith(".weight") else None
    if module is None or module.split(".")[-1] not in targets or len(shape) != 2:
        continue
    out_f, in_f = shape
    tensors.append((f"base_model.model.{module}.lora_A.weight", [a.r, in_f],
                    rng.normal(0, 0.02, (a.r, in_f)).astype("<f4")))
    tensors.append((f"base_model.model.{module}.lora_B.weight", [out_f, a.r],
                    rng.normal(0, 0.02, (out_f, a.r)).astype("<f4")))

os.makedirs(a.out, exist_ok=True)
hdr, offset = {"__metadata__": {"format": "pt"}}, 0
for name, shape, arr in tensors:
    hdr[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + arr.nbytes]}
    offset += arr.nbytes
h = json.dumps(hdr).encode()
h += b" " * (-len(h) % 8)
with open(os.path.join(a.out, "adapter_model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h)
    for _, _, arr in tensors:
        f.write(arr.tobytes())
with open(os.path.join(a.out, "adapter_config.json"), "w") as f:
    json.dump({"peft_type": "LORA", "r": a.r, "lora_alpha": a.alpha, "use_rslora": a.rslora, "use_dora": False,
               "fan_in_fan_out": False, "target_modules": targets, "bias": "none", "modules_to_save": None,
               "base_model_name_or_path": os.path.abspath(a.base)}, f, indent=2)
print(f"wrote {len(tensors) // 2} LoRA pairs ({offset / 1e6:.1f} MB) to {a.out}")
