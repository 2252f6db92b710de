package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/samplevideo"
)

// openPTY opens a pseudo-terminal pair: the test reads the master, edged
// writes to the slave as to a terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// On a terminal `edged run` draws a live table (a line per camera with its
// top label) and keeps log lines under it, instead of scrolling JSON; the
// runtime's own chatter stays out.
func TestTerminalView(t *testing.T) {
	if testing.Short() {
		t.Skip("runs edged")
	}
	b := mqtttest.Start(t)
	video := filepath.Join(t.TempDir(), "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "orange.jpg")}, samplevideo.Options{Width: 224, Height: 224, FPS: 5, FramesPerPhoto: 5}); err != nil {
		t.Fatal(err)
	}
	master, slave := openPTY(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, _, _ := edged(t, ctx, "run", "--source", video, "--loop", "--fps", "5", "--broker", b.URL(), "--device", "till-1", "--camera", "front")
	cmd.Stdout, cmd.Stderr = slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var screen bytes.Buffer
	got := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			screen.Write(buf[:n])
			if err != nil {
				close(got)
				return
			}
		}
	}()
	time.Sleep(6 * time.Second) // a few redraws
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	slave.Close()
	master.Close() // ends the reader, if it still reads
	<-got
	out := screen.String()
	if !strings.Contains(out, "\x1b[H\x1b[2J") || !strings.Contains(out, "DEVICE") {
		t.Fatalf("no live table on the terminal:\n%q", tail(out))
	}
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "till-1 ") && strings.Contains(l, "orange") {
			row = l
		}
	}
	if f := strings.Fields(row); len(f) < 5 || f[1] != "front" || f[3] != "orange" {
		t.Errorf("no row for the camera with its label: %q\n%s", row, tail(out))
	}
	for _, bad := range []string{`{"time"`, `{"v":1`, "INFO: Created TensorFlow Lite", "XNNPACK delegate"} {
		if strings.Contains(out, bad) {
			t.Errorf("%q reached the terminal:\n%s", bad, tail(out))
		}
	}
	if !strings.Contains(out, "edged running") {
		t.Errorf("the log's latest lines are not under the table:\n%s", tail(out))
	}
}
