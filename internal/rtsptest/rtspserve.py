"""An RTSP server for edged's tests: GStreamer's RTSP server serving one
H.264 file (MP4 or MPEG-TS) at rtsp://127.0.0.1:PORT/cam, in real time,
to any number of clients over TCP or UDP.

It prints "ready PORT" once it listens and, for each client's stream,
"playing NS" with the wall-clock time (Unix nanoseconds) of the file's
time 0 by the pipeline's clock: frame k at F fps is sent at NS + k/F
seconds.
"""

import argparse
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    Gst.init(None)

    demux = "tsdemux" if args.file.endswith(".ts") else "qtdemux"
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( filesrc location={args.file} ! {demux} ! h264parse ! "
        "rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    factory.set_shared(False)

    def on_configure(_factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
        pay = media.get_element().get_by_name("pay0")
        pad = pay.get_static_pad("src")
        seen = [0]

        def probe(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
            # Buffers are sent when the pipeline's clock reaches their
            # running time (base time + PTS; a file's segment starts at 0),
            # so the wall-clock time of PTS 0 is now, moved by how far that
            # buffer's time is from the clock's. Taken a few buffers in,
            # once the stream plays (the first one passes at preroll).
            seen[0] += 1
            if seen[0] < 10:
                return Gst.PadProbeReturn.OK
            clock = pay.get_clock()
            buf = info.get_buffer()
            if clock is None or buf.pts == Gst.CLOCK_TIME_NONE:
                return Gst.PadProbeReturn.OK
            due = time.time_ns() + (pay.get_base_time() + buf.pts - clock.get_time())
            print(f"playing {due - buf.pts}", flush=True)
            return Gst.PadProbeReturn.REMOVE

        pad.add_probe(Gst.PadProbeType.BUFFER, probe)

    factory.connect("media-configure", on_configure)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    print(f"ready {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
