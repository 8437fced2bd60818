#!/usr/bin/env bash
# The prepared run for a lent GPU machine (issues 15, 19, 27): what the CPU cannot measure.
#
# One part per call, each finished within 9 minutes (a lent machine gives 10 per command):
#   PART=camera  the camera-size path (adds export --camera-size) against the host path per
#                backend: ONNX Runtime (CUDA provider), PyTorch fp32 and fp16 + CUDA graph,
#                TensorRT where it is usable -> camera.json, camera.log
#   PART=bench   adds bench: inference (torch backend against the best PyTorch variant),
#                pipeline share at 1280x960, host traffic, training step -> bench/, bench.log
#   PART=ablate  adds ablate rows and table -> ablation.{md,json}, ablation.log
#   PART=check   only the package check below
# Every part first checks the Python packages it needs and names the missing ones (exit 3);
# nothing is downloaded (the machine has no network). The package itself is installed with
# --no-deps into $WORK (a real install registers the entry points: the torch backend, adds).
# Results go under $OUT; $WORK does not survive the machine.
#
# Dry run on a CPU (CI runs the camera part: test/test_gpu_measure.py):
#   SIZE=tiny PART=camera OUT=/tmp/gpu_out scripts/gpu_measure.sh
set -uo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
OUT=${OUT:-/tmp/gpu_out}
WORK=${WORK:-/tmp/adds_gpu}
SIZE=${SIZE:-full}
PART=${PART:-}
PY=${PYTHON:-python3}
BOX_S=${BOX_S:-540}          # the whole call, install and check included: 9 minutes
STEPS=${STEPS:-600}
RUNS=${RUNS:-monodepth2_day monodepth2_cyclegan adds_cyclegan_reference_balance
      adds_exact_reference_balance}

case "$PART" in
    camera|bench|ablate|check) ;;
    *) echo "gpu_measure: set PART to one of camera, bench, ablate, check (one part per call:" \
            "each fits one 10-minute command), got '${PART}'" >&2
       exit 2 ;;
esac

# module to import -> what provides it
declare -A PROVIDES=([numpy]=numpy [cv2]=opencv-python-headless [yaml]=PyYAML [tqdm]=tqdm
                     [onnx]=onnx [onnxruntime]=onnxruntime [onnxscript]=onnxscript
                     [torch]=torch [psutil]=psutil [tensorboard]=tensorboard [pip]=pip)
needed=(numpy cv2 yaml tqdm onnx onnxruntime onnxscript torch pip)
[ "$PART" = bench ] && needed+=(psutil)
[ "$PART" = ablate ] && needed+=(tensorboard)
missing=$("$PY" - "${needed[@]}" <<'EOF'
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001 - any failure to import means "not usable here"
        print(name)
EOF
)
if [ -n "$missing" ]; then
    names=$(for m in $missing; do printf '%s ' "${PROVIDES[$m]:-$m}"; done)
    echo "gpu_measure: PART=$PART needs Python packages that are missing: ${names% }" >&2
    exit 3
fi
echo "gpu_measure: packages for PART=$PART present (${needed[*]})"
[ "$PART" = check ] && exit 0

mkdir -p "$OUT" "$WORK"
"$PY" -m pip install -q --no-deps --no-build-isolation --no-index --target "$WORK/site" . \
    || { echo "gpu_measure: installing the package failed" >&2; exit 1; }
export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
cuda=$("$PY" -c 'import torch; print(int(torch.cuda.is_available()))')
echo "gpu_measure: torch CUDA available: $cuda"
left=$(( BOX_S - (SECONDS - started) - 10 ))   # what remains of the box for the part
[ "$left" -gt 30 ] || { echo "gpu_measure: no time left for PART=$PART" >&2; exit 1; }

if [ "$SIZE" = tiny ]; then
    camera=(--device cpu --camera 192x128 --network 128x64 --iterations 3 --warmup 1)
    bench=(--quick --skip transport fuzz --train-size 64x128 --train-batch 2 --train-steps 2)
    ablate=(--height 64 --width 64 --steps 4 --frames 6 --cyclegan-steps 2 --seeds 0
            --parallel 2 --only monodepth2_day adds_cyclegan)
else
    device=cpu
    [ "$cuda" = 1 ] && device=cuda
    # the issue's shapes: 512x256 network, 1280x960 camera, training batch 6 at 512x256
    camera=(--device "$device" --camera 1280x960 --network 512x256 --iterations 50)
    bench=(--skip transport fuzz --sizes 256x512 --iterations 50 --train-size 256x512
           --train-batch 6 --train-steps 20 --train-warmup 3)
    # the core comparison (docs/results.md), 128x256, one seed per group; one GPU shared
    # shellcheck disable=SC2206
    ablate=(--height 128 --width 256 --steps "$STEPS" --seeds 0 --parallel 8 --only $RUNS)
fi

case "$PART" in
    camera)
        timeout "$left" "$PY" -m adds_training.tools.bench.camera_path "${camera[@]}" \
            --work "$WORK/camera" --out "$OUT/camera.json" > "$WORK/camera.log" 2>&1
        status=$?
        tail -c 20000 "$WORK/camera.log" > "$OUT/camera.log" ;;
    bench)
        timeout "$left" "$PY" -m adds_ros.cli bench "${bench[@]}" --out "$OUT/bench" \
            --work "$WORK/bench" > "$WORK/bench.log" 2>&1
        status=$?
        tail -c 20000 "$WORK/bench.log" > "$OUT/bench.log" ;;
    ablate)
        timeout "$left" "$PY" -m adds_ros.cli ablate --prepare --data "$WORK/ablation/synth" \
            --cyclegan-data "$WORK/ablation/synth_cg" --out "$WORK/ablation/out" \
            "${ablate[@]}" --results "$OUT/ablation.json" --table "$OUT/ablation.md" \
            --learned-below 0.4 > "$WORK/ablation.log" 2>&1
        status=$?
        tail -c 20000 "$WORK/ablation.log" > "$OUT/ablation.log" ;;
esac
echo "gpu_measure: PART=$PART exit $status after $(( SECONDS - started )) s" \
     "(124: the ${BOX_S} s box was reached)"
ls -l "$OUT"
exit "$status"
