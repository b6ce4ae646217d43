#!/usr/bin/env bash
# The GPU check, as one script for a machine with an NVIDIA GPU: correctness first (the GPU tests), then the step's
# figures issue 25 asks for (steps 1-5: per step against the textbook loop and the network alone, graphed and not;
# batched per image; a visitor's first preview; where a step goes), then the earlier figures (6-8). Every step has
# its own time limit, so a slow one cannot starve the rest; steps 1-5 are limited to 570 s in all, so they fit one
# 600 s call. ONLY="2 4" runs only those steps.
# Writes to $OUT (default ./gpu-run): summary.txt (the short answer), run.log (everything), bench-gpu.json,
# large.json and the pictures to look at.
#
# Needs: python3 with torch (CUDA) and torchvision, pytest and pillow; the shared weights and images at
# $SHARED (default ../shared, a folder with weights/ and images/ as in CI; the tests read ../shared).
#
#     OUT=gpu-run SHARED=../shared bash scripts/gpu_check.sh
#     ONLY="1 2 3 4 5" OUT=gpu-run SHARED=../shared bash scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-run}
SHARED=${SHARED:-../shared}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 GRADIO_ANALYTICS_ENABLED=False
export NST_WEIGHTS="$SHARED/weights/vgg16-caffe-features.pth"
photo="$SHARED/images/tubingen.jpg" painting="$SHARED/images/starry_night.jpg"
ONLY=${ONLY:-all}
wanted() { [ "$ONLY" = all ] || [[ " $ONLY " == *" $1 "* ]]; }
step() { echo; echo "=== $*" | tee -a "$OUT/summary.txt"; }
# run LIMIT LINES COMMAND...: the command under a time limit, all of it into run.log, its last LINES lines
# into the summary too.
run() {
  local limit=$1 lines=$2; shift 2
  echo "\$ $*" >> "$OUT/run.log"
  timeout "$limit" "$@" > "$OUT/step.log" 2>&1
  local rc=$?
  cat "$OUT/step.log" >> "$OUT/run.log"
  tail -n "$lines" "$OUT/step.log" | tee -a "$OUT/summary.txt"
  [ "$rc" = 0 ] || echo "(exit $rc$([ "$rc" = 124 ] && echo ': over its time limit'))" | tee -a "$OUT/summary.txt"
}
started=$(date +%s)

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$OUT/summary.txt"
run 60 1 python3 -c "import torch, torchvision; print(torch.__version__, torchvision.__version__, torch.cuda.get_device_name())"

if wanted 1; then
step "1. the GPU tests (bf16 against fp32, CUDA out of memory, memory freed, no sync in a step, the step's graph)"
run 150 4 python3 -m pytest -q -rs -p no:cacheprovider tests/test_gpu.py
fi

if wanted 2; then
step "2. per step: the engine (graphed, and without its graph) against the textbook loop and the network alone"
run 180 14 python3 -m bench --device cuda --weights "$NST_WEIGHTS" --sizes 512 1024 2048 --steps 30 \
  --rounds 3 --json "$OUT/bench-gpu.json"
fi

if wanted 3; then
step "3. several visitors' jobs in one batch: the network alone and the engine's whole step, per image"
run 90 10 python3 -m bench.batching --device cuda --weights "$NST_WEIGHTS" --sizes 512 1024 --batch 4 --engine-steps 20
fi

if wanted 4; then
step "4. a visitor's wait: the first preview after Run, and the whole default run, at 256 and 512 px (warm)"
run 90 4 python3 - "$NST_WEIGHTS" "$photo" "$painting" <<'PY'
import sys, time
from nst_core import Settings, stylize_iter
from nst_core.backbones import load_backbone
weights, photo, painting = sys.argv[1:]
load_backbone(weights)  # the studio loads it once, before any visitor
for size in (256, 512, 256, 512):  # the first pair warms CUDA's kernels up; the second is reported
    start = time.perf_counter()
    first = None
    for event in stylize_iter(photo, painting, Settings(size=size, weights=weights, device="cuda")):
        if first is None and event.preview is not None:
            first = time.perf_counter() - start
    print(f"{size} px default run: first preview {first * 1e3:.0f} ms, whole run {time.perf_counter() - start:.2f} s"
          f" ({event.step} steps)")
PY
fi

if wanted 5; then
step "5. where a 512 px step goes (operator profile)"
run 60 25 python3 -m bench --device cuda --weights "$NST_WEIGHTS" --sizes 512 --steps 10 --rounds 1 --profile
fi

if wanted 6; then
step "6. the CLI's default run (512 px, 80 steps), as a newcomer runs it: wall time including start-up"
run 45 4 bash -c "time python3 -m nst_core '$photo' '$painting' -o '$OUT/cli-default.png' --quiet"
fi

if wanted 7; then
step "7. 4096 px: a whole default run (150 steps, coarse to fine), tiled (tile 1024) and untiled (tile 4096)"
run 200 4 python3 -m bench.large --device cuda --weights "$NST_WEIGHTS" --sizes 4096 --tile-sizes 1024 4096 \
  --whole --steps 150 --save "$OUT/large" --json "$OUT/large.json"
run 30 1 python3 - "$OUT" <<'PY'
import sys
from pathlib import Path
from PIL import Image
out = Path(sys.argv[1])
for png in sorted((out / "large").glob("*.png")):
    with Image.open(png) as image:
        image.convert("RGB").save(out / f"{png.stem}.jpg", quality=88)
        if "tile1024" in png.stem:  # full resolution where tiles meet, to look for seams
            image.crop((1536, 1024, 2560, 2048)).save(out / "crop-4096-tiled-centre.png")
    png.unlink()
(out / "large").rmdir()
print("pictures:", ", ".join(p.name for p in sorted(out.glob("*.jpg"))))
PY
fi

if wanted 8; then
step "8. the style losses' cost per step (bf16 network, losses in fp32)"
run 60 5 python3 -m bench.style_losses --device cuda --precision auto --weights "$NST_WEIGHTS" --sizes 512 1024 \
  --steps 20 --rounds 3
fi

rm -f "$OUT/step.log"
echo; echo "wrote $OUT/ in $(( $(date +%s) - started )) s" | tee -a "$OUT/summary.txt"
