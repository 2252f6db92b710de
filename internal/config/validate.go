package config

import (
	"fmt"
	"math"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/edged-io/edged/internal/decide"
	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/outbox"
	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/samples"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Bounds on values that end up in protocol fields or timers (docs/security.md).
const (
	// MaxNameLen bounds device, camera and model names: each is an MQTT
	// topic level, and a topic is at most 65535 bytes.
	MaxNameLen = 128
	// MaxTopicPrefixLen bounds broker.topic_prefix.
	MaxTopicPrefixLen = 1024
	// MaxKeepAlive is the largest MQTT keep-alive: the protocol's field is
	// 16 bits of seconds, and a larger value would wrap (65536s is 0: off).
	MaxKeepAlive = 65535 * time.Second
	// MinFPS and MaxFPS bound a camera's rate cap when one is set: one
	// frame a day at the least (a smaller rate's period overflows), 1000 a
	// second at the most.
	MinFPS = 1.0 / 86400
	MaxFPS = 1000
)

// checkName checks a name that becomes a topic level.
func (ck checker) checkName(path, name, what string) error {
	if !nameRE.MatchString(name) {
		return ck.bad(path, "%q may only hold letters, digits, '-' and '_'%s", name, what)
	}
	if len(name) > MaxNameLen {
		return ck.bad(path, "%d characters: at most %d", len(name), MaxNameLen)
	}
	return nil
}

// finite checks that v is a number (not NaN or infinite).
func (ck checker) finite(path string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ck.bad(path, "%v is not a number", v)
	}
	return nil
}

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

// checker makes errors that name the file, the field and its line.
type checker struct {
	file  string
	lines map[string]int
}

func (ck checker) bad(path, format string, args ...any) error {
	return &Error{File: ck.file, Field: path, Line: lineOf(ck.lines, path), Msg: fmt.Sprintf(format, args...)}
}

// oneOf checks v against the values its owner allows (infer, preprocess,
// decide and outbox export theirs).
func (ck checker) oneOf(path, v string, allowed ...string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return ck.bad(path, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

// Engine choices and log settings are read by internal/infer/engines and
// cmd/edged, which this package cannot import without cgo; the words
// live here.
var (
	engineChoices = []string{"auto", "tflite", "litert"}
	logLevels     = []string{"debug", "info", "warn", "error"}
	logFormats    = []string{"auto", "json", "text"}
)

// validate completes the derived defaults and checks every section in
// order; the first error wins, carrying the line of its field.
func (c *Config) validate(file string, lines map[string]int) error {
	c.complete()
	ck := checker{file: file, lines: lines}
	for _, check := range []func(checker) error{c.checkTop, c.Broker.check, c.HTTP.check, c.checkModels, c.checkCameras, c.Queue.check, c.Fleet.check,
		func(ck checker) error { return c.HomeAssistant.check(ck, c.Cameras) }} {
		if err := check(ck); err != nil {
			return err
		}
	}
	return c.GPIO.validate(ck, c.cameraNames())
}

// checkTop checks the device name, the engine and logging.
func (c *Config) checkTop(ck checker) error {
	if c.Device != "" {
		if err := ck.checkName("device", c.Device, " (it is part of MQTT topics)"); err != nil {
			return err
		}
		if c.Device == "group" {
			return ck.bad("device", `"group" is reserved (<prefix>/group/ holds the fleet's group topics)`)
		}
	}
	if err := ck.oneOf("engine", c.Engine, engineChoices...); err != nil {
		return err
	}
	if err := ck.oneOf("log.level", c.Log.Level, logLevels...); err != nil {
		return err
	}
	if err := ck.oneOf("log.format", c.Log.Format, logFormats...); err != nil {
		return err
	}
	return nil
}

// check checks the broker section.
func (b Broker) check(ck checker) error {
	if b.QoS < 0 || b.QoS > 2 {
		return ck.bad("broker.qos", "%d is not 0, 1 or 2", b.QoS)
	}
	if b.TopicPrefix == "" || strings.ContainsAny(b.TopicPrefix, "+#") || strings.HasPrefix(b.TopicPrefix, "/") || strings.HasSuffix(b.TopicPrefix, "/") {
		return ck.bad("broker.topic_prefix", "%q must be non-empty, without wildcards or leading/trailing '/'", b.TopicPrefix)
	}
	if len(b.TopicPrefix) > MaxTopicPrefixLen {
		return ck.bad("broker.topic_prefix", "%d bytes: at most %d", len(b.TopicPrefix), MaxTopicPrefixLen)
	}
	if b.URL != "" {
		scheme, _, ok := strings.Cut(b.URL, "://")
		if !ok {
			return ck.bad("broker.url", "%q needs a scheme such as tcp:// or ssl://", b.URL)
		}
		if err := ck.oneOf("broker.url", scheme, "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"); err != nil {
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
		return ck.bad("broker.password_file", "give only one of password, password_file and password_credential")
	}
	if b.PasswordCredential != "" && (strings.ContainsAny(b.PasswordCredential, `/\`) || b.PasswordCredential == "." || b.PasswordCredential == "..") {
		return ck.bad("broker.password_credential", "%q must be a credential name (a file name under $CREDENTIALS_DIRECTORY), not a path", b.PasswordCredential)
	}
	if b.TLS != (TLS{}) {
		scheme, _, _ := strings.Cut(b.URL, "://")
		if scheme != "ssl" && scheme != "tls" && scheme != "mqtts" && scheme != "wss" {
			return ck.bad("broker.tls", "TLS settings need an ssl://, tls://, mqtts:// or wss:// broker.url (got %q), else they would be ignored", b.URL)
		}
	}
	if host, _, err := net.SplitHostPort(b.EmbeddedAddr); err != nil {
		return ck.bad("broker.embedded_addr", "%q is not host:port", b.EmbeddedAddr)
	} else if ip := net.ParseIP(host); b.URL == "" && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return ck.bad("broker.embedded_addr", "%q is not a loopback address: the embedded broker lets every client in, so it only listens on this machine (run a real broker and set broker.url to serve the network)", b.EmbeddedAddr)
	}
	if b.ConnectTimeout <= 0 {
		return ck.bad("broker.connect_timeout", "%v is not a positive duration", b.ConnectTimeout)
	}
	if (b.TLS.CertFile == "") != (b.TLS.KeyFile == "") {
		return ck.bad("broker.tls.cert_file", "cert_file and key_file go together")
	}
	if b.KeepAlive < time.Second {
		return ck.bad("broker.keepalive", "%v is shorter than 1s", b.KeepAlive)
	}
	if b.KeepAlive > MaxKeepAlive {
		return ck.bad("broker.keepalive", "%v is longer than MQTT's keep-alive field holds (%v)", b.KeepAlive, MaxKeepAlive)
	}
	return nil
}

// check checks the HTTP endpoint's address.
func (h HTTP) check(ck checker) error {
	if h.Addr != "" {
		if _, _, err := net.SplitHostPort(h.Addr); err != nil {
			return ck.bad("http.addr", "%q is not host:port", h.Addr)
		}
	}
	if h.TokenFile != "" && h.TokenCredential != "" {
		return ck.bad("http.token_file", "give token_file or token_credential, not both")
	}
	if c := h.TokenCredential; c != "" && (strings.ContainsAny(c, `/\`) || c == "." || c == "..") {
		return ck.bad("http.token_credential", "%q must be a credential name (a file name under $CREDENTIALS_DIRECTORY), not a path", c)
	}
	if (h.TLSCert == "") != (h.TLSKey == "") {
		return ck.bad("http.tls_cert", "tls_cert and tls_key go together")
	}
	return nil
}

// checkModels checks each model.
func (c *Config) checkModels(ck checker) error {
	models := map[string]bool{}
	for i, m := range c.Models {
		p := fmt.Sprintf("models[%d]", i)
		if err := ck.checkName(p+".name", m.Name, ""); err != nil {
			return err
		}
		if models[m.Name] {
			return ck.bad(p+".name", "model %q is defined twice", m.Name)
		}
		models[m.Name] = true
		if m.Threads < 0 || m.Threads > 64 {
			return ck.bad(p+".threads", "%d is not between 0 and 64", m.Threads)
		}
		if _, err := infer.PoolSize(m.Pool, m.Threads); err != nil {
			return ck.bad(p+".pool", "%v", err)
		}
		if err := ck.oneOf(p+".accelerate", m.Accelerate, infer.AccelerateModes...); err != nil {
			return err
		}
		if err := ck.oneOf(p+".softmax", m.Softmax, infer.SoftmaxModes...); err != nil {
			return err
		}
		if err := ck.oneOf(p+".color", m.Color, "rgb", "bgr"); err != nil {
			return err
		}
		if m.TopK < 1 {
			return ck.bad(p+".top_k", "%d is less than 1", m.TopK)
		}
		if err := ck.finite(p+".threshold", m.Threshold); err != nil {
			return err
		}
		if m.Threshold < 0 || m.Threshold > 1 {
			return ck.bad(p+".threshold", "%v is not between 0 and 1", m.Threshold)
		}
		if len(m.Mean) != 0 && len(m.Mean) != 1 && len(m.Mean) != 3 {
			return ck.bad(p+".mean", "give 1 or 3 values, not %d", len(m.Mean))
		}
		if len(m.Std) != 0 && len(m.Std) != 1 && len(m.Std) != 3 {
			return ck.bad(p+".std", "give 1 or 3 values, not %d", len(m.Std))
		}
		if (len(m.Mean) == 0) != (len(m.Std) == 0) {
			return ck.bad(p+".std", "mean and std go together")
		}
		for j, s := range m.Std {
			if s <= 0 {
				return ck.bad(fmt.Sprintf("%s.std[%d]", p, j), "%v is not positive", s)
			}
		}
	}
	return nil
}

// checkCameras checks each camera and the model it names.
func (c *Config) checkCameras(ck checker) error {
	if len(c.Cameras) == 0 {
		return ck.bad("cameras", "no cameras configured")
	}
	seen := map[string]bool{}
	models := map[string]bool{}
	for _, m := range c.Models {
		models[m.Name] = true
	}
	for i := range c.Cameras {
		cam := &c.Cameras[i]
		p := fmt.Sprintf("cameras[%d]", i)
		if err := ck.checkName(p+".name", cam.Name, " (it is part of MQTT topics)"); err != nil {
			return err
		}
		if cam.Name == "deploy" || cam.Name == "status" {
			return ck.bad(p+".name", "%q is reserved (<prefix>/<device>/%s is edged's own topic)", cam.Name, cam.Name)
		}
		if seen[cam.Name] {
			return ck.bad(p+".name", "camera %q is defined twice", cam.Name)
		}
		seen[cam.Name] = true
		if strings.TrimSpace(cam.Source) == "" {
			return ck.bad(p+".source", "is empty")
		}
		if !models[cam.Model] {
			return ck.bad(p+".model", "no model named %q", cam.Model)
		}
		if err := ck.finite(p+".fps", cam.FPS); err != nil {
			return err
		}
		if cam.FPS < 0 {
			return ck.bad(p+".fps", "%v is negative", cam.FPS)
		}
		if cam.FPS != 0 && (cam.FPS < MinFPS || cam.FPS > MaxFPS) {
			return ck.bad(p+".fps", "%v is outside %.6g to %v (0 means no cap)", cam.FPS, MinFPS, MaxFPS)
		}
		if cam.ROI.X < 0 || cam.ROI.Y < 0 || cam.ROI.W < 0 || cam.ROI.H < 0 || (cam.ROI.W == 0) != (cam.ROI.H == 0) {
			return ck.bad(p+".roi", "%+v: values must be non-negative, and w and h given together", cam.ROI)
		}
		if cam.MaxPixels < 1 {
			return ck.bad(p+".max_pixels", "%d is less than 1", cam.MaxPixels)
		}
		if err := ck.oneOf(p+".resize", cam.Resize, preprocess.Modes...); err != nil {
			return err
		}
		// Which combinations a source allows is the camera's to say
		// (camera.New, edged check-config).
		if err := ck.oneOf(p+".decode", cam.Decode, DecodeModes...); err != nil {
			return err
		}
		if cam.RTSPTransport != "" {
			if err := ck.oneOf(p+".rtsp_transport", cam.RTSPTransport, "tcp", "udp"); err != nil {
				return err
			}
		}
		if err := ck.oneOf(p+".publish.mode", cam.Publish.Mode, decide.Modes...); err != nil {
			return err
		}
		if cam.Publish.Smoothing < 1 || cam.Publish.Smoothing > 100 {
			return ck.bad(p+".publish.smoothing", "%d is not between 1 and 100", cam.Publish.Smoothing)
		}
		if cam.Reconnect.Initial <= 0 {
			return ck.bad(p+".reconnect.initial", "%v is not a positive duration", cam.Reconnect.Initial)
		}
		if cam.Reconnect.Max < cam.Reconnect.Initial {
			return ck.bad(p+".reconnect.max", "%v must be at least reconnect.initial (%v)", cam.Reconnect.Max, cam.Reconnect.Initial)
		}
		if err := ck.checkSamples(p+".samples", cam.Samples); err != nil {
			return err
		}
		if err := ck.checkRegions(p, cam, models); err != nil {
			return err
		}
	}
	return nil
}

// DecodeModes are the values of cameras[].decode.
var DecodeModes = []string{"auto", "all", "keyframes"}

// Region triggers (cameras[].regions[].trigger.mode).
const (
	TriggerEvery    = "every"
	TriggerInterval = "interval"
	TriggerMotion   = "motion"
)

// TriggerModes are the values of a region's trigger.mode.
var TriggerModes = []string{TriggerEvery, TriggerInterval, TriggerMotion}

// MaxRegions bounds a camera's regions; MaxConfirm a region's confirm.
const (
	MaxRegions = 64
	MaxConfirm = 1000
)

// checkRegions checks a camera's regions: names, boxes, models, triggers
// and state settings.
func (ck checker) checkRegions(p string, cam *Camera, models map[string]bool) error {
	if len(cam.Regions) == 0 {
		return nil
	}
	if cam.ROI != (ROI{}) {
		return ck.bad(p+".roi", "give either roi or regions: region boxes are in the whole frame's coordinates")
	}
	if len(cam.Regions) > MaxRegions {
		return ck.bad(p+".regions", "%d regions: at most %d per camera", len(cam.Regions), MaxRegions)
	}
	names := map[string]string{} // lower-cased name → field
	for j := range cam.Regions {
		r := &cam.Regions[j]
		rp := fmt.Sprintf("%s.regions[%d]", p, j)
		if err := ck.checkName(rp+".name", r.Name, " (it is part of MQTT topics)"); err != nil {
			return err
		}
		// Home Assistant lower-cases entity ids, so door and Door would
		// be one entity.
		if prev, ok := names[strings.ToLower(r.Name)]; ok {
			return ck.bad(rp+".name", "region %q is already defined by %s (names must differ, ignoring case)", r.Name, prev)
		}
		names[strings.ToLower(r.Name)] = rp + ".name"
		if err := ck.checkBox(rp+".roi", r.ROI); err != nil {
			return err
		}
		if !models[r.Model] {
			return ck.bad(rp+".model", "no model named %q", r.Model)
		}
		if err := ck.oneOf(rp+".resize", r.Resize, preprocess.Modes...); err != nil {
			return err
		}
		if err := ck.finite(rp+".threshold", r.Threshold); err != nil {
			return err
		}
		if r.Threshold < 0 || r.Threshold > 1 {
			return ck.bad(rp+".threshold", "%v is not between 0 and 1", r.Threshold)
		}
		if r.Confirm < 1 || r.Confirm > MaxConfirm {
			return ck.bad(rp+".confirm", "%d is not between 1 and %d: a state is the label that held for that many results in a row", r.Confirm, MaxConfirm)
		}
		if err := ck.finite(rp+".min_score", r.MinScore); err != nil {
			return err
		}
		if r.MinScore < 0 || r.MinScore > 1 {
			return ck.bad(rp+".min_score", "%v is not between 0 and 1", r.MinScore)
		}
		if err := ck.checkSamples(rp+".samples", r.Samples); err != nil {
			return err
		}
		t := r.Trigger
		tp := rp + ".trigger"
		if err := ck.oneOf(tp+".mode", t.Mode, TriggerModes...); err != nil {
			return err
		}
		if t.Interval <= 0 {
			return ck.bad(tp+".interval", "%v is not a positive duration", t.Interval)
		}
		if t.Heartbeat <= 0 {
			return ck.bad(tp+".heartbeat", "%v is not a positive duration", t.Heartbeat)
		}
		if t.Threshold < 1 || t.Threshold > 255 {
			return ck.bad(tp+".threshold", "%d is not between 1 and 255 (the grey-level change of a cell that counts as motion)", t.Threshold)
		}
		if err := ck.finite(tp+".min_area", t.MinArea); err != nil {
			return err
		}
		if t.MinArea <= 0 || t.MinArea > 1 {
			return ck.bad(tp+".min_area", "%v is not above 0 and at most 1 (the fraction of the region that must change)", t.MinArea)
		}
	}
	return nil
}

// checkSamples checks a camera's or region's sample keeping.
func (ck checker) checkSamples(p string, s Samples) error {
	seen := map[string]bool{}
	for i, w := range s.When {
		f := fmt.Sprintf("%s.when[%d]", p, i)
		if err := ck.oneOf(f, w, samples.Reasons...); err != nil {
			return err
		}
		if seen[w] {
			return ck.bad(f, "%q is listed twice", w)
		}
		seen[w] = true
	}
	if err := ck.finite(p+".below", s.Below); err != nil {
		return err
	}
	switch {
	case s.Below < 0 || s.Below > 1:
		return ck.bad(p+".below", "%v is not between 0 and 1", s.Below)
	case s.Interval <= 0:
		return ck.bad(p+".interval", "%v is not a positive duration", s.Interval)
	case s.MaxCount < 1:
		return ck.bad(p+".max_count", "%d is less than 1", s.MaxCount)
	case s.MaxBytes < 64<<10:
		return ck.bad(p+".max_bytes", "%d is below 65536 (64 KiB)", s.MaxBytes)
	}
	return nil
}

// checkBox checks a region's box on its own: sizes given and positive,
// nothing negative, fractions within the frame. Pixel boxes are checked
// against the frame once its size is known (the first frame).
func (ck checker) checkBox(p string, b Box) error {
	for _, c := range []struct {
		name string
		c    Coord
		size bool
	}{{"x", b.X, false}, {"y", b.Y, false}, {"w", b.W, true}, {"h", b.H, true}} {
		f := p + "." + c.name
		if err := ck.finite(f, c.c.V); err != nil {
			return err
		}
		switch {
		case c.c.V < 0:
			return ck.bad(f, "%s is negative", c.c)
		case c.size && c.c.V == 0:
			return ck.bad(f, "is 0 or missing: give the region's size (pixels such as 120, or a fraction of the frame such as 0.25)")
		case c.c.Frac && c.c.V > 1:
			return ck.bad(f, "%s is a fraction above 1.0 (write whole numbers for pixels: %d)", c.c, int64(c.c.V))
		case !c.c.Frac && c.c.V > preprocess.MaxSide:
			return ck.bad(f, "%s pixels: at most %d", c.c, preprocess.MaxSide)
		}
	}
	const eps = 1e-9
	if b.X.Frac && b.W.Frac && b.X.V+b.W.V > 1+eps {
		return ck.bad(p+".w", "x %s + w %s reaches past the frame's right edge (1.0)", b.X, b.W)
	}
	if b.Y.Frac && b.H.Frac && b.Y.V+b.H.V > 1+eps {
		return ck.bad(p+".h", "y %s + h %s reaches past the frame's bottom edge (1.0)", b.Y, b.H)
	}
	return nil
}

// check checks the Home Assistant section against the cameras' regions.
func (h HomeAssistant) check(ck checker, cams []Camera) error {
	if h.Prefix == "" || strings.ContainsAny(h.Prefix, "+#") || strings.HasPrefix(h.Prefix, "/") || strings.HasSuffix(h.Prefix, "/") {
		return ck.bad("homeassistant.prefix", "%q must be non-empty, without wildcards or leading/trailing '/'", h.Prefix)
	}
	for i, b := range h.BinarySensors {
		p := fmt.Sprintf("homeassistant.binary_sensors[%d]", i)
		var found []string
		for _, c := range cams {
			if b.Camera != "" && c.Name != b.Camera {
				continue
			}
			for _, r := range c.Regions {
				if r.Name == b.Region {
					found = append(found, c.Name)
				}
			}
		}
		switch {
		case b.Camera != "" && !slices.ContainsFunc(cams, func(c Camera) bool { return c.Name == b.Camera }):
			return ck.bad(p+".camera", "no camera named %q", b.Camera)
		case len(found) == 0:
			return ck.bad(p+".region", "no region named %q%s", b.Region, inCamera(b.Camera))
		case len(found) > 1:
			return ck.bad(p+".camera", "region %q is on cameras %s: name the camera", b.Region, strings.Join(found, ", "))
		case strings.TrimSpace(b.Label) == "":
			return ck.bad(p+".label", "is empty: name the state that turns the sensor on")
		}
	}
	return nil
}

func inCamera(c string) string {
	if c == "" {
		return ""
	}
	return fmt.Sprintf(" on camera %q", c)
}

// check checks the outbound queue's bounds and policy.
func (q Queue) check(ck checker) error {
	if q.MaxBytes < 64<<10 {
		return ck.bad("queue.max_bytes", "%d is below the least useful size, 65536 (64 KiB)", q.MaxBytes)
	}
	if err := ck.oneOf("queue.policy", q.Policy, outbox.Policies...); err != nil {
		return err
	}
	return nil
}

// cameraNames is the set of configured camera names.
func (c *Config) cameraNames() map[string]bool {
	cams := map[string]bool{}
	for _, cam := range c.Cameras {
		cams[cam.Name] = true
	}
	return cams
}

// validate checks the GPIO section; cams holds the configured camera names.
// Whether a pin exists is only known on the machine: the gpio package
// reports a missing one at start.
func (g GPIO) validate(ck checker, cams map[string]bool) error {
	bad, oneOf := ck.bad, ck.oneOf
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

// Validate checks a configuration built in code (quick mode).
func (c *Config) Validate() error { return c.validate("command line", nil) }

// ValidateAs checks a configuration changed in code, naming source (what
// changed it) in its errors.
func (c *Config) ValidateAs(source string) error { return c.validate(source, nil) }

// check checks the fleet section: with fleet enabled, at least one trusted
// key; group names that fit in a topic; sane bounds.
func (f Fleet) check(ck checker) error {
	if f.Enabled && len(f.TrustedKeys)+len(f.TrustedKeyCredentials) == 0 {
		return ck.bad("fleet.trusted_keys", "fleet.enabled needs at least one trusted public key (trusted_keys or trusted_key_credentials): nothing unsigned is ever applied")
	}
	for i, k := range f.TrustedKeys {
		if strings.TrimSpace(k) == "" {
			return ck.bad(fmt.Sprintf("fleet.trusted_keys[%d]", i), "empty file name")
		}
	}
	for i, c := range f.TrustedKeyCredentials {
		if c == "" || strings.ContainsAny(c, `/\`) || c == "." || c == ".." {
			return ck.bad(fmt.Sprintf("fleet.trusted_key_credentials[%d]", i), "%q must be a credential name (a file name under $CREDENTIALS_DIRECTORY), not a path", c)
		}
	}
	seen := map[string]bool{}
	for i, g := range f.Groups {
		p := fmt.Sprintf("fleet.groups[%d]", i)
		if err := ck.checkName(p, g, " (it is part of MQTT topics)"); err != nil {
			return err
		}
		if seen[g] {
			return ck.bad(p, "group %q is listed twice", g)
		}
		seen[g] = true
	}
	if f.Keep < 0 || f.Keep > 100 {
		return ck.bad("fleet.keep", "%d: between 0 and 100 previous models", f.Keep)
	}
	if f.MaxModelBytes < 1024 {
		return ck.bad("fleet.max_model_bytes", "%d bytes is too small for a model", f.MaxModelBytes)
	}
	if f.DownloadTimeout <= 0 {
		return ck.bad("fleet.download_timeout", "%v: must be above 0", f.DownloadTimeout)
	}
	if f.HealthWindow < 0 {
		return ck.bad("fleet.health_window", "%v is negative", f.HealthWindow)
	}
	return nil
}
