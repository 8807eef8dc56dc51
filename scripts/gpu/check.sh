#!/bin/bash
# The GPU check of issue 14, as one command on a lent GPU machine (Python
# 3.12, jax 0.11.2 + CUDA, PyTorch). Prepared and run from the CPU machine:
#
#   bash scripts/gpu/fetch_wheels.sh                  # .whl/ (ignored by git)
#   mkdir -p .data && cp -r ../shared/data/fashion-mnist .data/  # ignored too
#   run(command="bash scripts/gpu/check.sh", carry=[".whl", ".data"],
#       timeout_s=540)
#
# Everything it measures lands in $OUT (JSON lines and logs), one file per
# part, so a part that runs out of time still returns the others.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-check}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
  --upgrade --target /tmp/site .whl/*.whl .whl/*.tar.gz || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
python3 -c "import jax, torch; print(jax.__version__, jax.devices(), torch.__version__)" \
  | tee "$OUT/versions.txt"

# 1. The suite on jax 0.11 (the Fashion-MNIST tests read .data/).
timeout 200 python3 -m pytest -x -q -p no:cacheprovider 2>&1 | tail -40 > "$OUT/pytest.txt"

# 2. Throughput, zoo against PyTorch eager and torch.compile, interleaved.
for batch in 128 1024; do
  for model in mlp cnn resnet20 resnet18 vit_tiny; do
    for precision in float32 bfloat16; do
      timeout 60 python3 benchmarks/throughput.py --model $model --batch $batch \
        --precision $precision --skip_peak --windows 2 --window_s 2 \
        | grep '^{' >> "$OUT/throughput.jsonl"
      for mode in eager compile; do
        timeout 60 python3 benchmarks/torch_reference.py --model $model \
          --batch $batch --mode $mode --device cuda --precision $precision \
          --windows 2 --window_s 2 | grep '^{' >> "$OUT/throughput.jsonl"
      done
    done
  done
done

# 3. Ensembles (issue 13): K members in one program against one model.
for k in 8 64; do
  for model in mlp cnn resnet20; do
    timeout 60 python3 benchmarks/ensemble.py --model $model --members $k \
      --chunks 3 | grep '^{' >> "$OUT/ensemble.jsonl"
  done
done

# 4. A recipe's accuracy against the CPU's (same seed).
timeout 120 python3 launch.py --config=configs/fashion_mnist.py:mlp \
  --config.data.dir=.data/fashion-mnist --workdir=/tmp/fm-mlp \
  > "$OUT/fm-mlp.log" 2>&1
cp /tmp/fm-mlp/results.json "$OUT/fm-mlp-results.json" 2>/dev/null
echo done
