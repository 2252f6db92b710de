package camera

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Kind is the kind of a frame source.
type Kind int

// Source kinds.
const (
	Device   Kind = iota // V4L2 device by path or index
	Stream               // RTSP or HTTP(S)/MJPEG URL
	File                 // video file
	Folder               // folder of images, sorted by name
	Pipeline             // GStreamer pipeline ending in appsink ("gst:…")
)

// String names the kind for logs and health reports.
func (k Kind) String() string {
	return [...]string{"device", "stream", "file", "folder", "gstreamer"}[k]
}

// Live reports whether frames arrive in real time (latest frame wins) rather
// than being pulled one after another (files and folders: nothing dropped).
func (k Kind) Live() bool { return k == Device || k == Stream || k == Pipeline }

// Source is a parsed source string.
type Source struct {
	Kind  Kind
	Raw   string // as given (for Pipeline, without the gst: prefix)
	Index int    // Device: the index when given as a number, else -1
}

// GstPrefix starts a source that is a GStreamer pipeline.
const GstPrefix = "gst:"

// ParseSource classifies s: "gst:" and a pipeline ending in appsink is a
// GStreamer pipeline, a bare number or a path under /dev/ (such as
// /dev/video0 or /dev/v4l/by-id/…) is a device,
// rtsp://, rtsps://, http:// and https:// are streams, a folder is an image
// folder, anything else must be an existing video file.
func ParseSource(s string) (Source, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Source{}, fmt.Errorf("source is empty")
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 {
			return Source{}, fmt.Errorf("source %q: device index is negative", s)
		}
		return Source{Kind: Device, Raw: s, Index: n}, nil
	}
	if strings.HasPrefix(s, GstPrefix) {
		pipe := strings.TrimSpace(strings.TrimPrefix(s, GstPrefix))
		if err := checkPipeline(pipe); err != nil {
			return Source{}, fmt.Errorf("source %q: %w", s, err)
		}
		return Source{Kind: Pipeline, Raw: pipe, Index: -1}, nil
	}
	lower := strings.ToLower(s)
	for _, p := range []string{"rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://"} {
		if strings.HasPrefix(lower, p) {
			return Source{Kind: Stream, Raw: s, Index: -1}, nil
		}
	}
	if strings.HasPrefix(s, "/dev/") {
		// V4L2 nodes, including the stable names under /dev/v4l/by-id and
		// /dev/v4l/by-path. They need not exist yet: an unplugged camera is
		// retried until it appears.
		if st, err := os.Stat(s); err == nil && st.IsDir() {
			return Source{}, fmt.Errorf("source %q: a folder under /dev is not a camera", s)
		}
		return Source{Kind: Device, Raw: s, Index: -1}, nil
	}
	st, err := os.Stat(s)
	if err != nil {
		return Source{}, fmt.Errorf("source %q: %w", s, err)
	}
	if st.IsDir() {
		return Source{Kind: Folder, Raw: s, Index: -1}, nil
	}
	return Source{Kind: File, Raw: s, Index: -1}, nil
}

// checkPipeline checks what can be checked of a GStreamer pipeline
// without starting it: it is not empty and its last element is an
// appsink, from which OpenCV takes the frames.
func checkPipeline(p string) error {
	if p == "" {
		return fmt.Errorf("the GStreamer pipeline is empty")
	}
	parts := strings.Split(p, "!")
	last := strings.Fields(parts[len(parts)-1])
	if len(last) == 0 || last[0] != "appsink" {
		return fmt.Errorf("the GStreamer pipeline must end in appsink, where OpenCV takes the frames (e.g. … ! videoconvert ! video/x-raw,format=BGR ! appsink drop=true max-buffers=1)")
	}
	return nil
}
