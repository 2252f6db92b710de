"""THE LIVE BASELINE - not part of edged.

The loop a user writes in ten minutes for a live camera: OpenCV reads
every frame of the stream (it must, or its buffer fills with old frames),
and every 1/FPS seconds the newest one is classified with the
ai-edge-litert interpreter from PyPI. Each result is printed as a JSON
line with its capture time ("ts") and top-1 label, which `make bench`'s
live-stream section (bench/cmd/bench/live.go) reads.

    python bench/live_baseline.py --source rtsp://127.0.0.1:8554/cam \
        --model model.tflite --fps 1 --threads 1
"""

import argparse
import datetime
import json
import sys
import time

import cv2
import numpy as np

from baseline import load  # bench/baseline.py, beside this script


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--fps", type=float, default=1.0, help="results per second; 0 = every frame")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--xnnpack", choices=["on", "off"], default="on",
                   help="off: the runtime's own kernels (slower: inference slower than the stream)")
    args = p.parse_args()

    labels, interpreter, inp, out = load(args.model, args.threads, args.xnnpack == "on")
    height, width = inp["shape"][1], inp["shape"][2]

    cap = cv2.VideoCapture(args.source)
    period = 1.0 / args.fps if args.fps > 0 else 0.0
    due = 0.0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        # Captured when the read returned it, as edged stamps a live frame.
        ts = datetime.datetime.now(datetime.timezone.utc)
        now = time.monotonic()
        if now < due:
            continue
        due = max(due + period, now) if period else now
        x = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), (width, height))
        interpreter.set_tensor(inp["index"], np.expand_dims(x, 0).astype(inp["dtype"]))
        t0 = time.perf_counter()
        interpreter.invoke()
        infer_ms = (time.perf_counter() - t0) * 1000
        scores = interpreter.get_tensor(out["index"])[0]
        top = int(np.argmax(scores))
        line = {"ts": ts.isoformat().replace("+00:00", "Z"), "labels": [{"label": labels[top]}],
                "latency_ms": {"infer": round(infer_ms, 3)}}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
    cap.release()


if __name__ == "__main__":
    main()
