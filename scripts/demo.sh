#!/usr/bin/env bash
# `make demo`: the main job on the embedded default data. Until the preference pipeline lands this is:
# train the tokenizer, supervised fine-tuning of the `small` preset on data/demo/, then one chat exchange.
# Re-running reuses finished stages (delete runs/demo to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
SRL=${1:-build/supportrl}
OUT=runs/demo

if [ ! -f "$OUT/tokenizer/tokenizer.model" ]; then
  echo "== tokenizer: training on data/demo/support_sft.jsonl"
  "$SRL" tokenizer train --input data/demo/support_sft.jsonl --vocab-size 2048 --out "$OUT/tokenizer"
fi

if [ ! -e "$OUT/sft/final" ]; then
  echo "== sft: small preset on the embedded support conversations (configs/sft.yaml)"
  "$SRL" sft --config configs/sft.yaml --set output_dir="$OUT/sft" --set model.tokenizer="$OUT/tokenizer"
else
  echo "== sft: $OUT/sft/final exists, reusing it"
fi

echo "== chat: one exchange with the fine-tuned model"
echo "you> Hello. Order A12345: the tent arrived broken. What now?"
echo "Hello. Order A12345: the tent arrived broken. What now?" |
  "$SRL" chat --model "$OUT/sft" --temperature 0 --max-new-tokens 128
echo
echo "Training metrics: $OUT/sft/metrics.jsonl   Chat yourself: $SRL chat --model $OUT/sft"
