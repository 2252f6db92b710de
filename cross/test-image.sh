#!/bin/sh
# test-image.sh: the edged image for $ARCH ($IMAGE, a docker-archive made
# by cross/image.sh) loaded and run with podman (for arm64 under
# qemu-user through binfmt_misc), on the host network, against a
# mosquitto on the host's loopback:
#   - it runs as the edged user (uid 970), not root;
#   - a mounted config is read from /etc/edged/edged.yaml, and the demo
#     video bundled in the image is classified: the six known classes
#     arrive as top-1 labels;
#   - the image's health check passes, the queue is written in the
#     /var/lib/edged volume;
#   - `podman stop` (SIGTERM, a 10 s grace period) ends it cleanly: exit
#     status 0, "edged stopping" logged, no SIGKILL needed;
#   - the bundled default config passes check-config;
#   - a camera stream (GStreamer's RTSP server on the host serving H.264
#     made here from a real photo, a key frame a second) at 1 fps is
#     decoded key frames only through the image's GStreamer plugins: its
#     results arrive, and /healthz says decode keyframes through gstreamer.
set -eu

arch=${ARCH:?ARCH=amd64 or arm64}
image=${IMAGE:?IMAGE=the image archive}
[ "$(id -u)" = 0 ] || { echo "test-image: needs root"; exit 1; }
. cross/podman-env.sh
. cross/binfmt.sh
need_binfmt "$arch" test-image
t0=$(date +%s)
tag=$(pm load -q -i "$image" | sed -n 's/^Loaded image[^:]*: *//p' | tail -1)
[ -n "$tag" ] || { echo "test-image: loading $image gave no image" >&2; exit 1; }
echo "test-image: $tag loaded"
[ "$(pm image inspect --format '{{.Architecture}}' "$tag")" = "$arch" ] || { echo "FAIL: the image is not $arch"; exit 1; }
for label in version source licenses revision; do
	v=$(pm image inspect --format "{{index .Labels \"org.opencontainers.image.$label\"}}" "$tag")
	[ -n "$v" ] || { echo "FAIL: no org.opencontainers.image.$label label"; exit 1; }
done

name=edged-test-$arch-$$
vol=edged-state-$arch-$$
work=$(mktemp -d "$img_dir/test.XXXXXX")
broker=""
sub=""
gsub=""
rtspd=""
cleanup() {
	[ -n "$sub" ] && kill "$sub" 2>/dev/null || true
	[ -n "$gsub" ] && kill "$gsub" 2>/dev/null || true
	[ -n "$rtspd" ] && kill "$rtspd" 2>/dev/null || true
	[ -n "$broker" ] && kill "$broker" 2>/dev/null || true
	pm rm -f -t 0 "$name" >/dev/null 2>&1 || true
	pm volume rm -f "$vol" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The bundled default config is valid, and read as the edged user.
pm run --rm --network none "$tag" check-config --config /etc/edged/edged.yaml
[ "$(pm run --rm --network none --entrypoint /usr/bin/id "$tag" -u)" = 970 ] || { echo "FAIL: not uid 970"; exit 1; }
pm run --rm --network none --entrypoint /usr/bin/id "$tag" -Gn | grep -qw video || { echo "FAIL: edged is not in the video group"; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
http=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nlog_type error\n' "$port" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" & broker=$!
for _ in $(seq 50); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
	sleep 0.2
done
photo=/usr/share/doc/opencv-doc/examples/data/orange.jpg
ffmpeg -nostdin -loglevel error -y -loop 1 -framerate 30 -t 40 -i "$photo" \
	-vf 'scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:(ow-iw)/2:(oh-ih)/2,format=yuv420p' \
	-c:v libx264 -preset veryfast -g 30 -keyint_min 30 -sc_threshold 0 -bf 0 -movflags +faststart "$work/gate.mp4"
/usr/bin/python3 internal/rtsptest/rtspserve.py --file "$work/gate.mp4" > "$work/rtsp.out" 2>&1 & rtspd=$!
rtsp=""
for _ in $(seq 100); do
	rtsp=$(sed -n 's/^ready //p' "$work/rtsp.out")
	[ -n "$rtsp" ] && break
	sleep 0.1
done
[ -n "$rtsp" ] || { echo "FAIL: the RTSP server did not start"; cat "$work/rtsp.out"; exit 1; }
cat > "$work/edged.yaml" <<CONF
device: imagetest
http: {addr: "127.0.0.1:$http"}
broker: {url: "tcp://127.0.0.1:$port"}
cameras:
  - {name: demo, source: /usr/share/edged/samples/demo.avi, resize: center-crop, loop: true, fps: 10}
  - {name: gate, source: "rtsp://127.0.0.1:$rtsp/cam", resize: center-crop, fps: 1}
CONF
chmod 0644 "$work/edged.yaml"
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'edged/imagetest/gate/result' -C 3 -W 600 > "$work/gate" & gsub=$!
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'edged/imagetest/demo/result' -C 36 -W 600 > "$work/results" & sub=$!

echo "test-image: running $tag on the host network -> tcp://127.0.0.1:$port"
# The image's HEALTHCHECK asks 127.0.0.1:9464; on the host network the
# test's edged listens on a free port instead, so the same command is
# given that address.
hc=$(pm image inspect --format '{{.HealthCheck.Test}}' "$tag")
case "$hc" in *"/usr/bin/edged healthcheck"*) ;; *) echo "FAIL: image health check is $hc"; exit 1;; esac
pm run -d --name "$name" --network host --health-cmd "/usr/bin/edged healthcheck --url http://127.0.0.1:$http/healthz" -v "$work/edged.yaml:/etc/edged/edged.yaml:ro" \
	-v "$vol:/var/lib/edged" "$tag" >/dev/null
wait "$sub" || { echo "FAIL: fewer than 36 results"; pm logs "$name" | tail -20; exit 1; }
sub=""
python3 - "$work/results" <<'PY'
import json, sys, collections
top = collections.Counter(json.loads(l)["labels"][0]["label"] for l in open(sys.argv[1]))
print("results:", sum(top.values()), dict(top))
missing = {"space shuttle", "orange", "Granny Smith", "baboon", "monarch", "fox squirrel"} - set(top)
if missing:
    sys.exit("FAIL: top-1 classes missing: %s" % sorted(missing))
PY
wait "$gsub" || { echo "FAIL: fewer than 3 results from the RTSP camera"; pm logs "$name" | grep gate | tail -20; exit 1; }
gsub=""
python3 - "$work/gate" "http://127.0.0.1:$http/healthz" <<'PY'
import json, sys, urllib.request
top = [json.loads(l)["labels"][0]["label"] for l in open(sys.argv[1])]
print("RTSP camera results:", top)
if "orange" not in top:
    sys.exit("FAIL: the RTSP camera's photo (orange) is not a top-1 label")
def statuses(v):
    if isinstance(v, dict):
        if "decoder" in v:
            yield v
        for x in v.values():
            yield from statuses(x)
    elif isinstance(v, list):
        for x in v:
            yield from statuses(x)
got = [(s.get("decode"), s.get("decoder")) for s in statuses(json.load(urllib.request.urlopen(sys.argv[2], timeout=10)))]
if ("keyframes", "gstreamer") not in got:
    sys.exit("FAIL: /healthz has no stream decoded key frames only through GStreamer: %s" % got)
print("RTSP camera: key frames through GStreamer")
PY
if ! pm healthcheck run "$name"; then
	echo "FAIL: the health check does not pass; the check run by hand:"
	pm exec "$name" /usr/bin/edged healthcheck --url "http://127.0.0.1:$http/healthz" || true
	pm logs "$name" | tail
	exit 1
fi
echo "test-image: health check passes ($(pm inspect --format '{{.State.Health.Status}}' "$name" 2>/dev/null || true))"
[ "$(pm exec "$name" /usr/bin/id -u)" = 970 ] || { echo "FAIL: edged runs as $(pm exec "$name" /usr/bin/id -u)"; exit 1; }
pm exec "$name" sh -c 'ls /var/lib/edged/queue-*.db' >/dev/null || { echo "FAIL: no queue in /var/lib/edged"; exit 1; }

s=$(date +%s)
pm stop -t 10 "$name" >/dev/null
took=$(( $(date +%s) - s ))
code=$(pm inspect --format '{{.State.ExitCode}}' "$name")
pm logs "$name" > "$work/log" 2>&1
grep -q '"msg":"edged stopping"' "$work/log" || { echo "FAIL: no clean stop logged"; tail "$work/log"; exit 1; }
[ "$code" = 0 ] || { echo "FAIL: exit status $code after podman stop"; tail "$work/log"; exit 1; }
[ "$took" -lt 10 ] || { echo "FAIL: podman stop took $took s: edged outlived the grace period"; exit 1; }
echo "test-image: stopped cleanly in $took s (exit 0)"
echo "ok: the $arch image ran as edged, classified the demo video and an RTSP stream's key frames (GStreamer) to the host's mosquitto, passed its health check and stopped cleanly ($(( $(date +%s) - t0 )) s)"
