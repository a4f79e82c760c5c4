#!/usr/bin/python3
"""Golden reference for the C++ model: a tiny Llama in plain PyTorch, following Hugging Face
conventions (RMSNorm, rotate_half RoPE, grouped-query attention, SwiGLU, tied lm_head), plus a PEFT-style
LoRA adapter on q_proj/v_proj. Writes tests/golden/tiny/{config.json, model.safetensors,
adapter_model.safetensors, adapter_config.json, expected.json}.

Written independently of the C++ code, from the published formulas, so the two can check each other.
It is not a training reference and not a general Llama implementation: one tiny config, fp64 maths,
no padding, no KV cache. The safetensors files are written by hand (struct + json), not with a package.

Run from the repository root:  /usr/bin/python3 tests/golden/make_golden.py
"""
import json
import math
import os
import struct

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny")

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": 96,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-5,
    "hidden_act": "silu",
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "bos_token_id": 1,
    "eos_token_id": 2,
}
LORA_R, LORA_ALPHA = 4, 8
LORA_TARGETS = ["q_proj", "v_proj"]
IDS = [
    [1, 17, 42, 5, 88, 63, 9, 30, 71, 2],
    [1, 95, 0, 54, 23, 54, 2],
]

V, H, I = CONFIG["vocab_size"], CONFIG["hidden_size"], CONFIG["intermediate_size"]
NH, NKV, L = CONFIG["num_attention_heads"], CONFIG["num_key_value_heads"], CONFIG["num_hidden_layers"]
HD = H // NH


def normal(shape, std=0.2):
    return torch.empty(shape, dtype=torch.float32).normal_(0.0, std)


def make_weights():
    """fp32 weights, HF names, Linear weights as [out_features, in_features]. Draw order is fixed."""
    torch.manual_seed(1234)
    w = {"model.embed_tokens.weight": normal((V, H))}
    for i in range(L):
        p = f"model.layers.{i}."
        w[p + "self_attn.q_proj.weight"] = normal((NH * HD, H))
        w[p + "self_attn.k_proj.weight"] = normal((NKV * HD, H))
        w[p + "self_attn.v_proj.weight"] = normal((NKV * HD, H))
        w[p + "self_attn.o_proj.weight"] = normal((H, NH * HD))
        w[p + "mlp.gate_proj.weight"] = normal((I, H))
        w[p + "mlp.up_proj.weight"] = normal((I, H))
        w[p + "mlp.down_proj.weight"] = normal((H, I))
        w[p + "input_layernorm.weight"] = 1.0 + 0.1 * normal((H,), std=1.0)
        w[p + "post_attention_layernorm.weight"] = 1.0 + 0.1 * normal((H,), std=1.0)
    w["model.norm.weight"] = 1.0 + 0.1 * normal((H,), std=1.0)
    return w


def make_lora():
    """{(layer, module): (A [r, in], B [out, r])}. B is random (PEFT starts it at zero) so it matters."""
    torch.manual_seed(99)
    lora = {}
    for i in range(L):
        for m in LORA_TARGETS:
            out = NH * HD if m == "q_proj" else NKV * HD
            lora[(i, m)] = (normal((LORA_R, H)), normal((out, LORA_R)))
    return lora


# ---- model maths (float64) -------------------------------------------------------------------

def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(T, d, theta, dtype):
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=dtype) / d))
    freqs = torch.outer(torch.arange(T, dtype=dtype), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)  # [T, d]
    return emb.cos(), emb.sin()


def linear(x, w):
    return x @ w.T


def forward(ids, w, lora=None, dtype=torch.float64):
    """Logits [T, V] for one unpadded sequence, positions 0..T-1."""
    w = {k: v.to(dtype) for k, v in w.items()}
    eps, scaling = CONFIG["rms_norm_eps"], LORA_ALPHA / LORA_R
    T = len(ids)
    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    cos, sin = rope_cos_sin(T, HD, CONFIG["rope_theta"], dtype)
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)

    def proj(i, m, h):
        y = linear(h, w[f"model.layers.{i}.self_attn.{m}.weight"])
        if lora is not None and (i, m) in lora:
            a, b = (t.to(dtype) for t in lora[(i, m)])
            y = y + scaling * linear(linear(h, a), b)  # W x + (alpha/r) B (A x)
        return y

    for i in range(L):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = proj(i, "q_proj", h).view(T, NH, HD).transpose(0, 1)   # [NH, T, HD]
        k = proj(i, "k_proj", h).view(T, NKV, HD).transpose(0, 1)  # [NKV, T, HD]
        v = proj(i, "v_proj", h).view(T, NKV, HD).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # repeat_kv: query head h reads kv head h // (NH / NKV).
        k = k.repeat_interleave(NH // NKV, dim=0)
        v = v.repeat_interleave(NH // NKV, dim=0)
        scores = (q @ k.transpose(1, 2)) / math.sqrt(HD)
        scores = scores.masked_fill(causal, float("-inf"))
        attn = torch.softmax(scores, dim=-1) @ v                  # [NH, T, HD]
        x = x + proj(i, "o_proj", attn.transpose(0, 1).reshape(T, NH * HD))
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = linear(h, w[p + "mlp.gate_proj.weight"])
        up = linear(h, w[p + "mlp.up_proj.weight"])
        x = x + linear(torch.nn.functional.silu(gate) * up, w[p + "mlp.down_proj.weight"])
    x = rms_norm(x, w["model.norm.weight"], eps)
    return linear(x, w["model.embed_tokens.weight"])  # tied lm_head


def next_token_logprobs(ids, logits):
    """Entry t-1 is log p(ids[t] | ids[:t]) for t = 1..T-1."""
    lp = torch.log_softmax(logits, dim=-1)
    return [lp[t - 1, ids[t]].item() for t in range(1, len(ids))]


# ---- hand-written safetensors ------------------------------------------------------------------

DTYPES = {torch.float32: ("F32", "f")}


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        code, fmt = DTYPES[t.dtype]
        # struct round-trips fp32 exactly: each value is an exactly representable Python float.
        blob = struct.pack("<%d%s" % (t.numel(), fmt), *t.flatten().tolist())
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    js = json.dumps(header, separators=(",", ":")).encode("utf-8")
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(blobs))


def read_safetensors(path):
    """Minimal reader, only to check the writer above."""
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    buf = data[8 + n:]
    out = {}
    for name, e in header.items():
        b, en = e["data_offsets"]
        vals = struct.unpack("<%df" % ((en - b) // 4), buf[b:en])
        out[name] = torch.tensor(vals, dtype=torch.float32).view(e["shape"])
    return out


def r(x):
    return float("%.10g" % x)


def main():
    os.makedirs(OUT, exist_ok=True)
    w = make_weights()
    lora = make_lora()

    write_safetensors(os.path.join(OUT, "model.safetensors"), w, {"format": "pt"})
    peft = {}
    for (i, m), (a, b) in lora.items():
        base = f"base_model.model.model.layers.{i}.self_attn.{m}"
        peft[base + ".lora_A.weight"] = a
        peft[base + ".lora_B.weight"] = b
    write_safetensors(os.path.join(OUT, "adapter_model.safetensors"), peft, {"format": "pt"})
    for name, tensors in (("model.safetensors", w), ("adapter_model.safetensors", peft)):
        back = read_safetensors(os.path.join(OUT, name))
        assert back.keys() == tensors.keys() and all(torch.equal(back[k], tensors[k]) for k in back), name

    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    adapter_config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": "tests/golden/tiny",
        "r": LORA_R,
        "lora_alpha": LORA_ALPHA,
        "lora_dropout": 0.0,
        "target_modules": LORA_TARGETS,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
    }
    with open(os.path.join(OUT, "adapter_config.json"), "w") as f:
        json.dump(adapter_config, f, indent=2)
        f.write("\n")

    logits = [forward(ids, w) for ids in IDS]
    logits_lora = [forward(ids, w, lora) for ids in IDS]

    # Self-checks of the reference itself.
    for ids, lg in zip(IDS, logits):
        lg32 = forward(ids, w, dtype=torch.float32).double()
        assert (lg32 - lg).abs().max() < 1e-4, "fp32 and fp64 forward disagree"
        changed = list(ids)
        changed[-1] = (changed[-1] + 1) % V
        assert torch.allclose(forward(changed, w)[:-1], lg[:-1], rtol=0, atol=1e-12), "not causal"
    assert all((a - b).abs().max() > 1e-2 for a, b in zip(logits, logits_lora)), "LoRA has no effect"

    def tensor_summary(tensors):
        return {k: {"dtype": "F32", "shape": list(t.shape), "sum": t.double().sum().item()}
                for k, t in sorted(tensors.items())}

    def flat_check(tensors, name, begin, n):
        return {"file": None, "tensor": name, "flat_begin": begin,
                "values": tensors[name].flatten()[begin:begin + n].tolist()}

    checks = []
    for fname, tensors, name, begin in (
        ("model.safetensors", w, "model.norm.weight", 0),
        ("model.safetensors", w, "model.embed_tokens.weight", 5 * H),           # row 5, cols 0..3
        ("model.safetensors", w, "model.layers.1.mlp.down_proj.weight", 31 * I + 60),  # last row, cols 60..63
        ("model.safetensors", w, "model.layers.0.self_attn.k_proj.weight", 0),
        ("adapter_model.safetensors", peft, "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", 8),
    ):
        c = flat_check(tensors, name, begin, 4 if name != "model.norm.weight" else 3)
        c["file"] = fname
        checks.append(c)

    expected = {
        "about": "See tests/golden/README.md. logits are fp64 maths on fp32 weights, rounded to 10 significant "
                 "digits; logprobs[s][t-1] = log_softmax(logits[s][t-1])[ids[s][t]] for t >= 1.",
        "ids": IDS,
        "logits": [[[r(x) for x in row] for row in lg.tolist()] for lg in logits],
        "logprobs": [[r(x) for x in next_token_logprobs(ids, lg)] for ids, lg in zip(IDS, logits)],
        "logits_lora": [[[r(x) for x in row] for row in lg.tolist()] for lg in logits_lora],
        "logprobs_lora": [[r(x) for x in next_token_logprobs(ids, lg)] for ids, lg in zip(IDS, logits_lora)],
        "lora": {"r": LORA_R, "lora_alpha": LORA_ALPHA, "scaling": LORA_ALPHA / LORA_R, "target_modules": LORA_TARGETS},
        "checks": checks,
        "tensors": {"model.safetensors": tensor_summary(w), "adapter_model.safetensors": tensor_summary(peft)},
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
