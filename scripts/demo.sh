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
PY
echo "Report: reports/quickstart/index.html (also report.md, summary.json)"
echo "Chat with a policy: $SRL chat --model runs/quickstart/dpo"
