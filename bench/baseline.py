"""THE BASELINE - not part of edged.

The pipeline a user would usually write instead of running edged: OpenCV
capture and resize, the ai-edge-litert interpreter from PyPI, paho-mqtt
publish, one loop, written the plain idiomatic way. `make bench` runs it
beside edged on the same model, inputs and thread count (bench/cmd/bench)
and compares the two. Each result is a JSON message carrying the capture
time ("ts", like edged's payload) and the invoke time, so the harness can
measure latency from capture to the broker delivering to a subscriber.

    python bench/baseline.py --source video.avi --model model.tflite \
        --broker 127.0.0.1:1883 --topic baseline/cam0/result --threads 1
"""

import argparse
import datetime
import glob
import json
import os
import time
import zipfile

import cv2
import numpy as np
import paho.mqtt.client as mqtt
from ai_edge_litert.interpreter import Interpreter, OpResolverType


def frames(source):
    """Yields (capture time, BGR frame) from a video file or a photo folder."""
    if os.path.isdir(source):
        for path in sorted(glob.glob(os.path.join(source, "*"))):
            ts = datetime.datetime.now(datetime.timezone.utc)
            frame = cv2.imread(path)
            if frame is not None:
                yield ts, frame
        return
    cap = cv2.VideoCapture(source)
    while True:
        ts = datetime.datetime.now(datetime.timezone.utc)
        ok, frame = cap.read()
        if not ok:
            break
        yield ts, frame
    cap.release()


def load(model, threads, xnnpack=True):
    """The model's labels, its interpreter, and its input and output details.
    Labels ride in the model file's metadata (a zip appended to it).
    Without xnnpack the interpreter runs the runtime's own kernels."""
    with zipfile.ZipFile(model) as z:
        labels = z.read("labels.txt").decode().splitlines()
    if xnnpack:
        interpreter = Interpreter(model_path=model, num_threads=threads)
    else:
        interpreter = Interpreter(model_path=model, num_threads=threads,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    return labels, interpreter, interpreter.get_input_details()[0], interpreter.get_output_details()[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--broker", default="127.0.0.1:1883")
    p.add_argument("--topic", default="baseline/cam0/result")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--top-k", type=int, default=5)
    args = p.parse_args()

    labels, interpreter, inp, out = load(args.model, args.threads)
    height, width = inp["shape"][1], inp["shape"][2]
    scale, zero_point = out["quantization"]

    host, port = args.broker.rsplit(":", 1)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(host, int(port))
    client.loop_start()

    info = None
    for seq, (ts, frame) in enumerate(frames(args.source)):
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        x = cv2.resize(rgb, (width, height))
        interpreter.set_tensor(inp["index"], np.expand_dims(x, 0).astype(inp["dtype"]))
        t0 = time.perf_counter()
        interpreter.invoke()
        infer_ms = (time.perf_counter() - t0) * 1000
        scores = interpreter.get_tensor(out["index"])[0]
        if scale:
            scores = (scores.astype(np.float32) - zero_point) * scale
        top = np.argsort(scores)[::-1][: args.top_k]
        payload = {
            "seq": seq,
            "ts": ts.isoformat().replace("+00:00", "Z"),
            "labels": [
                {"label": labels[i], "index": int(i), "score": round(float(scores[i]), 4)}
                for i in top
            ],
            "latency_ms": {"infer": round(infer_ms, 3)},
        }
        info = client.publish(args.topic, json.dumps(payload), qos=1)
    if info is not None:
        info.wait_for_publish()
    client.loop_stop()
    client.disconnect()


if __name__ == "__main__":
    main()
