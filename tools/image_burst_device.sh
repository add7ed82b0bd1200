#!/usr/bin/env bash
# Image training burst on a lent GPU machine (docs/image.md, "Training on a lent GPU"):
# device run with command "bash tools/image_burst_device.sh" and carry ["burst"], after
# `python tools/image_burst.py pack`. Settings: MINUTES (7), BATCH (16), LR (5e-5); extra
# arguments go to tools/train_image.py (e.g. --half-blocks 1). Then the image conformance
# tests run there too: the golden files decoded on another CPU under another torch version.
set -uo pipefail
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    burst/wheels/*.whl || exit 1
export PYTHONPATH=/tmp/site
python3 tools/image_burst.py unpack --burst burst --data /tmp/burst_data || exit 1
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
python3 tools/train_image.py --device cuda --bf16 --data /tmp/burst_data --run /tmp/burst_run \
    --init models/weights/image-v1.safetensors --minutes "${MINUTES:-7}" --crop 256 \
    --batch "${BATCH:-16}" --lr "${LR:-5e-5}" --save-every 60 "$@"
tail -n 25 /tmp/burst_run/train.log
python3 tools/image_burst.py collect --run /tmp/burst_run --out "$OUT"
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/conformance/test_image_golden.py 2>&1 |
    tee "$OUT/conformance.log" | tail -n 15
lscpu | grep -E "Model name|Flags" | cut -c1-300 >> "$OUT/conformance.log"
python3 -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__)" \
    >> "$OUT/conformance.log"
