// Package rtsptest serves H.264 test videos over RTSP for edged's tests:
// GStreamer's RTSP server (Debian's gir1.2-gst-rtsp-server-1.0 through
// python3-gi) in a process of its own that a test can kill, restart on
// the same port, and freeze (SIGSTOP) to make a stream stall. Videos are
// made from real photos with ffmpeg.
package rtsptest

import (
	"bufio"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/testenv"
)

//go:embed rtspserve.py
var serverScript []byte

// python is Debian's interpreter, which has python3-gi (a python3 earlier
// in PATH, from pyenv say, may not).
const python = "/usr/bin/python3"

// Process is one RTSP server process serving one file at /cam.
type Process struct {
	Port int

	cmd     *exec.Cmd
	exited  chan struct{}
	mu      sync.Mutex
	playing []time.Time
}

// Launch starts the server (its script written into dir) serving file on
// port (0: a free one) and returns once it listens.
func Launch(dir, file string, port int) (*Process, error) {
	script := filepath.Join(dir, "rtspserve.py")
	if err := os.WriteFile(script, serverScript, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(python, script, "--file", file, "--port", strconv.Itoa(port))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the RTSP server: %w", err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	ready := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				continue
			}
			n, _ := strconv.ParseInt(f[1], 10, 64)
			switch f[0] {
			case "ready":
				ready <- int(n)
			case "playing":
				p.mu.Lock()
				p.playing = append(p.playing, time.Unix(0, n))
				p.mu.Unlock()
			}
		}
		cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.Port = <-ready:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("the RTSP server for %s exited before listening (python3-gi and gir1.2-gst-rtsp-server-1.0 installed?)", file)
	case <-time.After(20 * time.Second):
		p.Kill()
		return nil, fmt.Errorf("the RTSP server for %s did not listen within 20 s", file)
	}
}

// URL is the stream's address.
func (p *Process) URL() string { return fmt.Sprintf("rtsp://127.0.0.1:%d/cam", p.Port) }

// Playing returns, for each stream the server has started, the wall-clock
// time of its file's time 0: frame k at F fps is sent k/F seconds later.
func (p *Process) Playing() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.playing...)
}

// Kill ends the server at once (a frozen one too) and waits for it.
func (p *Process) Kill() {
	p.cmd.Process.Signal(syscall.SIGCONT)
	p.cmd.Process.Kill()
	<-p.exited
}

// Server is a Process a test controls: it can be killed, restarted on the
// same port and frozen.
type Server struct {
	t    testing.TB
	file string
	dir  string
	Port int

	mu      sync.Mutex
	proc    *Process
	playing []time.Time // of the processes before proc
}

// Start serves file (an H.264 .mp4 or .ts) at rtsp://127.0.0.1:PORT/cam;
// the server is killed when the test ends. A missing python3-gi or RTSP
// server skips the test (fails it under CI=true).
func Start(t testing.TB, file string) *Server {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer").CombinedOutput(); err != nil {
		testenv.Missing(t, "GStreamer's RTSP server missing (apt-get install python3-gi gir1.2-gst-rtsp-server-1.0): %v: %s", err, out)
	}
	s := &Server{t: t, file: file, dir: t.TempDir()}
	s.start(0)
	t.Cleanup(s.Kill)
	return s
}

// URL is the stream's address.
func (s *Server) URL() string { return fmt.Sprintf("rtsp://127.0.0.1:%d/cam", s.Port) }

func (s *Server) start(port int) {
	s.t.Helper()
	p, err := Launch(s.dir, s.file, port)
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.proc, s.Port = p, p.Port
	s.mu.Unlock()
}

// Kill ends the server at once (a camera sees the stream die); safe to
// call twice.
func (s *Server) Kill() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	p.Kill()
	s.mu.Lock()
	s.playing = append(s.playing, p.Playing()...)
	s.mu.Unlock()
}

// Restart starts the server again on the same port.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start(s.Port)
}

// Freeze stops the server process (SIGSTOP): its streams stall, its
// connections stay open.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw lets a frozen server go on (SIGCONT).
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.cmd.Process.Signal(sig)
	}
}

// Playing returns, for each stream the server (over its restarts) has
// started, the wall-clock time of its file's time 0.
func (s *Server) Playing() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]time.Time(nil), s.playing...)
	if s.proc != nil {
		out = append(out, s.proc.Playing()...)
	}
	return out
}

// Segment is one part of a test video: a photo held for Seconds at a
// frame size.
type Segment struct {
	Photo         string
	Width, Height int
	Seconds       float64
}

// Video encodes the segments, in order, into an H.264 file at path (.mp4
// or .ts) at fps frames per second with a key frame every gop frames.
// Light temporal noise keeps the bit rate of a still photo near a real
// camera's. Segments of different sizes make a stream that changes
// resolution (.ts only: MP4 holds one size).
func Video(t testing.TB, path string, fps, gop int, segs ...Segment) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		testenv.Missing(t, "ffmpeg missing (apt-get install ffmpeg): %v", err)
	}
	var parts []string
	for i, sg := range segs {
		part := filepath.Join(t.TempDir(), fmt.Sprintf("part%d.ts", i))
		vf := fmt.Sprintf("scale=%d:%d:force_original_aspect_ratio=decrease,pad=%d:%d:(ow-iw)/2:(oh-ih)/2,setsar=1,noise=alls=8:allf=t,format=yuv420p",
			sg.Width, sg.Height, sg.Width, sg.Height)
		args := []string{"-loglevel", "error", "-y", "-loop", "1", "-framerate", strconv.Itoa(fps), "-t", strconv.FormatFloat(sg.Seconds, 'f', -1, 64),
			"-i", sg.Photo, "-vf", vf, "-r", strconv.Itoa(fps), "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
			"-g", strconv.Itoa(gop), "-keyint_min", strconv.Itoa(gop), "-sc_threshold", "0", "-bf", "0",
			"-output_ts_offset", strconv.FormatFloat(offset(segs[:i]), 'f', -1, 64), part}
		if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %s: %v: %s", strings.Join(args, " "), err, out)
		}
		parts = append(parts, part)
	}
	args := []string{"-loglevel", "error", "-y", "-i", "concat:" + strings.Join(parts, "|"), "-c", "copy"}
	if strings.HasSuffix(path, ".mp4") {
		args = append(args, "-movflags", "+faststart")
	}
	args = append(args, path)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// offset is how long the segments last together.
func offset(segs []Segment) float64 {
	var s float64
	for _, sg := range segs {
		s += sg.Seconds
	}
	return s
}
