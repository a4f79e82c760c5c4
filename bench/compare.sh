#!/usr/bin/env bash
# Runs supportrl's benchmarks and the PyTorch-eager peer (shared/bench/pytorch_reference.py) on identical
# shapes and dtype, interleaved in the same run, and prints each ratio (project / peer) from the medians.
# Usage: bench/compare.sh [ROUNDS]   (env: SRL=build/supportrl, PEER=../shared/bench/pytorch_reference.py,
#        ONLY=regex on case names, e.g. ONLY='dpo|rm')
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SRL=${SRL:-build/supportrl}
PEER=${PEER:-../shared/bench/pytorch_reference.py}
[ -x "$SRL" ] || { echo "compare.sh: $SRL not built (run make build)" >&2; exit 2; }
[ -f "$PEER" ] || { echo "compare.sh: peer $PEER not found" >&2; exit 2; }
PY=/usr/bin/python3
command -v "$PY" >/dev/null || PY=python3

# name | mode and flags shared by both | key to compare
CASES=(
  "sft-step small b8 s256|sft-step --preset small --batch 8 --seq 256 --prompt 96 --dtype bf16|tokens_per_s"
  "dpo-step small p8 s256|dpo-step --preset small --pairs 8 --seq 256 --prompt 96 --dtype bf16|tokens_per_s"
  "rm-step small p8 s256|rm-step --preset small --pairs 8 --seq 256 --prompt 96 --dtype bf16|tokens_per_s"
  "generate small b1|generate --preset small --batch 1 --prompt 64 --new 128 --dtype bf16|gen_tokens_per_s"
  "generate small b16|generate --preset small --batch 16 --prompt 64 --new 128 --dtype bf16|gen_tokens_per_s"
  "rollouts small b64|rollouts generate --preset small --batch 64 --prompt 96 --new 128 --dtype bf16|gen_tokens_per_s"
  "generate base b1|generate --preset base --batch 1 --prompt 64 --new 128 --dtype bf16|gen_tokens_per_s"
  "generate base b16|generate --preset base --batch 16 --prompt 64 --new 128 --dtype bf16|gen_tokens_per_s"
  "rollouts base b64|rollouts generate --preset base --batch 64 --prompt 96 --new 128 --dtype bf16|gen_tokens_per_s"
)
[ -n "${CASES_EXTRA:-}" ] && CASES+=("$CASES_EXTRA")

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { $PY -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }

printf "%-22s %14s %14s %8s\n" "case" "supportrl" "pytorch-peer" "ratio"
for c in "${CASES[@]}"; do
  IFS='|' read -r name args key <<<"$c"
  [[ -n "${ONLY:-}" && ! "$name" =~ ${ONLY} ]] && continue
  # A case may name different modes for the two sides: "OURS PEERS --flags..." (e.g. rollouts vs generate).
  ours_args=$args peer_args=$args
  read -r m1 m2 rest <<<"$args"
  if [[ "$m2" != --* ]]; then ours_args="$m1 $rest"; peer_args="$m2 $rest"; fi
  ours=(); peer=()
  for ((i = 0; i < ROUNDS; i++)); do
    ours+=("$("$SRL" bench $ours_args | field "$key")")
    peer+=("$($PY "$PEER" $peer_args | field "$key")")
  done
  o=$(printf "%s\n" "${ours[@]}" | median)
  p=$(printf "%s\n" "${peer[@]}" | median)
  printf "%-22s %14.1f %14.1f %7.2fx\n" "$name" "$o" "$p" "$(awk -v a="$o" -v b="$p" 'BEGIN {print a / b}')"
done
