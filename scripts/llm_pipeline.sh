#!/usr/bin/env bash
# The LM pipeline, stage by stage, into one folder: pretrain -> sft -> rlft -> search_loop,
# each stage's run directory <out>/<stage> starting from the previous one's model.
#   bash scripts/llm_pipeline.sh <out> [hydra overrides for every stage, e.g. seed=1 env.chat=true]
# It runs .venv/bin/python (no need to activate it), else python3, or $PYTHON when set.
# LAST=sft stops after that stage; a stage whose run directory holds results.json
# is skipped, one that was stopped resumes (the pipeline continues where it stopped;
# resume=true refuses other settings than the stopped stage's). The stages' sizes are below;
# results/llm.md was made with them.
set -euo pipefail
out=${1:?usage: llm_pipeline.sh <out> [overrides...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
venv_python="$here/../.venv/bin/python"
[[ -x $venv_python ]] || venv_python=python3
python=${PYTHON:-$venv_python}
declare -A sizes=(
  [pretrain]="algo.iterations=20 algo.episodes=64"
  [sft]="algo.iterations=40 algo.episodes=128"
  [rlft]="algo.iterations=8 algo.minibatches=4"
  [search_loop]="algo.iterations=32 algo.envs=16"
)
previous=""
for stage in pretrain sft rlft search_loop; do
  dir="$out/$stage"
  if [[ ! -f "$dir/results.json" ]]; then
    init=${previous:+algo.init=$previous}
    # shellcheck disable=SC2086  # the sizes are several words on purpose
    "$python" "$here/train.py" experiment=llm_tiny "algo=$stage" ${sizes[$stage]} $init "hydra.run.dir=$dir" resume=true "$@"
  fi
  previous=$dir
  [[ $stage == "${LAST:-search_loop}" ]] && break
done
