package nativelog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"syscall"
	"testing"
)

// TestCapture: what is written straight to descriptor 2, as a C library
// does, reaches the logger as records at the level of each line, lines
// written before the logger was set included, and descriptor 2 is given
// back at Close.
func TestCapture(t *testing.T) {
	c, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	write := func(s string) {
		if _, err := syscall.Write(2, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
	var buf bytes.Buffer
	c.SetLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	write("ERROR: tensor type mismatch\n")
	write("[h264 @ 0x5581] error while decoding MB 1 2\r\n")
	write(strings.Repeat("x", 3*MaxLine) + "\n")
	write("no newline at the end")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	type rec struct{ Level, Msg, From string }
	var got []rec
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r rec
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		got = append(got, r)
	}
	want := []rec{
		{"DEBUG", "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.", "native"},
		{"WARN", "ERROR: tensor type mismatch", "native"},
		{"DEBUG", "[h264 @ 0x5581] error while decoding MB 1 2", "native"},
		{"DEBUG", strings.Repeat("x", MaxLine), "native"},
		{"DEBUG", "no newline at the end", "native"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// Descriptor 2 is the original standard error again.
	var now, orig syscall.Stat_t
	if err := syscall.Fstat(2, &now); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Fstat(int(c.Stderr().Fd()), &orig); err != nil {
		t.Fatal(err)
	}
	if now.Dev != orig.Dev || now.Ino != orig.Ino {
		t.Error("descriptor 2 is not the original standard error after Close")
	}
}

func TestLevel(t *testing.T) {
	for line, want := range map[string]slog.Level{
		"INFO: Initialized TensorFlow Lite runtime.":                                    slog.LevelDebug,
		"WARNING: Attempting to use a delegate that only supports static-sized tensors": slog.LevelDebug,
		"ERROR: Didn't find op for builtin opcode":                                      slog.LevelWarn,
		"[ERROR:0@0.010] global cap.cpp:164 open VIDEOIO":                               slog.LevelWarn,
		"[ WARN:0@0.010] global cap_gstreamer.cpp:1405 open":                            slog.LevelDebug,
		"E1202 07:00:00.000000 1234 model.cc:12] bad flatbuffer":                        slog.LevelWarn,
		"I1202 07:00:00.000000 1234 model.cc:12] loaded":                                slog.LevelDebug,
		`[ WARN:0@0.025] global ./modules/videoio/src/cap_gstreamer.cpp (1127) open OpenCV | GStreamer warning: Error opening bin: no element "nvv4l2decoder"`: slog.LevelWarn,
		"Every day": slog.LevelDebug,
	} {
		if got := Level(line); got != want {
			t.Errorf("Level(%q) = %v, want %v", line, got, want)
		}
	}
}
