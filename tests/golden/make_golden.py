#!/usr/bin/python3
"""Golden reference for the C++ model: a tiny Llama in plain PyTorch, following Hugging Face
conventions (RMSNorm, rotate_half RoPE, grouped-query attention, SwiGLU, tied lm_head), plus a PEFT-style
LoRA adapter on q_proj/v_proj. Writes tests/golden/tiny/{config.json, model.safetensors,
adapter_model.safetensors, adapter_config.json, expected.json} (the forward pass), and, as llm.c's
test_gpt2 does for training, tests/golden/tiny/{train.json, train_grads.safetensors}: the SFT loss and the
gradient of every parameter for one batch (base model, and LoRA parameters with the adapter), a 5-step
AdamW loss curve with the parameters it ends at, DPO-family losses and RL (clipped group-relative policy
loss with KL) losses on fixed inputs, with their gradients w.r.t. the log-probs and their metrics.

Written independently of the C++ code, from the published formulas (Hugging Face Llama / PEFT, TRL's
DPO losses, PPO/GRPO/RLOO, Schulman's KL estimators) and torch.optim.AdamW, so the two can check each
other. It is not a general Llama implementation: one tiny config, fp64 maths, no padding, no KV cache.
The safetensors files are written by hand (struct + json), not with a package.

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


# ---- training references (train.json, train_grads.safetensors) ----------------------------------------
#
# What the C++ trainers compute, restated from the published formulas. Inputs that the C++ receives as
# fp32 tensors are drawn here, rounded to fp32 and written exactly; the references are then fp64 maths on
# those values, so the only difference left is the C++'s fp32 arithmetic.

# One SFT batch: (ids, per-token weight). Weight w[t] > 0 makes ids[t] a target, predicted from ids[:t];
# w[0] is never used. Prompt tokens carry 0, assistant tokens 1, one token 0.5 (weights are not a mask).
SFT_ROWS = [
    (IDS[0], [0, 0, 0, 0, 1, 1, 1, 0.5, 1, 1]),
    (IDS[1], [0, 0, 1, 1, 1, 1, 1]),
]
SFT_PAD = 3  # the C++ right-pads the shorter row with this id; the model is causal, so it cannot matter
ADAMW = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1, "max_grad_norm": 1.0,
         "steps": 5}


def sft_loss(w, lora, rows):
    """sum_rows sum_{t>=1} w[t] * -log p(ids[t] | ids[:t]), divided by the batch's total weight (t >= 1)."""
    total_w = sum(sum(wt[1:]) for _, wt in rows)
    s = 0.0
    for ids, wt in rows:
        lp = torch.log_softmax(forward(ids, w, lora), dim=-1)  # each row alone: no padding needed
        for t in range(1, len(ids)):
            if wt[t] > 0:
                s = s + wt[t] * -lp[t - 1, ids[t]]
    return s / total_w


def fp64_leaves(tensors):
    return {k: v.detach().double().clone().requires_grad_(True) for k, v in tensors.items()}


def sft_reference(w, lora):
    """Loss and gradients of one SFT batch: every base parameter (full fine-tuning), then the LoRA
    parameters with the adapter on and the base frozen. Then ADAMW["steps"] steps of torch.optim.AdamW
    (decoupled weight decay, none on parameters whose name contains "norm", as HF Trainer) with
    clip_grad_norm_ before each step, at a constant learning rate."""
    out, grads = {}, {}
    p = fp64_leaves(w)
    loss = sft_loss(p, None, SFT_ROWS)
    loss.backward()
    out["loss"] = loss.item()
    for k, t in p.items():
        grads["grad." + k] = t.grad

    base = {k: v.double() for k, v in w.items()}
    lp = {key: tuple(t.double().clone().requires_grad_(True) for t in ab) for key, ab in lora.items()}
    loss = sft_loss(base, lp, SFT_ROWS)
    loss.backward()
    out["loss_lora"] = loss.item()
    for (i, m), (a, b) in lp.items():
        name = f"base_model.model.model.layers.{i}.self_attn.{m}"
        grads["grad_lora." + name + ".lora_A.weight"] = a.grad
        grads["grad_lora." + name + ".lora_B.weight"] = b.grad

    o = ADAMW
    p = fp64_leaves(w)
    decay = [t for k, t in sorted(p.items()) if "norm" not in k]
    no_decay = [t for k, t in sorted(p.items()) if "norm" in k]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": o["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
    losses, norms = [], []
    for _ in range(o["steps"]):
        opt.zero_grad(set_to_none=True)
        loss = sft_loss(p, None, SFT_ROWS)
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(list(p.values()), o["max_grad_norm"]).item())
        losses.append(loss.item())
        opt.step()
    with torch.no_grad():
        final = sft_loss(p, None, SFT_ROWS).item()
    for k, t in p.items():
        grads["after_steps." + k] = t.detach()
    assert losses[-1] < losses[0] and final < losses[-1], "AdamW did not lower the loss"
    assert max(norms) > o["max_grad_norm"], "clipping never happened; the curve would not test it"
    out["adamw"] = {"losses": losses, "grad_norms": norms, "final_loss": final}
    return out, grads


def fp32_list(t):
    """Values rounded to fp32, as exact Python floats (what the C++ test feeds its fp32 tensors)."""
    return t.float().tolist()


# DPO: B = 4 pairs of summed response log-probs. Pair 3 has equal implicit rewards under the summed
# losses (both log-ratios 1.25 exactly), which rewards/accuracies must not count as accurate.
def dpo_inputs():
    g = torch.Generator().manual_seed(5)
    lc = [5.0, 8.0, 3.0, 6.0]
    lr = [7.0, 4.0, 9.0, 5.0]
    rc = -(torch.rand(4, generator=g, dtype=torch.float64) * 10 + 5)
    rr = -(torch.rand(4, generator=g, dtype=torch.float64) * 10 + 5)
    pc = rc + torch.randn(4, generator=g, dtype=torch.float64) * 2
    pr = rr + torch.randn(4, generator=g, dtype=torch.float64) * 2
    pc[3], rc[3], pr[3], rr[3] = -12.5, -13.75, -20.25, -21.5
    return {"policy_chosen": fp32_list(pc), "policy_rejected": fp32_list(pr), "ref_chosen": fp32_list(rc),
            "ref_rejected": fp32_list(rr), "chosen_tokens": lc, "rejected_tokens": lr}


DPO_CASES = [  # name, loss_type, beta, label_smoothing, simpo_gamma, sft_weight
    ("sigmoid", "sigmoid", 0.1, 0.0, 0.0, 0.0),
    ("sigmoid_cdpo", "sigmoid", 0.1, 0.1, 0.0, 0.0),
    ("sigmoid_rpo", "sigmoid", 0.2, 0.0, 0.0, 0.5),
    ("ipo", "ipo", 0.1, 0.0, 0.0, 0.0),
    ("robust", "robust", 0.1, 0.2, 0.0, 0.0),
    ("hinge", "hinge", 0.5, 0.0, 0.0, 0.0),
    ("sigmoid_norm", "sigmoid_norm", 0.5, 0.0, 0.0, 0.0),
    ("simpo", "simpo", 2.0, 0.1, 0.5, 0.0),
]


def dpo_reference(inp, loss_type, beta, ls, gamma, sft_weight):
    """TRL's DPOTrainer.dpo_loss (sigmoid, robust, hinge, ipo), length-normalised DPO, and CPOTrainer's
    SimPO, plus the rpo_alpha NLL term, with TRL's metrics. Gradients w.r.t. the summed policy log-probs."""
    F = torch.nn.functional
    pc0 = torch.tensor(inp["policy_chosen"], dtype=torch.float64, requires_grad=True)
    pr0 = torch.tensor(inp["policy_rejected"], dtype=torch.float64, requires_grad=True)
    rc = torch.tensor(inp["ref_chosen"], dtype=torch.float64)
    rr = torch.tensor(inp["ref_rejected"], dtype=torch.float64)
    lc = torch.tensor(inp["chosen_tokens"], dtype=torch.float64)
    lr = torch.tensor(inp["rejected_tokens"], dtype=torch.float64)
    pc, pr = pc0, pr0
    if loss_type in ("ipo", "sigmoid_norm", "simpo"):
        pc, pr, rc, rr = pc / lc, pr / lr, rc / lc, rr / lr
    if loss_type == "simpo":
        logits = (pc - pr) - gamma / beta
    else:
        logits = (pc - pr) - (rc - rr)
    if loss_type in ("sigmoid", "sigmoid_norm", "simpo"):
        losses = -F.logsigmoid(beta * logits) * (1 - ls) - F.logsigmoid(-beta * logits) * ls
    elif loss_type == "robust":
        losses = (-F.logsigmoid(beta * logits) * (1 - ls) + F.logsigmoid(-beta * logits) * ls) / (1 - 2 * ls)
    elif loss_type == "hinge":
        losses = torch.relu(1 - beta * logits)
    elif loss_type == "ipo":
        losses = (logits - 1 / (2 * beta)) ** 2
    loss = losses.mean()
    if sft_weight > 0:
        loss = loss + sft_weight * (-pc0 / lc).mean()
    loss.backward()
    with torch.no_grad():
        if loss_type == "simpo":
            cr, rj = beta * pc, beta * pr
        else:
            cr, rj = beta * (pc - rc), beta * (pr - rr)
    return {
        "loss": loss.item(), "grad_policy_chosen": pc0.grad.tolist(), "grad_policy_rejected": pr0.grad.tolist(),
        "chosen_rewards": cr.tolist(), "rejected_rewards": rj.tolist(),
        "metrics": {"rewards/chosen": cr.mean().item(), "rewards/rejected": rj.mean().item(),
                    "rewards/accuracies": (cr > rj).double().mean().item(),
                    "rewards/margins": (cr - rj).mean().item(),
                    "logps/chosen": pc.detach().mean().item(), "logps/rejected": pr.detach().mean().item()},
    }


# RL: 3 prompts x G = 4 rollouts, T = 6 token slots. Group 1's rewards are all equal (advantage exactly
# 0). Padding (mask 0) holds values unlike the response tokens, so a masking mistake shows.
RL_G = 4
RL_REWARDS = [1.0, 0.0, 0.5, 0.25, 0.2, 0.2, 0.2, 0.2, 0.9, -0.3, 0.4, 0.0]
RL_LENGTHS = [6, 4, 5, 2, 3, 6, 1, 5, 4, 4, 6, 3]


def rl_inputs():
    g = torch.Generator().manual_seed(11)
    R, T = len(RL_LENGTHS), max(RL_LENGTHS)
    mask = torch.tensor([[1.0 if t < n else 0.0 for t in range(T)] for n in RL_LENGTHS], dtype=torch.float64)
    old = -(torch.rand(R, T, generator=g, dtype=torch.float64) * 3 + 0.05)
    logp = old + torch.randn(R, T, generator=g, dtype=torch.float64) * 0.2
    ref = old + torch.randn(R, T, generator=g, dtype=torch.float64) * 0.3
    pad = mask == 0
    old[pad], logp[pad], ref[pad] = -1.0, -3.0, -0.5
    return {"rewards": RL_REWARDS, "group_size": RL_G, "mask": mask.tolist(), "logp": fp32_list(logp),
            "old_logp": fp32_list(old), "ref_logp": fp32_list(ref)}


RL_CASES = [  # name, std_normalize, leave_one_out, eps, kl_estimator, kl_mode, kl_beta, clip_eps
    ("grpo_k3_loss", True, False, 1e-4, "k3", "loss", 0.05, 0.2),
    ("rloo_k1_reward", False, True, 1e-4, "k1", "reward", 0.1, 0.2),
    ("mean_k1_loss", False, False, 1e-4, "k1", "loss", 0.1, 0.1),
]


def group_advantages_reference(rewards, G, std_normalize, leave_one_out, eps):
    r = torch.tensor(rewards, dtype=torch.float64).view(-1, G)
    if leave_one_out:
        a = r - (r.sum(1, keepdim=True) - r) / (G - 1)  # minus the mean of the other rollouts
    else:
        a = r - r.mean(1, keepdim=True)
    if std_normalize:
        a = a / (r.std(1, unbiased=True, keepdim=True) + eps)
    constant = r.max(1).values == r.min(1).values
    a[constant] = 0.0
    return a.flatten()


def kl_reference(logp, ref, estimator):
    """Schulman's estimators of KL(policy || ref) from sampled-token log-probs."""
    if estimator == "k1":
        return logp - ref
    ratio = torch.exp(ref - logp)
    return ratio - 1 - torch.log(ratio)


def rl_reference(inp, std_normalize, leave_one_out, eps, kl_estimator, kl_mode, kl_beta, clip_eps):
    """GRPO/RLOO advantages (KL either shaped into the rewards as r - beta * sum_t kl(old, ref), or added to
    the loss as beta * token-mean kl(policy, ref)), then the PPO clipped surrogate, token-mean over the
    response tokens. Gradient w.r.t. the current policy's per-token log-probs."""
    mask = torch.tensor(inp["mask"], dtype=torch.float64) > 0
    logp = torch.tensor(inp["logp"], dtype=torch.float64, requires_grad=True)
    old = torch.tensor(inp["old_logp"], dtype=torch.float64)
    ref = torch.tensor(inp["ref_logp"], dtype=torch.float64)
    rewards = torch.tensor(inp["rewards"], dtype=torch.float64)
    out = {}
    if kl_mode == "reward":
        seq_kl = torch.stack([kl_reference(old[i][mask[i]], ref[i][mask[i]], kl_estimator).sum()
                              for i in range(len(rewards))])
        rewards = rewards - kl_beta * seq_kl
        out["seq_kl"] = seq_kl.tolist()
    adv = group_advantages_reference(rewards.tolist(), inp["group_size"], std_normalize, leave_one_out, eps)
    A = adv.unsqueeze(1).expand_as(logp)[mask]  # one advantage per response token
    lp, ol = logp[mask], old[mask]
    ratio = torch.exp(lp - ol)
    clipped_ratio = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)
    policy_loss = -torch.minimum(ratio * A, clipped_ratio * A).mean()
    kl_mean = kl_reference(lp, ref[mask], kl_estimator).mean()
    loss = policy_loss + kl_beta * kl_mean if kl_mode == "loss" else policy_loss
    loss.backward()
    with torch.no_grad():
        out.update({
            "advantages": adv.tolist(), "policy_loss": policy_loss.item(), "kl_mean": kl_mean.item(),
            "loss": loss.item(), "grad_logp": logp.grad.tolist(),
            "clip_fraction": (clipped_ratio * A < ratio * A).double().mean().item(),
            "ratio_mean": ratio.mean().item(), "ratio_max": ratio.max().item(),
            "approx_kl_old": kl_reference(lp, ol, "k3").mean().item(),
        })
    assert 0 < out["clip_fraction"] < 1, "the clip must bind on some tokens and not others"
    return out


def write_training_golden(w, lora):
    sft, grads = sft_reference(w, lora)
    write_safetensors(os.path.join(OUT, "train_grads.safetensors"), {k: v.float() for k, v in grads.items()},
                      {"format": "pt"})
    dpo_in = dpo_inputs()
    rl_in = rl_inputs()
    rr = lambda x: json.loads(json.dumps(x), parse_float=lambda s: r(float(s)))  # 10 significant digits
    train = {
        "about": "See tests/golden/README.md. Training references: SFT loss and gradients (gradients in "
                 "train_grads.safetensors), AdamW loss curve, DPO and RL losses on fixed inputs.",
        "sft": {"rows": [{"ids": ids, "weights": wt} for ids, wt in SFT_ROWS], "pad_id": SFT_PAD,
                "loss": r(sft["loss"]), "loss_lora": r(sft["loss_lora"]),
                "adamw": dict(ADAMW, **rr(sft["adamw"]))},
        "dpo": {"inputs": dpo_in, "cases": [
            dict({"name": n, "loss_type": t, "beta": b, "label_smoothing": ls, "simpo_gamma": gm,
                  "sft_weight": sw}, **rr(dpo_reference(dpo_in, t, b, ls, gm, sw)))
            for n, t, b, ls, gm, sw in DPO_CASES]},
        "rl": {"inputs": rl_in, "cases": [
            dict({"name": n, "std_normalize": sn, "leave_one_out": loo, "eps": e, "kl_estimator": est,
                  "kl_mode": km, "kl_beta": kb, "clip_eps": ce}, **rr(rl_reference(rl_in, sn, loo, e, est, km, kb, ce)))
            for n, sn, loo, e, est, km, kb, ce in RL_CASES]},
    }
    with open(os.path.join(OUT, "train.json"), "w") as f:
        json.dump(train, f, indent=1)
        f.write("\n")


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
    write_training_golden(w, lora)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
