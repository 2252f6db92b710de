package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// broker is the mosquitto process every contender publishes to.
type broker struct {
	addr string
	cmd  *exec.Cmd
}

// startBroker runs mosquitto on a free loopback port, its config under dir.
func startBroker(dir string) (*broker, error) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
		if _, e := os.Stat(bin); e != nil {
			return nil, fmt.Errorf("mosquitto is not installed (apt-get install mosquitto): %w", err)
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	lines := []string{fmt.Sprintf("listener %d 127.0.0.1", port), "allow_anonymous true", "persistence false", "log_type error"}
	if os.Geteuid() == 0 {
		lines = append(lines, "user root")
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	b := &broker{addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: exec.Command(bin, "-c", conf)}
	b.cmd.Stderr = os.Stderr
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start mosquitto: %w", err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", b.addr, time.Second)
		if err == nil {
			c.Close()
			return b, nil
		}
		if time.Now().After(deadline) {
			b.stop()
			return nil, fmt.Errorf("mosquitto not listening on %s: %w", b.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *broker) stop() {
	if b.cmd.Process != nil {
		b.cmd.Process.Kill()
		b.cmd.Wait()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// sample is one result as the subscriber received it.
type sample struct {
	at      time.Time     // when the broker delivered it
	latency time.Duration // at minus the payload's capture time
	infer   time.Duration // the payload's invoke time
	stages  [3]float64    // capture, preprocess, infer in ms (edged's payload)
	total   time.Duration // edged's payload: the frame's read to the end of its inference
	cpu     float64       // the publisher's CPU seconds at delivery
}

// subscriber receives every result on bench/+/+/result and records when it came.
type subscriber struct {
	c   mqtt.Client
	mu  sync.Mutex
	got []sample
	pid int // the publisher whose CPU time is sampled
	err error
}

func subscribe(addr string) (*subscriber, error) {
	s := &subscriber{}
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("bench-subscriber").SetOrderMatters(true)
	s.c = mqtt.NewClient(opts)
	if t := s.c.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return nil, fmt.Errorf("subscriber connect %s: %v", addr, t.Error())
	}
	if t := s.c.Subscribe("bench/+/+/result", 1, s.on); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return nil, fmt.Errorf("subscribe: %v", t.Error())
	}
	return s, nil
}

// payload holds the fields of edged's and the baseline's results the
// bench reads.
type payload struct {
	TS      time.Time `json:"ts"`
	Latency struct {
		Capture    float64 `json:"capture"`
		Preprocess float64 `json:"preprocess"`
		Infer      float64 `json:"infer"`
		Total      float64 `json:"total"`
	} `json:"latency_ms"`
}

func (s *subscriber) on(_ mqtt.Client, m mqtt.Message) {
	now := time.Now()
	var p payload
	err := json.Unmarshal(m.Payload(), &p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.err = fmt.Errorf("payload on %s: %w", m.Topic(), err)
		return
	}
	cpu, _ := cpuSeconds(s.pid)
	s.got = append(s.got, sample{
		at: now, latency: now.Sub(p.TS), infer: time.Duration(p.Latency.Infer * float64(time.Millisecond)),
		stages: [3]float64{p.Latency.Capture, p.Latency.Preprocess, p.Latency.Infer}, cpu: cpu,
		total: time.Duration(p.Latency.Total * float64(time.Millisecond)),
	})
}

// reset forgets what was received and samples pid's CPU time from now on.
func (s *subscriber) reset(pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got, s.pid, s.err = nil, pid, nil
}

// received returns how many results came so far and any payload error.
func (s *subscriber) received() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got), s.err
}

func (s *subscriber) samples() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sample(nil), s.got...)
}

func (s *subscriber) close() { s.c.Disconnect(250) }

// cpuSeconds is the user plus system CPU time of process pid so far.
func cpuSeconds(pid int) (float64, error) {
	if pid == 0 {
		return 0, nil
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (in parentheses, may hold spaces):
	// state is field 3, utime 14 and stime 15.
	i := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return (ut + st) / clockTicks, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times on Linux.
const clockTicks = 100
