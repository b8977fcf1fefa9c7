#!/usr/bin/env bash
# The paper-budget comparison on the paper-style tasks (docs/paper.md, "The paper's own settings"):
# 200 rounds of 25 (5,000 labels after the initial 100), LR head, 4 filters x 3 strategies, seeds
# in the order given, cheapest configurations first (as measured on wordnet-binary-1). Resumable:
# finished runs are skipped and an interrupted run resumes from its last 10-round checkpoint
# (SEALS restarts), so re-running the same command continues where it stopped.
#
#   nice -n 10 bash benchmarks/paper_tasks_queue.sh wordnet-binary-1 "0 1 2"
#   nice -n 10 bash benchmarks/paper_tasks_queue.sh wordnet-binary-1 "1 2" "anchoral:entropy randsub:entropy"
set -u
task=${1:-wordnet-binary-1}
seeds=${2:-"0 1 2"}
configs=${3:-"anchoral:entropy anchoral:kmeans anchoral:badge randsub:entropy full:entropy
  seals:entropy randsub:badge randsub:kmeans seals:badge seals:kmeans full:badge full:kmeans"}
py=${PYTHON:-python}
cd "$(dirname "$0")/.."
for seed in $seeds; do
  for cfg in $configs; do
    f=${cfg%%:*}; s=${cfg##*:}
    "$py" benchmarks/bench_paper.py "$task" --rounds 200 --seeds "$seed" --filters "$f" \
        --strategies "$s" --threads 1 --no-aggregate || exit $?
  done
done
"$py" benchmarks/bench_paper.py "$task" --rounds 200 --aggregate-only --seeds 0-4
