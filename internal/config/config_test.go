package config

import (
	_ "embed"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

//go:embed sample.yaml
var sample []byte

func TestSampleLoads(t *testing.T) {
	c, err := Parse(sample, "sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Cameras[0].FPS != 5 || c.Broker.QoS != 1 || c.Models[0].TopK != 5 || c.Cameras[0].Reconnect.Max != 30*time.Second {
		t.Errorf("sample decoded as %+v", c)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte("cameras:\n  - name: a\n    source: /dev/video0\n  - name: b\n    source: x.mp4\n    fps: 2\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Broker.TopicPrefix != "edged" || c.Broker.QoS != 1 || c.Broker.KeepAlive != 30*time.Second {
		t.Errorf("broker defaults %+v", c.Broker)
	}
	if len(c.Models) != 1 || c.Models[0].Name != "default" || c.Cameras[1].Model != "default" {
		t.Errorf("model defaults %+v %+v", c.Models, c.Cameras[1])
	}
	if c.Cameras[1].Resize != "stretch" || c.Cameras[1].Publish.Smoothing != 1 || c.Cameras[1].FPS != 2 {
		t.Errorf("camera defaults %+v", c.Cameras[1])
	}
}

func TestExplicitZeroKept(t *testing.T) {
	c, err := Parse([]byte("broker: {qos: 0}\ncameras: [{name: a, source: '0'}]\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Broker.QoS != 0 {
		t.Errorf("qos %d, want the explicit 0", c.Broker.QoS)
	}
}

func TestErrorsNameFieldAndLine(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"cameras:\n  - name: a\n    source: x\n    fsp: 3\n", "t.yaml:4: cameras[0].fsp: unknown key"},
		{"cameras:\n  - name: a\n    source: x\n    fps: fast\n", "t.yaml:4: cameras[0].fps: \"fast\" is not a number"},
		{"cameras:\n  - name: a\n    source: x\n  - name: b\n    source: y\n    fps: -1\n", "t.yaml:6: cameras[1].fps: -1 is negative"},
		{"broker:\n  qos: 3\ncameras: [{name: a, source: x}]\n", "t.yaml:2: broker.qos: 3 is not 0, 1 or 2"},
		{"broker:\n  keepalive: soon\ncameras: [{name: a, source: x}]\n", "t.yaml:2: broker.keepalive: \"soon\" is not a duration"},
		{"cameras:\n  - name: a/b\n    source: x\n", "t.yaml:2: cameras[0].name"},
		{"cameras:\n  - name: a\n    source: x\n    model: nope\n", "t.yaml:4: cameras[0].model: no model named \"nope\""},
		{"cameras:\n  - name: a\n    source: x\n    resize: zoom\n", "cameras[0].resize: \"zoom\" is not one of"},
		{"cameras:\n  - name: a\n    source: x\n  - name: a\n    source: y\n", "t.yaml:4: cameras[1].name: camera \"a\" is defined twice"},
		{"cameras: 3\n", "t.yaml:1: cameras: want a list"},
		{"models:\n  - name: m\n    std: [0, 1, 1]\n    mean: [1,1,1]\ncameras: [{name: a, source: x}]\n", "models[0].std[0]: 0 is not positive"},
		{"cameras:\n  - name: a\n    source: x\n    loop: maybe\n", "t.yaml:4: cameras[0].loop: \"maybe\" is not true or false"},
		{"device: ok\n", "cameras: no cameras configured"},
		{"cameras: [\n", "t.yaml"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yaml), "t.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error containing %q", c.yaml, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add([]byte("cameras: [{name: a, source: x, fps: 1e9}]"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "fuzz.yaml" {
				t.Fatalf("error %v is not a *config.Error naming the file", err)
			}
			return
		}
		if len(c.Cameras) == 0 {
			t.Fatal("accepted a config without cameras")
		}
		// What Parse accepts, Validate accepts too, and every camera's
		// model exists.
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
		for _, cam := range c.Cameras {
			found := false
			for _, m := range c.Models {
				found = found || m.Name == cam.Model
			}
			if !found {
				t.Fatalf("camera %q refers to missing model %q", cam.Name, cam.Model)
			}
		}
	})
}

// TestRelativePathsFollowTheFile: Load resolves a file's relative paths
// against the folder that holds it, not the working directory, and leaves
// absolute paths, device numbers, /dev paths and URLs alone.
func TestRelativePathsFollowTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "conf", "edged.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	doc := `state_dir: state
broker: {url: "ssl://127.0.0.1:8883", password_file: secret/pw, tls: {ca_file: ../ca.pem}}
queue: {path: /var/tmp/q.db}
models:
  - {name: m, path: models/m.tflite, labels: labels.txt}
cameras:
  - {name: a, source: videos/a.mp4, model: m}
  - {name: b, source: "0", model: m}
  - {name: c, source: /dev/video2, model: m}
  - {name: d, source: "rtsp://cam/stream", model: m}
  - {name: e, source: ./images, model: m}
`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "conf")
	for name, got := range map[string][2]string{
		"state_dir":            {c.StateDir, filepath.Join(conf, "state")},
		"broker.password_file": {c.Broker.PasswordFile, filepath.Join(conf, "secret/pw")},
		"broker.tls.ca_file":   {c.Broker.TLS.CAFile, filepath.Join(dir, "ca.pem")},
		"queue.path":           {c.Queue.Path, "/var/tmp/q.db"},
		"models[0].path":       {c.Models[0].Path, filepath.Join(conf, "models/m.tflite")},
		"models[0].labels":     {c.Models[0].Labels, filepath.Join(conf, "labels.txt")},
		"cameras[0].source":    {c.Cameras[0].Source, filepath.Join(conf, "videos/a.mp4")},
		"cameras[1].source":    {c.Cameras[1].Source, "0"},
		"cameras[2].source":    {c.Cameras[2].Source, "/dev/video2"},
		"cameras[3].source":    {c.Cameras[3].Source, "rtsp://cam/stream"},
		"cameras[4].source":    {c.Cameras[4].Source, filepath.Join(conf, "images")},
		"broker.tls.cert_file": {c.Broker.TLS.CertFile, ""},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %q, want %q", name, got[0], got[1])
		}
	}
}
