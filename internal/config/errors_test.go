package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// cam is a valid camera list to append to documents that test other fields.
const cam = "cameras:\n  - name: a\n    source: x\n"

// TestEveryErrorPath checks that each check in the parser and in validate
// reports the field path and the line of the offending value.
func TestEveryErrorPath(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		field string
		line  int
		msg   string
	}{
		// decoding: unknown keys, duplicates and types
		{"unknown top key", "devise: x\n" + cam, "devise", 1, `unknown key "devise" (did you mean "device"?)`},
		{"swapped letters", cam + "    fsp: 3\n", "cameras[0].fsp", 4, `unknown key "fsp" (did you mean "fps"?)`},
		{"unknown key far from any", "colour_space: x\n" + cam, "colour_space", 1, `unknown key "colour_space"`},
		{"unknown nested key", "broker:\n  tls:\n    ca: x\n" + cam, "broker.tls.ca", 3, `unknown key "ca"`},
		{"key twice", "device: a\ndevice: b\n" + cam, "device", 2, `given twice`},
		{"mapping for a string", "device: {a: 1}\n" + cam, "device", 1, "want a string value, got a mapping"},
		{"list for a struct", "broker: [1]\n" + cam, "broker", 1, "want a mapping of keys, got a list"},
		{"bool for a string", "device: true\n" + cam, "device", 1, `"true" is not a string`},
		{"string for an int", "broker:\n  qos: one\n" + cam, "broker.qos", 2, `"one" is not a whole number`},
		{"float for an int", "broker:\n  qos: 1.5\n" + cam, "broker.qos", 2, `"1.5" is not a whole number`},
		{"int overflow", "models:\n  - top_k: 99999999999999999999\n" + cam, "models[0].top_k", 2, "is not a whole number"},
		{"string for a bool", "broker:\n  retain: yes\n" + cam, "broker.retain", 2, `"yes" is not true or false`},
		{"infinite float", cam + "    fps: .inf\n", "cameras[0].fps", 4, `".inf" is not a number`},
		{"NaN float", "models:\n  - threshold: .nan\n" + cam, "models[0].threshold", 2, `".nan" is not a number`},
		{"float out of range", cam + "    fps: 1e400\n", "cameras[0].fps", 4, "is not a number"},
		{"list of lists for floats", "models:\n  - mean: [[1]]\n" + cam, "models[0].mean[0]", 2, "want a float64 value, got a list"},
		{"mapping for a list", "cameras: {name: a}\n", "cameras", 1, "want a list, got a mapping"},
		{"duration without unit", "broker:\n  keepalive: 30\n" + cam, "broker.keepalive", 2, `"30" is not a duration`},
		{"negative duration", cam + "    reconnect: {initial: -1s}\n", "cameras[0].reconnect.initial", 4, `"-1s" is not a duration`},
		{"list for a duration", cam + "    publish:\n      heartbeat: [1s]\n", "cameras[0].publish.heartbeat", 5, "want a duration"},

		// values: top level, log, http
		{"device with a slash", "device: a/b\n" + cam, "device", 1, "may only hold letters"},
		{"device with a wildcard", "device: 'a+'\n" + cam, "device", 1, "may only hold letters"},
		{"log level", "log:\n  level: loud\n" + cam, "log.level", 2, `"loud" is not one of debug, info, warn, error`},
		{"log format", "log: {format: xml}\n" + cam, "log.format", 1, `"xml" is not one of auto, json, text`},
		{"http addr", "http:\n  addr: nowhere\n" + cam, "http.addr", 2, `"nowhere" is not host:port`},

		// broker
		{"qos", "broker:\n  qos: -1\n" + cam, "broker.qos", 2, "-1 is not 0, 1 or 2"},
		{"topic prefix wildcard", "broker:\n  topic_prefix: 'a/#'\n" + cam, "broker.topic_prefix", 2, "without wildcards"},
		{"topic prefix slash", "broker:\n  topic_prefix: /edged\n" + cam, "broker.topic_prefix", 2, "leading/trailing"},
		{"topic prefix empty", "broker:\n  topic_prefix: ''\n" + cam, "broker.topic_prefix", 2, "must be non-empty"},
		{"url without scheme", "broker:\n  url: localhost:1883\n" + cam, "broker.url", 2, "needs a scheme"},
		{"url scheme", "broker:\n  url: http://h\n" + cam, "broker.url", 2, `"http" is not one of`},
		{"two secrets", "broker:\n  url: ssl://h:8883\n  password: x\n  password_file: /p\n" + cam, "broker.password_file", 4, "only one of"},
		{"credential path", "broker:\n  password_credential: ../etc/shadow\n" + cam, "broker.password_credential", 2, "not a path"},
		{"tls without ssl url", "broker:\n  url: tcp://h:1883\n  tls:\n    ca_file: ca.pem\n" + cam, "broker.tls", 3, "TLS settings need an ssl://"},
		{"tls with the embedded broker", "broker:\n  tls: {insecure_skip_verify: true}\n" + cam, "broker.tls", 2, "TLS settings need"},
		{"cert without key", "broker:\n  url: ssl://h:8883\n  tls:\n    cert_file: c.pem\n" + cam, "broker.tls.cert_file", 4, "go together"},
		{"embedded addr on the network", "broker:\n  embedded_addr: 0.0.0.0:1883\n" + cam, "broker.embedded_addr", 2, "not a loopback address"},
		{"embedded addr", "broker:\n  embedded_addr: 1883\n" + cam, "broker.embedded_addr", 2, `"1883" is not host:port`},
		{"keepalive", "broker:\n  keepalive: 10ms\n" + cam, "broker.keepalive", 2, "shorter than 1s"},
		{"connect timeout", "broker:\n  connect_timeout: 0s\n" + cam, "broker.connect_timeout", 2, "not a positive duration"},

		// models
		{"model name", "models:\n  - name: 'a b'\n" + cam, "models[0].name", 2, "may only hold letters"},
		{"model twice", "models:\n  - name: m\n  - name: m\n" + cam, "models[1].name", 3, `model "m" is defined twice`},
		{"threads", "models:\n  - threads: 65\n" + cam, "models[0].threads", 2, "65 is not between 0 and 64"},
		{"pool", "models:\n  - pool: 65\n" + cam, "models[0].pool", 2, `"65" is not auto, off or a number of sessions from 1 to 64`},
		{"pool word", "models:\n  - pool: many\n" + cam, "models[0].pool", 2, `"many" is not auto, off`},
		{"accelerate", "models:\n  - accelerate: gpu\n" + cam, "models[0].accelerate", 2, `"gpu" is not one of auto, on, off`},
		{"softmax", "models:\n  - softmax: yes\n" + cam, "models[0].softmax", 2, `"yes" is not one of auto, on, off`},
		{"color", "models:\n  - color: gray\n" + cam, "models[0].color", 2, `"gray" is not one of rgb, bgr`},
		{"top_k", "models:\n  - top_k: 0\n" + cam, "models[0].top_k", 2, "0 is less than 1"},
		{"threshold", "models:\n  - threshold: 1.5\n" + cam, "models[0].threshold", 2, "1.5 is not between 0 and 1"},
		{"mean count", "models:\n  - mean: [1, 2]\n    std: [1, 2]\n" + cam, "models[0].mean", 2, "give 1 or 3 values, not 2"},
		{"std count", "models:\n  - mean: 127.5\n    std: [1, 2, 3, 4]\n" + cam, "models[0].std", 3, "give 1 or 3 values, not 4"},
		{"mean without std", "models:\n  - mean: [1, 2, 3]\n" + cam, "models[0].std", 2, "mean and std go together"},
		{"std not positive", "models:\n  - mean: 0\n    std: -1\n" + cam, "models[0].std[0]", 3, "-1 is not positive"},

		// cameras
		{"no cameras", "device: d\n", "cameras", 0, "no cameras configured"},
		{"empty file", "", "cameras", 0, "no cameras configured"},
		{"only comments", "# nothing yet\n", "cameras", 0, "no cameras configured"},
		{"short unknown key gets no guess", cam + "    roi: {a: 1}\n", "cameras[0].roi.a", 4, `unknown key "a"`},
		{"empty camera list", "cameras: []\n", "cameras", 1, "no cameras configured"},
		{"camera name", "cameras:\n  - name: 'a#'\n    source: x\n", "cameras[0].name", 2, "may only hold letters"},
		{"camera name missing", "cameras:\n  - source: x\n", "cameras[0].name", 2, `"" may only hold letters`},
		{"camera twice", cam + "  - name: a\n    source: y\n", "cameras[1].name", 4, `camera "a" is defined twice`},
		{"source missing", "cameras:\n  - name: a\n  - name: b\n", "cameras[0].source", 2, "is empty"},
		{"source blank", cam + "  - name: b\n    source: '  '\n", "cameras[1].source", 5, "is empty"},
		{"unknown model", cam + "    model: big\n", "cameras[0].model", 4, `no model named "big"`},
		{"fps", cam + "    fps: -0.5\n", "cameras[0].fps", 4, "-0.5 is negative"},
		{"roi negative", cam + "    roi: {x: -1, w: 2, h: 2}\n", "cameras[0].roi", 4, "must be non-negative"},
		{"roi w without h", cam + "    roi:\n      w: 10\n", "cameras[0].roi", 4, "w and h given together"},
		{"resize", cam + "    resize: fit\n", "cameras[0].resize", 4, `"fit" is not one of stretch, center-crop, letterbox`},
		{"publish mode", cam + "    publish:\n      mode: sometimes\n", "cameras[0].publish.mode", 5, `"sometimes" is not one of every, change`},
		{"smoothing", cam + "    publish: {smoothing: 0}\n", "cameras[0].publish.smoothing", 4, "0 is not between 1 and 100"},
		{"reconnect order", cam + "    reconnect:\n      initial: 10s\n      max: 1s\n", "cameras[0].reconnect.max", 6, "must be at least reconnect.initial"},
		{"reconnect zero", cam + "    reconnect:\n      initial: 0s\n", "cameras[0].reconnect.initial", 5, "0s is not a positive duration"},

		// regions
		{"region name twice", cam + "    regions:\n      - {name: door, roi: {x: 0, y: 0, w: 10, h: 10}}\n      - {name: Door, roi: {x: 0, y: 0, w: 10, h: 10}}\n", "cameras[0].regions[1].name", 6, `region "Door" is already defined by cameras[0].regions[0].name`},
		{"region name", cam + "    regions:\n      - {name: 'a/b', roi: {x: 0, y: 0, w: 1, h: 1}}\n", "cameras[0].regions[0].name", 5, "may only hold letters"},
		{"region confirm 0", cam + "    regions:\n      - {name: d, roi: {x: 0, y: 0, w: 1, h: 1}, confirm: 0}\n", "cameras[0].regions[0].confirm", 5, "0 is not between 1 and 1000"},
		{"region without size", cam + "    regions:\n      - {name: d, roi: {x: 0, y: 0}}\n", "cameras[0].regions[0].roi.w", 5, "is 0 or missing"},
		{"region fraction past the edge", cam + "    regions:\n      - {name: d, roi: {x: 0.5, y: 0.0, w: 0.75, h: 1.0}}\n", "cameras[0].regions[0].roi.w", 5, "reaches past the frame's right edge"},
		{"region fraction above 1", cam + "    regions:\n      - {name: d, roi: {x: 0, y: 0, w: 2.0, h: 1}}\n", "cameras[0].regions[0].roi.w", 5, "a fraction above 1.0"},
		{"region coordinate not a number", cam + "    regions:\n      - {name: d, roi: {x: left, y: 0, w: 1, h: 1}}\n", "cameras[0].regions[0].roi.x", 5, "want pixels (a whole number such as 40) or a fraction"},
		{"region with roi", cam + "    roi: {x: 0, y: 0, w: 5, h: 5}\n" + "    regions:\n      - {name: door, roi: {x: 0, y: 0, w: 10, h: 10}}\n", "cameras[0].roi", 4, "give either roi or regions"},
		{"region model", cam + "    regions:\n      - {name: d, roi: {x: 0, y: 0, w: 1, h: 1}, model: big}\n", "cameras[0].regions[0].model", 5, `no model named "big"`},
		{"region trigger", cam + "    regions:\n      - {name: d, roi: {x: 0, y: 0, w: 1, h: 1}, trigger: {mode: sometimes}}\n", "cameras[0].regions[0].trigger.mode", 5, `"sometimes" is not one of every, interval, motion`},
		{"region min_area", cam + "    regions:\n      - {name: d, roi: {x: 0, y: 0, w: 1, h: 1}, trigger: {mode: motion, min_area: 0.0}}\n", "cameras[0].regions[0].trigger.min_area", 5, "is not above 0"},
		{"binary sensor region", "homeassistant: {binary_sensors: [{region: gate, label: open}]}\n" + cam + "    regions:\n      - {name: door, roi: {x: 0, y: 0, w: 10, h: 10}}\n", "homeassistant.binary_sensors[0].region", 1, `no region named "gate"`},
		{"binary sensor label", "homeassistant: {binary_sensors: [{region: door}]}\n" + cam + "    regions:\n      - {name: door, roi: {x: 0, y: 0, w: 10, h: 10}}\n", "homeassistant.binary_sensors[0].label", 1, "is empty"},
		{"samples when", cam + "    samples: {when: [sometimes]}\n", "cameras[0].samples.when[0]", 4, `"sometimes" is not one of low_score, state_change, interval`},
		{"samples when twice", cam + "    samples: {when: [interval, interval]}\n", "cameras[0].samples.when[1]", 4, "listed twice"},
		{"samples below", cam + "    regions:\n      - {name: d, roi: {x: 0, y: 0, w: 1, h: 1}, samples: {below: 1.5}}\n", "cameras[0].regions[0].samples.below", 5, "1.5 is not between 0 and 1"},
		{"samples max_bytes", cam + "    samples: {max_bytes: 10}\n", "cameras[0].samples.max_bytes", 4, "below 65536"},
		{"ha prefix", "homeassistant: {prefix: 'ha/#'}\n" + cam, "homeassistant.prefix", 1, "without wildcards"},

		// documents
		{"two documents", cam + "---\ndevice: b\n", "", 4, "more than one YAML document"},
		{"document not a mapping", "- 1\n", "", 1, "want a mapping of keys, got a list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), "t.yaml")
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *config.Error", err)
			}
			if ce.File != "t.yaml" || ce.Field != c.field || ce.Line != c.line || !strings.Contains(ce.Msg, c.msg) {
				t.Errorf("got file %q field %q line %d msg %q;\nwant file t.yaml field %q line %d msg containing %q",
					ce.File, ce.Field, ce.Line, ce.Msg, c.field, c.line, c.msg)
			}
		})
	}
}

// TestSyntaxErrorHasLine checks that YAML syntax errors keep yaml.v3's line.
func TestSyntaxErrorHasLine(t *testing.T) {
	_, err := Parse([]byte("cameras:\n  - name: a\n  source: [\n"), "t.yaml")
	if err == nil || !strings.HasPrefix(err.Error(), "t.yaml: ") || !strings.Contains(err.Error(), "line") {
		t.Fatalf("got %v, want an error naming the file and the line", err)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "edged.yaml")
	if err := os.WriteFile(p, []byte(cam+"    fps: fast\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	want := p + `:4: cameras[0].fps: "fast" is not a number`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: got %v, want an error naming it", err)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		if _, err := Load("/dev/zero"); err == nil || !strings.Contains(err.Error(), "/dev/zero: larger than") {
			t.Errorf("/dev/zero: got %v, want a size error", err)
		}
	}
}

func TestEmptyValuesKeepDefaults(t *testing.T) {
	c, err := Parse([]byte("log:\nbroker:\n  qos:\n"+cam+"    publish:\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Level != "info" || c.Broker.QoS != 1 || c.Cameras[0].Publish.Mode != "every" {
		t.Errorf("empty values did not keep the defaults: %+v %+v %+v", c.Log, c.Broker, c.Cameras[0].Publish)
	}
}

func TestScalarMeanStd(t *testing.T) {
	c, err := Parse([]byte("models:\n  - mean: 127.5\n    std: 127.5\n"+cam), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Models[0]; len(m.Mean) != 1 || m.Mean[0] != 127.5 || len(m.Std) != 1 || m.Std[0] != 127.5 {
		t.Errorf("mean %v std %v, want [127.5] [127.5]", m.Mean, m.Std)
	}
}

func TestValidateInCode(t *testing.T) {
	c := Defaults()
	c.Cameras = []Camera{NewCamera("quick", "/dev/video0")}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults with one camera: %v", err)
	}
	if c.Cameras[0].Model != "default" || c.Cameras[0].Reconnect.Initial <= 0 {
		t.Errorf("camera after Validate: %+v", c.Cameras[0])
	}
	c.Cameras[0].FPS = -1
	err := c.Validate()
	if err == nil || err.Error() != "command line: cameras[0].fps: -1 is negative" {
		t.Errorf("got %v, want the field named", err)
	}
}

// TestSecretsAccepted checks each way of giving the broker password.
func TestSecretsAccepted(t *testing.T) {
	for _, y := range []string{
		"broker:\n  url: ssl://h:8883\n  password_file: /etc/edged/password\n",
		"broker:\n  url: ssl://h:8883\n  password_credential: mqtt-password\n",
		"broker:\n  url: ssl://h:8883\n  password: inline\n",
		"broker:\n  url: ssl://h:8883\n  tls: {ca_file: ca.pem, cert_file: c.pem, key_file: c.key}\n",
	} {
		if _, err := Parse([]byte(y+cam), "t.yaml"); err != nil {
			t.Errorf("%q: %v", y, err)
		}
	}
}

func TestEmbeddedAddrOnlyCheckedWhenUsed(t *testing.T) {
	y := "broker:\n  url: tcp://broker:1883\n  embedded_addr: 0.0.0.0:1883\n" + cam
	if _, err := Parse([]byte(y), "t.yaml"); err != nil {
		t.Errorf("embedded_addr is unused with a broker url, got %v", err)
	}
	for _, addr := range []string{"127.0.0.1:1883", "localhost:1883", "[::1]:1883"} {
		if _, err := Parse([]byte("broker: {embedded_addr: '"+addr+"'}\n"+cam), "t.yaml"); err != nil {
			t.Errorf("loopback %s refused: %v", addr, err)
		}
	}
}

// TestAliasExpansionBounded feeds a file whose aliases expand to far more
// values than it holds (2,000 models each aliasing one 2,000-value list):
// it must fail fast with a clear error instead of walking 4 million values.
func TestAliasExpansionBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("models:\n  - mean: &m [")
	for i := 0; i < 2000; i++ {
		b.WriteString("1,")
	}
	b.WriteString("1]\n")
	for i := 0; i < 2000; i++ {
		b.WriteString("  - {mean: *m}\n")
	}
	_, err := Parse([]byte(b.String()), "t.yaml")
	if err == nil || !strings.Contains(err.Error(), "aliases expanded") {
		t.Fatalf("got %v, want the expansion bound", err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"fps", "fps", 0}, {"fsp", "fps", 1}, {"fp", "fps", 1}, {"qoss", "qos", 1},
		{"keepalive", "keep_alive", 1}, {"url", "uri", 1}, {"", "abc", 3}, {"source", "sorce", 1},
	} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestSampleHasEveryKey keeps sample.yaml complete: every field of the
// schema appears in it, so a new field cannot go undocumented.
func TestSampleHasEveryKey(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal(sample, &doc); err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := join(path, n.Content[i].Value)
				present[p] = true
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for _, item := range n.Content {
				walk(item, path) // list items share their list's key path
			}
		}
	}
	walk(doc.Content[0], "")
	skip := map[string]bool{"broker.password": true} // discouraged: mentioned in a comment only
	var missing []string
	var want func(typ reflect.Type, path string)
	want = func(typ reflect.Type, path string) {
		if typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == reflect.TypeOf(time.Duration(0)) || typ == reflect.TypeOf(Coord{}) {
			return
		}
		for i := 0; i < typ.NumField(); i++ {
			p := join(path, typ.Field(i).Tag.Get("yaml"))
			if !present[p] && !skip[p] {
				missing = append(missing, p)
			}
			want(typ.Field(i).Type, p)
		}
	}
	want(reflect.TypeOf(Config{}), "")
	if len(missing) > 0 {
		t.Errorf("sample.yaml lacks %s", strings.Join(missing, ", "))
	}
}

// TestDocExamplesLoad parses every yaml block in docs/config.md, so the
// documentation cannot drift from what the parser accepts.
func TestDocExamplesLoad(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	if len(blocks) == 0 {
		t.Fatal("docs/config.md has no yaml example")
	}
	for i, b := range blocks {
		body, _, _ := strings.Cut(b, "```")
		if _, err := Parse([]byte(body), fmt.Sprintf("docs/config.md example %d", i+1)); err != nil {
			t.Error(err)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	fields := map[string]int{"x": 0, "y": 1, "w": 2, "h": 3, "fps": 4, "source": 5}
	for key, want := range map[string]string{
		"a":       "",                          // one letter: every one-letter key is one edit away
		"fsp":     ` (did you mean "fps"?)`,    // swapped letters
		"sorce":   ` (did you mean "source"?)`, // a letter left out
		"colour":  "",                          // nothing close
		"sources": ` (did you mean "source"?)`,
	} {
		if got := didYouMean(key, fields); got != want {
			t.Errorf("didYouMean(%q) = %q, want %q", key, got, want)
		}
	}
}
