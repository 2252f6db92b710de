// Package config loads edged's YAML configuration strictly: an unknown key,
// a wrong type or a bad value is an error naming the file, the field path
// (cameras[1].fps) and the line. Defaults live in the structs' `default`
// tags and are applied in one place (applyDefaults).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration.
type Config struct {
	Device  string   `yaml:"device"`                // default: the host name
	Engine  string   `yaml:"engine" default:"auto"` // auto, tflite or litert
	Log     Log      `yaml:"log"`
	HTTP    HTTP     `yaml:"http"`
	Broker  Broker   `yaml:"broker"`
	Models  []Model  `yaml:"models"`
	Cameras []Camera `yaml:"cameras"`
	GPIO    GPIO     `yaml:"gpio"`
	Queue   Queue    `yaml:"queue"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level" default:"info"`  // debug, info, warn, error
	Format string `yaml:"format" default:"auto"` // auto (JSON unless a terminal), json, text
}

// HTTP configures the health and metrics endpoint.
type HTTP struct {
	Addr string `yaml:"addr" default:"127.0.0.1:9464"` // "": disabled; a non-loopback host exposes it
}

// Broker configures the MQTT connection.
type Broker struct {
	URL                string `yaml:"url"` // empty: the embedded broker
	EmbeddedAddr       string `yaml:"embedded_addr" default:"127.0.0.1:1883"`
	ClientID           string `yaml:"client_id"`
	Username           string `yaml:"username"`
	Password           string `yaml:"password"` // discouraged: use password_file
	PasswordFile       string `yaml:"password_file"`
	PasswordCredential string `yaml:"password_credential"` // systemd credential name
	// AllowPlaintextPassword lets a password go over plain TCP to a
	// non-loopback broker (a trusted, isolated network); off by default.
	AllowPlaintextPassword bool          `yaml:"allow_plaintext_password"`
	TLS                    TLS           `yaml:"tls"`
	QoS                    int           `yaml:"qos" default:"1"`
	Retain                 bool          `yaml:"retain"`
	TopicPrefix            string        `yaml:"topic_prefix" default:"edged"`
	KeepAlive              time.Duration `yaml:"keepalive" default:"30s"`
	ConnectTimeout         time.Duration `yaml:"connect_timeout" default:"10s"`
}

// TLS configures TLS to the broker.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	ServerName         string `yaml:"server_name"`
}

// Model configures one model.
type Model struct {
	Name       string    `yaml:"name" default:"default"`
	Path       string    `yaml:"path"`   // empty: the bundled default model
	Labels     string    `yaml:"labels"` // empty: from the model's metadata
	Threads    int       `yaml:"threads" default:"1"`
	Accelerate string    `yaml:"accelerate" default:"auto"`
	TopK       int       `yaml:"top_k" default:"5"`
	Threshold  float64   `yaml:"threshold"`
	Softmax    string    `yaml:"softmax" default:"auto"`
	Mean       []float64 `yaml:"mean"`
	Std        []float64 `yaml:"std"`
	Color      string    `yaml:"color" default:"rgb"`
}

// Camera configures one camera.
type Camera struct {
	Name      string    `yaml:"name"`
	Source    string    `yaml:"source"`
	Model     string    `yaml:"model"` // default: the first model
	FPS       float64   `yaml:"fps"`
	Loop      bool      `yaml:"loop"`
	ROI       ROI       `yaml:"roi"`
	Resize    string    `yaml:"resize" default:"stretch"`
	Reconnect Reconnect `yaml:"reconnect"`
	Publish   Publish   `yaml:"publish"`
}

// ROI is a region of interest in source pixels.
type ROI struct {
	X int `yaml:"x"`
	Y int `yaml:"y"`
	W int `yaml:"w"`
	H int `yaml:"h"`
}

// Reconnect bounds the backoff between reopening attempts.
type Reconnect struct {
	Initial time.Duration `yaml:"initial" default:"500ms"`
	Max     time.Duration `yaml:"max" default:"30s"`
}

// Publish says which results are published.
type Publish struct {
	Mode      string        `yaml:"mode" default:"every"` // every, change
	Heartbeat time.Duration `yaml:"heartbeat" default:"30s"`
	Smoothing int           `yaml:"smoothing" default:"1"`
}

// Queue configures the persistent outbound queue between the cameras and
// the broker (docs/delivery.md).
type Queue struct {
	Enabled bool `yaml:"enabled" default:"true"`
	// Path is the queue file. Empty: queue.db in $STATE_DIRECTORY (systemd's
	// StateDirectory=), else /var/lib/edged as root, else
	// $XDG_STATE_HOME/edged (~/.local/state/edged).
	Path     string        `yaml:"path"`
	MaxBytes int           `yaml:"max_bytes" default:"67108864"` // 64 MiB of queued records
	MaxAge   time.Duration `yaml:"max_age" default:"72h"`        // 0s: no age bound (max_bytes still holds)
	Policy   string        `yaml:"policy" default:"drop_oldest"` // drop_oldest, drop_newest, keep_state_changes
}

// GPIO configures sensor inputs that gate cameras, outputs driven by
// results, and a status LED. Pins are named as periph knows them on the
// machine (the kernel's line names such as GPIO17, or a number).
type GPIO struct {
	Inputs    []GPIOInput  `yaml:"inputs"`
	Outputs   []GPIOOutput `yaml:"outputs"`
	StatusLED StatusLED    `yaml:"status_led"`
}

// GPIOInput is a sensor, switch or button that gates cameras.
type GPIOInput struct {
	Pin         string        `yaml:"pin"`
	Active      string        `yaml:"active" default:"high"` // high, low: the level that means "triggered"
	Pull        string        `yaml:"pull" default:"auto"`   // auto (towards inactive), up, down, float
	Debounce    time.Duration `yaml:"debounce" default:"50ms"`
	Cameras     []string      `yaml:"cameras"`
	Mode        string        `yaml:"mode" default:"while_active"` // while_active, burst
	BurstFrames int           `yaml:"burst_frames" default:"10"`
}

// GPIOOutput is an LED, relay or buzzer switched on by matching results.
type GPIOOutput struct {
	Pin     string        `yaml:"pin"`
	Invert  bool          `yaml:"invert"` // active-low: on drives the pin low
	MinOn   time.Duration `yaml:"min_on" default:"1s"`
	HoldOff time.Duration `yaml:"hold_off" default:"3s"`
	When    []GPIORule    `yaml:"when"`
}

// GPIORule matches results: a label in Labels (any label when empty)
// scoring at least MinScore, on one of Cameras (any camera when empty).
type GPIORule struct {
	Labels   []string `yaml:"labels"`
	MinScore float64  `yaml:"min_score" default:"0.5"`
	Cameras  []string `yaml:"cameras"`
}

// StatusLED shows the daemon's health: steady when healthy, slow blink
// when degraded, fast blink when failed. An empty pin means no LED.
type StatusLED struct {
	Pin    string `yaml:"pin"`
	Invert bool   `yaml:"invert"`
}

// Enabled reports whether any GPIO pin is configured.
func (g GPIO) Enabled() bool {
	return len(g.Inputs) > 0 || len(g.Outputs) > 0 || g.StatusLED.Pin != ""
}

// maxFileSize bounds what Load reads: a configuration is a few kilobytes,
// and --config /dev/zero must be an error, not an endless read.
const maxFileSize = 1 << 20

// Load reads and checks the configuration file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("larger than %d bytes: not a configuration file", maxFileSize)}
	}
	return Parse(data, path)
}

// Error is a configuration error at a field.
type Error struct {
	File  string
	Field string // path such as cameras[1].fps; empty for the document
	Line  int    // 0 when unknown (a missing field)
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Field)
	}
	fmt.Fprintf(&b, ": %s", e.Msg)
	return b.String()
}

// Parse reads a configuration from data; name is used in errors.
func Parse(data []byte, name string) (*Config, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			line = 0
		}
		return nil, &Error{File: name, Line: line, Msg: "more than one YAML document (---): edged reads exactly one"}
	}
	cfg := &Config{}
	d := decoder{file: name}
	if len(doc.Content) > 0 {
		if err := d.decode(doc.Content[0], reflect.ValueOf(cfg).Elem(), ""); err != nil {
			return nil, err
		}
	}
	applyDefaults(reflect.ValueOf(cfg).Elem(), d.set)
	if err := cfg.validate(name, d.lines); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decoder walks the YAML tree beside the Go value, so every error knows its
// field path and line.
type decoder struct {
	file  string
	set   map[string]bool // field paths present in the file
	lines map[string]int  // field path → line
	nodes int             // nodes walked, aliases expanded: bounded by maxNodes
}

// maxNodes bounds the work of decoding: aliases are expanded by the walk,
// so a small hostile file could otherwise make it walk (and allocate)
// quadratically. Real configurations have a few hundred nodes.
const maxNodes = 100000

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) error {
	return &Error{File: d.file, Field: path, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) error {
	if d.set == nil {
		d.set, d.lines = map[string]bool{}, map[string]int{}
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.nodes++; d.nodes > maxNodes {
		return d.fail(n, path, "more than %d values (aliases expanded): not a configuration file", maxNodes)
	}
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // an empty value keeps the default
	}
	d.set[path] = true
	if v.Type() == reflect.TypeOf(time.Duration(0)) {
		if n.Kind != yaml.ScalarNode {
			return d.fail(n, path, "want a duration such as 500ms or 30s")
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil || dur < 0 {
			return d.fail(n, path, "%q is not a duration such as 500ms or 30s", n.Value)
		}
		v.SetInt(int64(dur))
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return d.fail(n, path, "want a mapping of keys, got %s", kindName(n))
		}
		fields := map[string]int{}
		for i := 0; i < v.NumField(); i++ {
			fields[v.Type().Field(i).Tag.Get("yaml")] = i
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			idx, ok := fields[k.Value]
			if !ok {
				return d.fail(k, p, "unknown key %q%s", k.Value, didYouMean(k.Value, fields))
			}
			if seen[k.Value] {
				return d.fail(k, p, "key %q given twice", k.Value)
			}
			seen[k.Value] = true
			d.lines[p] = k.Line // errors point at the key, not a nested value's line
			if err := d.decode(val, v.Field(idx), p); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if v.Type().Elem().Kind() == reflect.Float64 && n.Kind == yaml.ScalarNode {
				// one value for every channel
				s := reflect.MakeSlice(v.Type(), 1, 1)
				if err := d.decode(n, s.Index(0), path+"[0]"); err != nil {
					return err
				}
				v.Set(s)
				return nil
			}
			return d.fail(n, path, "want a list, got %s", kindName(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if err := d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
	default:
		if n.Kind != yaml.ScalarNode {
			return d.fail(n, path, "want a %s value, got %s", v.Kind(), kindName(n))
		}
		if err := setScalar(v, n); err != nil {
			return d.fail(n, path, "%v", err)
		}
	}
	return nil
}

func setScalar(v reflect.Value, n *yaml.Node) error {
	switch v.Kind() {
	case reflect.String:
		if n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float" {
			return fmt.Errorf("%q is not a string", n.Value)
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if err != nil || n.Tag != "!!bool" {
			return fmt.Errorf("%q is not true or false", n.Value)
		}
		v.SetBool(b)
	case reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if err != nil || n.Tag != "!!int" {
			return fmt.Errorf("%q is not a whole number", n.Value)
		}
		v.SetInt(int64(i))
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || (n.Tag != "!!int" && n.Tag != "!!float") {
			return fmt.Errorf("%q is not a number", n.Value)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("unsupported field type %s", v.Kind())
	}
	return nil
}

// didYouMean suggests the closest known key for a misspelt one, when there
// is a close one: at most two edits away, and fewer edits than the key has
// letters (so "x" does not suggest "h").
func didYouMean(key string, fields map[string]int) string {
	best, bestDist := "", min(3, len(key))
	for f := range fields {
		if d := editDistance(key, f); d < bestDist || (d == bestDist && f < best) {
			best, bestDist = f, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, counting an
// exchange of two neighbouring letters as one edit (fsp → fps).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64 // keys are short; long input is never a near miss
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// applyDefaults fills fields that the file did not set from their
// `default` tags, recursively (list items too).
func applyDefaults(v reflect.Value, set map[string]bool) { fill(v, "", set) }

func fill(v reflect.Value, path string, set map[string]bool) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			p := join(path, f.Tag.Get("yaml"))
			if def, ok := f.Tag.Lookup("default"); ok && !set[p] {
				n := &yaml.Node{Kind: yaml.ScalarNode, Value: def, Tag: tagOf(v.Field(i))}
				if v.Field(i).Type() == reflect.TypeOf(time.Duration(0)) {
					dur, _ := time.ParseDuration(def)
					v.Field(i).SetInt(int64(dur))
				} else if err := setScalar(v.Field(i), n); err != nil {
					panic(fmt.Sprintf("config: bad default %q for %s: %v", def, p, err))
				}
			}
			fill(v.Field(i), p, set)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			fill(v.Index(i), fmt.Sprintf("%s[%d]", path, i), set)
		}
	}
}

func tagOf(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Bool:
		return "!!bool"
	case reflect.Int:
		return "!!int"
	case reflect.Float64:
		return "!!float"
	default:
		return "!!str"
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// lineOf returns the line of the field at path or, for a field the file
// left out (cameras[1].source), of the closest enclosing field the file has
// (cameras[1]). Top-level fields the file lacks have no line (0).
func lineOf(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

// validate checks values; errors carry the line of the offending field.
func (c *Config) validate(file string, lines map[string]int) error {
	bad := func(path, format string, args ...any) error {
		return &Error{File: file, Field: path, Line: lineOf(lines, path), Msg: fmt.Sprintf(format, args...)}
	}
	oneOf := func(path, v string, allowed ...string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return bad(path, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	if c.Device != "" && !nameRE.MatchString(c.Device) {
		return bad("device", "%q may only hold letters, digits, '-' and '_' (it is part of MQTT topics)", c.Device)
	}
	if err := oneOf("engine", c.Engine, "auto", "tflite", "litert"); err != nil {
		return err
	}
	if err := oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error"); err != nil {
		return err
	}
	if err := oneOf("log.format", c.Log.Format, "auto", "json", "text"); err != nil {
		return err
	}
	b := c.Broker
	if b.QoS < 0 || b.QoS > 2 {
		return bad("broker.qos", "%d is not 0, 1 or 2", b.QoS)
	}
	if b.TopicPrefix == "" || strings.ContainsAny(b.TopicPrefix, "+#") || strings.HasPrefix(b.TopicPrefix, "/") || strings.HasSuffix(b.TopicPrefix, "/") {
		return bad("broker.topic_prefix", "%q must be non-empty, without wildcards or leading/trailing '/'", b.TopicPrefix)
	}
	if b.URL != "" {
		scheme, _, ok := strings.Cut(b.URL, "://")
		if !ok {
			return bad("broker.url", "%q needs a scheme such as tcp:// or ssl://", b.URL)
		}
		if err := oneOf("broker.url", scheme, "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"); err != nil {
			return err
		}
	}
	secrets := 0
	for _, s := range []string{b.Password, b.PasswordFile, b.PasswordCredential} {
		if s != "" {
			secrets++
		}
	}
	if secrets > 1 {
		return bad("broker.password_file", "give only one of password, password_file and password_credential")
	}
	if b.PasswordCredential != "" && (strings.ContainsAny(b.PasswordCredential, `/\`) || b.PasswordCredential == "." || b.PasswordCredential == "..") {
		return bad("broker.password_credential", "%q must be a credential name (a file name under $CREDENTIALS_DIRECTORY), not a path", b.PasswordCredential)
	}
	if b.TLS != (TLS{}) {
		scheme, _, _ := strings.Cut(b.URL, "://")
		if scheme != "ssl" && scheme != "tls" && scheme != "mqtts" && scheme != "wss" {
			return bad("broker.tls", "TLS settings need an ssl://, tls://, mqtts:// or wss:// broker.url (got %q), else they would be ignored", b.URL)
		}
	}
	if host, _, err := net.SplitHostPort(b.EmbeddedAddr); err != nil {
		return bad("broker.embedded_addr", "%q is not host:port", b.EmbeddedAddr)
	} else if ip := net.ParseIP(host); b.URL == "" && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return bad("broker.embedded_addr", "%q is not a loopback address: the embedded broker lets every client in, so it only listens on this machine (run a real broker and set broker.url to serve the network)", b.EmbeddedAddr)
	}
	if c.HTTP.Addr != "" {
		if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
			return bad("http.addr", "%q is not host:port", c.HTTP.Addr)
		}
	}
	if b.ConnectTimeout <= 0 {
		return bad("broker.connect_timeout", "%v is not a positive duration", b.ConnectTimeout)
	}
	if (b.TLS.CertFile == "") != (b.TLS.KeyFile == "") {
		return bad("broker.tls.cert_file", "cert_file and key_file go together")
	}
	if b.KeepAlive < time.Second {
		return bad("broker.keepalive", "%v is shorter than 1s", b.KeepAlive)
	}
	if len(c.Models) == 0 {
		c.Models = []Model{{}}
		applyDefaults(reflect.ValueOf(&c.Models[0]).Elem(), nil)
	}
	models := map[string]bool{}
	for i, m := range c.Models {
		p := fmt.Sprintf("models[%d]", i)
		if !nameRE.MatchString(m.Name) {
			return bad(p+".name", "%q may only hold letters, digits, '-' and '_'", m.Name)
		}
		if models[m.Name] {
			return bad(p+".name", "model %q is defined twice", m.Name)
		}
		models[m.Name] = true
		if m.Threads < 0 || m.Threads > 64 {
			return bad(p+".threads", "%d is not between 0 and 64", m.Threads)
		}
		if err := oneOf(p+".accelerate", m.Accelerate, "auto", "on", "off"); err != nil {
			return err
		}
		if err := oneOf(p+".softmax", m.Softmax, "auto", "on", "off"); err != nil {
			return err
		}
		if err := oneOf(p+".color", m.Color, "rgb", "bgr"); err != nil {
			return err
		}
		if m.TopK < 1 {
			return bad(p+".top_k", "%d is less than 1", m.TopK)
		}
		if m.Threshold < 0 || m.Threshold > 1 {
			return bad(p+".threshold", "%v is not between 0 and 1", m.Threshold)
		}
		if len(m.Mean) != 0 && len(m.Mean) != 1 && len(m.Mean) != 3 {
			return bad(p+".mean", "give 1 or 3 values, not %d", len(m.Mean))
		}
		if len(m.Std) != 0 && len(m.Std) != 1 && len(m.Std) != 3 {
			return bad(p+".std", "give 1 or 3 values, not %d", len(m.Std))
		}
		if (len(m.Mean) == 0) != (len(m.Std) == 0) {
			return bad(p+".std", "mean and std go together")
		}
		for j, s := range m.Std {
			if s <= 0 {
				return bad(fmt.Sprintf("%s.std[%d]", p, j), "%v is not positive", s)
			}
		}
	}
	if len(c.Cameras) == 0 {
		return bad("cameras", "no cameras configured")
	}
	cams := map[string]bool{}
	for i := range c.Cameras {
		cam := &c.Cameras[i]
		p := fmt.Sprintf("cameras[%d]", i)
		if !nameRE.MatchString(cam.Name) {
			return bad(p+".name", "%q may only hold letters, digits, '-' and '_' (it is part of MQTT topics)", cam.Name)
		}
		if cams[cam.Name] {
			return bad(p+".name", "camera %q is defined twice", cam.Name)
		}
		cams[cam.Name] = true
		if strings.TrimSpace(cam.Source) == "" {
			return bad(p+".source", "is empty")
		}
		if cam.Model == "" {
			cam.Model = c.Models[0].Name
		} else if !models[cam.Model] {
			return bad(p+".model", "no model named %q", cam.Model)
		}
		if cam.FPS < 0 {
			return bad(p+".fps", "%v is negative", cam.FPS)
		}
		if cam.ROI.X < 0 || cam.ROI.Y < 0 || cam.ROI.W < 0 || cam.ROI.H < 0 || (cam.ROI.W == 0) != (cam.ROI.H == 0) {
			return bad(p+".roi", "%+v: values must be non-negative, and w and h given together", cam.ROI)
		}
		if err := oneOf(p+".resize", cam.Resize, "stretch", "center-crop", "letterbox"); err != nil {
			return err
		}
		if err := oneOf(p+".publish.mode", cam.Publish.Mode, "every", "change"); err != nil {
			return err
		}
		if cam.Publish.Smoothing < 1 || cam.Publish.Smoothing > 100 {
			return bad(p+".publish.smoothing", "%d is not between 1 and 100", cam.Publish.Smoothing)
		}
		if cam.Reconnect.Initial <= 0 {
			return bad(p+".reconnect.initial", "%v is not a positive duration", cam.Reconnect.Initial)
		}
		if cam.Reconnect.Max < cam.Reconnect.Initial {
			return bad(p+".reconnect.max", "%v must be at least reconnect.initial (%v)", cam.Reconnect.Max, cam.Reconnect.Initial)
		}
	}
	if c.Queue.MaxBytes < 64<<10 {
		return bad("queue.max_bytes", "%d is below the least useful size, 65536 (64 KiB)", c.Queue.MaxBytes)
	}
	if err := oneOf("queue.policy", c.Queue.Policy, "drop_oldest", "drop_newest", "keep_state_changes"); err != nil {
		return err
	}
	return c.GPIO.validate(bad, oneOf, cams)
}

// validate checks the GPIO section; cams holds the configured camera names.
// Whether a pin exists is only known on the machine: the gpio package
// reports a missing one at start.
func (g GPIO) validate(bad func(path, format string, args ...any) error, oneOf func(path, v string, allowed ...string) error, cams map[string]bool) error {
	pins := map[string]string{} // pin name → field that uses it
	usePin := func(path, pin string) error {
		if strings.TrimSpace(pin) == "" {
			return bad(path, "is empty: name the pin (such as GPIO17)")
		}
		if prev, ok := pins[pin]; ok {
			return bad(path, "pin %q is already used by %s", pin, prev)
		}
		pins[pin] = path
		return nil
	}
	gatedBy := map[string]string{} // camera → input field gating it
	for i, in := range g.Inputs {
		p := fmt.Sprintf("gpio.inputs[%d]", i)
		if err := usePin(p+".pin", in.Pin); err != nil {
			return err
		}
		if err := oneOf(p+".active", in.Active, "high", "low"); err != nil {
			return err
		}
		if err := oneOf(p+".pull", in.Pull, "auto", "up", "down", "float"); err != nil {
			return err
		}
		if err := oneOf(p+".mode", in.Mode, "while_active", "burst"); err != nil {
			return err
		}
		if in.Mode == "burst" && in.BurstFrames < 1 {
			return bad(p+".burst_frames", "%d is less than 1", in.BurstFrames)
		}
		if len(in.Cameras) == 0 {
			return bad(p+".cameras", "is empty: name the cameras this input gates")
		}
		for j, name := range in.Cameras {
			cp := fmt.Sprintf("%s.cameras[%d]", p, j)
			if !cams[name] {
				return bad(cp, "no camera named %q", name)
			}
			if prev, ok := gatedBy[name]; ok {
				return bad(cp, "camera %q is already gated by %s (one input per camera)", name, prev)
			}
			gatedBy[name] = p
		}
	}
	for i, out := range g.Outputs {
		p := fmt.Sprintf("gpio.outputs[%d]", i)
		if err := usePin(p+".pin", out.Pin); err != nil {
			return err
		}
		if len(out.When) == 0 {
			return bad(p+".when", "is empty: give at least one rule (labels, min_score, cameras)")
		}
		for j, r := range out.When {
			rp := fmt.Sprintf("%s.when[%d]", p, j)
			if r.MinScore < 0 || r.MinScore > 1 {
				return bad(rp+".min_score", "%v is not between 0 and 1", r.MinScore)
			}
			for k, l := range r.Labels {
				if strings.TrimSpace(l) == "" {
					return bad(fmt.Sprintf("%s.labels[%d]", rp, k), "is empty")
				}
			}
			for k, name := range r.Cameras {
				if !cams[name] {
					return bad(fmt.Sprintf("%s.cameras[%d]", rp, k), "no camera named %q", name)
				}
			}
		}
	}
	if g.StatusLED.Pin != "" {
		if err := usePin("gpio.status_led.pin", g.StatusLED.Pin); err != nil {
			return err
		}
	}
	return nil
}

// Defaults returns a configuration with every default applied and no
// cameras: the starting point of edged's quick mode.
func Defaults() *Config {
	c := &Config{Models: []Model{{}}}
	applyDefaults(reflect.ValueOf(c).Elem(), nil)
	return c
}

// NewCamera returns a camera with defaults applied.
func NewCamera(name, source string) Camera {
	c := Camera{Name: name, Source: source}
	applyDefaults(reflect.ValueOf(&c).Elem(), nil)
	return c
}

// Validate checks a configuration built in code (quick mode).
func (c *Config) Validate() error { return c.validate("command line", nil) }
