#!/usr/bin/env bash
# The paper-budget comparison on the paper-style tasks (docs/paper.md, "The paper's own settings"):
# 200 rounds of 25 (5,000 labels after the initial 100), LR head, 4 filters x 3 strategies, seeds
# in the order given, cheapest configurations first. Resumable: finished runs are skipped and an
# interrupted run resumes from its last 10-round checkpoint, so re-running this script continues
# where it stopped.
#
#   nice -n 10 bash benchmarks/paper_tasks_queue.sh wordnet-binary-1 "0 1 2"
set -u
task=${1:-wordnet-binary-1}
seeds=${2:-"0 1 2"}
py=${PYTHON:-python}
cd "$(dirname "$0")/.."
for seed in $seeds; do
  for cfg in anchoral:entropy randsub:entropy anchoral:badge randsub:badge full:entropy \
             anchoral:kmeans randsub:kmeans seals:entropy seals:badge full:badge seals:kmeans \
             full:kmeans; do
    f=${cfg%%:*}; s=${cfg##*:}
    "$py" benchmarks/bench_paper.py "$task" --rounds 200 --seeds "$seed" --filters "$f" \
        --strategies "$s" --threads 1 || exit $?
  done
done
