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
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edged-io/edged/internal/preprocess"
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
	// StateDir holds what edged keeps between runs: the regions' states,
	// the Home Assistant discovery topics it published, and (unless
	// queue.path says otherwise) the queue. Empty: $STATE_DIRECTORY
	// (systemd's StateDirectory=), else /var/lib/edged as root, else
	// $XDG_STATE_HOME/edged (~/.local/state/edged).
	StateDir      string        `yaml:"state_dir"`
	HomeAssistant HomeAssistant `yaml:"homeassistant"`
	Fleet         Fleet         `yaml:"fleet"`
}

// Fleet configures signed deployments of models and configuration over
// MQTT (docs/fleet.md).
type Fleet struct {
	Enabled bool `yaml:"enabled"`
	// TrustedKeys are files holding the ed25519 public keys (PEM, as
	// `edged keygen` writes them) whose signatures this box accepts; several
	// at once let a key be rotated. TrustedKeyCredentials names systemd
	// credentials (files under $CREDENTIALS_DIRECTORY) holding more.
	TrustedKeys           []string `yaml:"trusted_keys"`
	TrustedKeyCredentials []string `yaml:"trusted_key_credentials"`
	// Groups are the deployment groups this box belongs to: it takes the
	// deployments published to <prefix>/group/<group>/deploy.
	Groups []string `yaml:"groups"`
	// Keep is how many previous models of each slot stay on disk for a
	// rollback.
	Keep int `yaml:"keep" default:"2"`
	// MaxModelBytes bounds a deployed artifact; a manifest announcing more
	// is rejected before anything is fetched.
	MaxModelBytes int `yaml:"max_model_bytes" default:"268435456"`
	// HealthWindow is how long after a swap the box watches its error
	// counters (and the manifest's canary images) before it counts the
	// deployment as healthy; a degradation within it rolls back.
	HealthWindow time.Duration `yaml:"health_window" default:"1m"`
	// DownloadTimeout is how long a download may go without progress
	// before the deployment fails.
	DownloadTimeout time.Duration `yaml:"download_timeout" default:"2m"`
	// CAFile verifies HTTPS artifact URLs against this CA bundle instead of
	// the system's.
	CAFile string `yaml:"ca_file"`
}

// HomeAssistant configures Home Assistant's MQTT discovery
// (docs/homeassistant.md).
type HomeAssistant struct {
	Discovery bool   `yaml:"discovery"`
	Prefix    string `yaml:"prefix" default:"homeassistant"` // Home Assistant's discovery_prefix
	// BinarySensors are on/off entities for a region being in a state
	// (person at door).
	BinarySensors []HABinarySensor `yaml:"binary_sensors"`
}

// HABinarySensor is on while a region's state is Label.
type HABinarySensor struct {
	Camera string `yaml:"camera"` // may be left out when one camera has the region
	Region string `yaml:"region"`
	Label  string `yaml:"label"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level" default:"info"`  // debug, info, warn, error
	Format string `yaml:"format" default:"auto"` // auto (JSON unless a terminal), json, text
}

// HTTP configures the health and metrics endpoint.
type HTTP struct {
	Addr string `yaml:"addr" default:"127.0.0.1:9464"` // "": disabled; a non-loopback host exposes it
	// TokenFile (its first line) or TokenCredential (a systemd
	// credential) is the token that labelling, discarding and other
	// changes need, and that every path needs off loopback
	// (docs/security.md).
	TokenFile       string `yaml:"token_file"`
	TokenCredential string `yaml:"token_credential"`
	// TLSCert and TLSKey (PEM files) serve HTTPS.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
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
	Name    string `yaml:"name" default:"default"`
	Path    string `yaml:"path"`   // empty: the bundled default model
	Labels  string `yaml:"labels"` // empty: from the model's metadata
	Threads int    `yaml:"threads" default:"1"`
	// Pool is how many sessions the cameras on this model share: auto
	// (the CPUs divided by threads), off (one per camera) or a number.
	Pool       string    `yaml:"pool" default:"auto"`
	Accelerate string    `yaml:"accelerate" default:"auto"`
	TopK       int       `yaml:"top_k" default:"5"`
	Threshold  float64   `yaml:"threshold"`
	Softmax    string    `yaml:"softmax" default:"auto"`
	Mean       []float64 `yaml:"mean"`
	Std        []float64 `yaml:"std"`
	Color      string    `yaml:"color" default:"rgb"`
	// Output names the class-score output (its name or index) of a model
	// with several outputs; a model with one needs none.
	Output string `yaml:"output"`
}

// Camera configures one camera.
type Camera struct {
	Name   string  `yaml:"name"`
	Source string  `yaml:"source"`
	Model  string  `yaml:"model"` // default: the first model
	FPS    float64 `yaml:"fps"`
	Loop   bool    `yaml:"loop"`
	ROI    ROI     `yaml:"roi"`
	Resize string  `yaml:"resize" default:"stretch"`
	// Decode is how a network stream is decoded: auto (key frames only
	// when fps is at or below the stream's key-frame rate), all or
	// keyframes (docs/streams.md).
	Decode string `yaml:"decode" default:"auto"`
	// RTSPTransport is RTSP's lower transport: tcp (the default) or udp.
	RTSPTransport string `yaml:"rtsp_transport"`
	// FFmpegDecoder names FFmpeg's decoder for a stream or video file
	// decoded in full (h264_v4l2m2m on a Raspberry Pi, say).
	FFmpegDecoder string `yaml:"ffmpeg_decoder"`
	// Preset names a GStreamer pipeline for a board's hardware decoder or
	// camera (pi-rtsp, jetson-rtsp, pi-csi, jetson-csi, software-rtsp);
	// source is then its rtsp:// URL, or csi.
	Preset string `yaml:"preset"`
	// MaxPixels is the pixel budget of an image or frame (width×height):
	// larger ones are skipped and counted; a folder's images are measured
	// from their headers, before decoding.
	MaxPixels int       `yaml:"max_pixels" default:"100000000"`
	Reconnect Reconnect `yaml:"reconnect"`
	Publish   Publish   `yaml:"publish"`
	// Regions are the parts of the frame classified on their own, each
	// holding a state (docs/regions.md). None: the whole frame (or roi).
	Regions []Region `yaml:"regions"`
	// Samples keeps crops on the device for labelling (docs/samples.md);
	// regions without samples of their own use the camera's.
	Samples Samples `yaml:"samples"`
}

// Samples says which crops are kept in <state_dir>/samples and bounds them.
type Samples struct {
	When     []string      `yaml:"when"`                         // low_score, state_change, interval; [] keeps none
	Below    float64       `yaml:"below" default:"0.6"`          // low_score: a top score below this
	Interval time.Duration `yaml:"interval" default:"1m"`        // interval: one sample per this long
	MaxCount int           `yaml:"max_count" default:"1000"`     // per camera or region folder
	MaxBytes int           `yaml:"max_bytes" default:"67108864"` // per folder, JPEGs and sidecars
	MaxAge   time.Duration `yaml:"max_age" default:"720h"`       // 0s: no age bound
	// Frame also keeps the whole frame, scaled to 960 pixels, as
	// <name>.frame.jpg (the camera then encodes every frame it delivers).
	Frame bool `yaml:"frame"`
}

// Region is a part of a camera's frame with its own model, trigger and
// state.
type Region struct {
	Name      string  `yaml:"name"`
	ROI       Box     `yaml:"roi"`
	Model     string  `yaml:"model"`  // default: the camera's
	Resize    string  `yaml:"resize"` // default: the camera's
	Threshold float64 `yaml:"threshold"`
	Trigger   Trigger `yaml:"trigger"`
	Confirm   int     `yaml:"confirm" default:"3"`
	MinScore  float64 `yaml:"min_score" default:"0.5"`
	Samples   Samples `yaml:"samples"` // when empty: the camera's
	// Snapshot publishes a JPEG of the frame, regions and states drawn,
	// on <prefix>/<device>/<camera>/<region>/snapshot (retained) at each
	// of the region's state changes.
	Snapshot bool `yaml:"snapshot"`
}

// Trigger says when a region's crop is inferred.
type Trigger struct {
	Mode      string        `yaml:"mode" default:"every"` // every, interval, motion
	Interval  time.Duration `yaml:"interval" default:"10s"`
	Threshold int           `yaml:"threshold" default:"12"`  // motion: grey-level change of a cell that counts
	MinArea   float64       `yaml:"min_area" default:"0.02"` // motion: fraction of cells that must change
	Heartbeat time.Duration `yaml:"heartbeat" default:"60s"` // motion: infer at least this often
}

// Box is a region's rectangle: each coordinate in pixels (a whole number)
// or as a fraction of the frame's side (a number with a decimal point).
type Box = preprocess.Box

// Coord is one coordinate of a Box.
type Coord = preprocess.Coord

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
	// Path is the queue file. Empty: queue-<hash>.db, one file per broker
	// and device, in $STATE_DIRECTORY (systemd's StateDirectory=), else
	// /var/lib/edged as root, else $XDG_STATE_HOME/edged
	// (~/.local/state/edged). A file holds results for one broker and
	// device: opened for others it is refused.
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
	cfg, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	cfg.resolve(dir)
	return cfg, nil
}

// ParseIn is Parse with the relative paths taken from dir, as Load takes
// them from the file's folder (a configuration delivered over the
// network).
func ParseIn(data []byte, name, dir string) (*Config, error) {
	if len(data) > maxFileSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("larger than %d bytes: not a configuration file", maxFileSize)}
	}
	cfg, err := Parse(data, name)
	if err != nil {
		return nil, err
	}
	cfg.resolve(dir)
	return cfg, nil
}

// resolve makes the file's relative paths relative to dir, the folder
// that holds it, so that a configuration means the same wherever edged is
// started from (under systemd that is /). Device numbers, /dev paths and
// URLs are left as they are.
func (c *Config) resolve(dir string) {
	join := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	join(&c.StateDir)
	join(&c.Broker.PasswordFile)
	join(&c.Broker.TLS.CAFile)
	join(&c.Broker.TLS.CertFile)
	join(&c.Broker.TLS.KeyFile)
	join(&c.Queue.Path)
	join(&c.Fleet.CAFile)
	join(&c.HTTP.TokenFile)
	join(&c.HTTP.TLSCert)
	join(&c.HTTP.TLSKey)
	for i := range c.Fleet.TrustedKeys {
		join(&c.Fleet.TrustedKeys[i])
	}
	for i := range c.Models {
		join(&c.Models[i].Path)
		join(&c.Models[i].Labels)
	}
	for i := range c.Cameras {
		if src := strings.TrimSpace(c.Cameras[i].Source); isPathSource(src) {
			c.Cameras[i].Source = src
			join(&c.Cameras[i].Source)
		}
	}
}

// isPathSource reports whether a camera source names a file or folder
// rather than a device index or a URL.
func isPathSource(s string) bool {
	if _, err := strconv.Atoi(s); err == nil {
		return false
	}
	if i := strings.Index(s, ":"); i > 0 && !strings.ContainsAny(s[:i], "/.\\") {
		return false // a scheme: rtsp://, http://, gst:…
	}
	return s != ""
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
