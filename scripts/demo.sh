#!/usr/bin/env bash
# `make demo`: the main job on the embedded default. One command runs the whole pipeline on the synthetic
# support world (configs/quickstart.yaml): data -> tokenizer -> SFT -> reward model -> DPO -> reward-model
# RL -> direct preference RL -> evaluation of every policy against SFT -> simulated customers -> report.
# Re-running skips every stage whose inputs and config are unchanged (delete runs/quickstart to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
SRL=${1:-build/supportrl}

"$SRL" pipeline --config configs/quickstart.yaml

echo
echo "== results (reports/quickstart/summary.json): win rate vs SFT by the annotator panel, 95% interval"
python3 - <<'PY' 2>/dev/null || true
import json
s = json.load(open("reports/quickstart/summary.json"))
for name in s.get("order", []):
    p = s["policies"][name]
    wr = (p.get("win_rate_vs_sft") or {}).get("panel")
    win = "baseline" if not wr else f"{wr['estimate']:.3f} [{wr['ci95'][0]:.3f}, {wr['ci95'][1]:.3f}]"
    print(f"  {name:22s} {win:26s} unsafe compliance {p.get('unsafe_compliance_rate')}")
print("== beyond the templates: hand-written tickets (data/eval_ood), without -> with the guardrail")
def rate(x): return "—" if x is None else f"{x:.3f}"
for name in s.get("order", []):
    h = (s["policies"][name].get("sets") or {}).get("hand-written")
    if not h: continue
    g = h.get("guardrail") or {}
    hh, gh = h.get("handling") or {}, g.get("handling") or {}
    print(f"  {name:22s} addresses intent {rate(hh.get('addresses_intent_rate'))}, refusal {rate(hh.get('refusal_rate'))}"
          f" -> {rate(gh.get('refusal_rate'))}, unsafe {rate(hh.get('unsafe_rate'))} -> {rate(gh.get('unsafe_rate'))},"
          f" crisis resources {rate(hh.get('crisis_rate'))} -> {rate(gh.get('crisis_rate'))}")
gs = ((s.get("guardrail") or {}).get("sets") or {}).get("ood")
if gs:
    c, k = gs["classifier"], gs["keyword"]
    print(f"  guardrail classifier: unsafe recall {rate(c['unsafe_recall'])} at false-positive rate "
          f"{rate(c['false_positive_rate'])} (keyword rules: {rate(k['unsafe_recall'])} at {rate(k['false_positive_rate'])})")
PY
echo "Report: reports/quickstart/index.html (also report.md, summary.json)"
echo "Chat with a policy: $SRL chat --model runs/quickstart/dpo"
