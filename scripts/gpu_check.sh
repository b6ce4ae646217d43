#!/usr/bin/env bash
# The first GPU run, as one script for a machine with an NVIDIA GPU (issue 14): correctness first, then speed.
# Everything it prints also goes to $OUT (default ./gpu-run), with the pictures it makes.
#
# Needs: python3 with torch (CUDA) and torchvision; the project's other requirements (gradio, gradio_client,
# pytest, hypothesis) installed or importable from $PYTHONPATH; the shared weights and images at
# $SHARED (default ../shared, a folder with weights/ and images/ as in CI).
#
#     OUT=gpu-run SHARED=../shared bash scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-run}
SHARED=${SHARED:-../shared}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 GRADIO_ANALYTICS_ENABLED=False
export NST_WEIGHTS="$SHARED/weights/vgg16-caffe-features.pth"
photo="$SHARED/images/tubingen.jpg" painting="$SHARED/images/starry_night.jpg"
step() { echo; echo "=== $*" | tee -a "$OUT/summary.txt"; }

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$OUT/summary.txt"
python3 -c "import torch, torchvision; print(torch.__version__, torchvision.__version__, torch.cuda.get_device_name())" \
  | tee -a "$OUT/summary.txt"

step "1a. the GPU tests (bf16 against fp32 on the real weights, CUDA out of memory, memory freed on close)"
python3 -m pytest -q -rs tests/test_gpu.py 2>&1 | tee "$OUT/gpu-tests.log" | tail -5 | tee -a "$OUT/summary.txt"

step "1b. the CLI's default run on the GPU (look at the picture)"
{ time python3 -m nst_core "$photo" "$painting" -o "$OUT/starry_tubingen_cuda.png"; } 2> "$OUT/cli.log"
grep -E "^real|error" "$OUT/cli.log" | tee -a "$OUT/summary.txt"

step "1c. the studio: one job streamed through gradio_client, first preview and the cost of streaming"
python3 -m bench.studio --iterations 200 --size 512 2>&1 | tee "$OUT/studio.log" | tail -6 | tee -a "$OUT/summary.txt"

step "1d. the whole suite but the browser tests (no chromium there)"
python3 -m pytest -q -x --ignore=tests/test_app_browser.py -m "not browser" 2>&1 | tee "$OUT/suite.log" \
  | tail -5 | tee -a "$OUT/summary.txt"

step "2a. per step: engine against the textbook loop, 512 to 4096 px (4096 is the out-of-memory check)"
python3 -m bench --device cuda --weights "$NST_WEIGHTS" --sizes 512 1024 2048 4096 --steps 20 --rounds 3 \
  --json "$OUT/bench-gpu.json" 2>&1 | tee "$OUT/bench.log" | tail -16 | tee -a "$OUT/summary.txt"

step "2b. where a 512 px step goes (operator profile)"
python3 -m bench --device cuda --weights "$NST_WEIGHTS" --sizes 512 --steps 10 --rounds 1 --profile 2>&1 \
  | tee "$OUT/profile.log" | tail -30 >> "$OUT/summary.txt"

step "2c. several visitors' jobs in one batch"
python3 -m bench.batching --device cuda --weights "$NST_WEIGHTS" --sizes 512 1024 --batch 4 2>&1 \
  | tee "$OUT/batching.log" | tail -6 | tee -a "$OUT/summary.txt"

echo; echo "wrote $OUT/"
