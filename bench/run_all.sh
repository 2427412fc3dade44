#!/usr/bin/env bash
# Every full-size benchmark in dependency order (about 1.5 h on 2 cores).
# Each writes its results, with the command that made them, under bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin

"$BIN/python" bench/train.py        # teachers, students, KD ablation -> train.json
"$BIN/python" bench/convert.py      # default students -> bundles, bit-exact -> convert.json
"$BIN/python" bench/driver.py bench/runs/bundles/mnist_cnn   # ours vs hls4ml -> driver.json
for arch in cnn mlp; do             # the emulated board (host timings) -> emulator_<arch>/
    "$BIN/pynq-mnist" bench "bench/runs/bundles/mnist_$arch" --target emulator \
        --batches 1,10,100,1000 --frames-per-point 1000 --out "bench/results/emulator_$arch"
done
# the fault benchmark on a small real bundle (a smoke-trained CNN) -> faults.json
"$BIN/pynq-mnist" train --arch cnn --preset smoke --out bench/runs/smoke_cnn
"$BIN/pynq-mnist" convert bench/runs/smoke_cnn --out bench/runs/bundles/mnist_cnn_smoke
"$BIN/python" bench/faults.py bench/runs/bundles/mnist_cnn_smoke
