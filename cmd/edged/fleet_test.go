package main

// Fleet deployment end to end: real mosquitto with the sample ACLs and
// passwords, several real edged processes in one group, the real runtime
// and models, and `edged deploy` as an operator runs it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-io/edged/internal/fleet"
	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/samplevideo"
)

// fleetRig is a broker with the sample ACL, the operator's key and the
// files a deployment needs.
type fleetRig struct {
	broker   *mqtttest.Broker
	dir      string
	key      string // the operator's private key
	pub      string
	passwd   map[string]string // user → password file
	video    string
	v2       string // the bundled model with other metadata: other bytes, same behaviour
	badLabel string // the bundled labels with orange and lemon swapped
	orange   string
	shuttle  string
}

var fleetUsers = []string{"shop-1", "shop-2", "shop-3", "deployer"}

func newFleetRig(t *testing.T) *fleetRig {
	t.Helper()
	if _, err := exec.LookPath("mosquitto_passwd"); err != nil {
		t.Skip("mosquitto_passwd not installed (apt-get install mosquitto)")
	}
	r := &fleetRig{dir: t.TempDir(), passwd: map[string]string{}}
	pwfile := filepath.Join(r.dir, "passwd")
	for i, u := range fleetUsers {
		pw := fmt.Sprintf("secret-%s", u)
		args := []string{"-b", pwfile, u, pw}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command("mosquitto_passwd", args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
		}
		r.passwd[u] = filepath.Join(r.dir, u+".pw")
		if err := os.WriteFile(r.passwd[u], []byte(pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	acl, err := filepath.Abs(repo("packaging", "fleet", "mosquitto.acl"))
	if err != nil {
		t.Fatal(err)
	}
	r.broker = mqtttest.Start(t, "allow_anonymous false", "password_file "+pwfile, "acl_file "+acl)

	out, err := exec.Command(edgedBin, "keygen", "--out", filepath.Join(r.dir, "operator")).CombinedOutput()
	if err != nil {
		t.Fatalf("edged keygen: %v\n%s", err, out)
	}
	r.key, r.pub = filepath.Join(r.dir, "operator.key"), filepath.Join(r.dir, "operator.pub")
	if st, err := os.Stat(r.key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("operator.key: %v %v", st.Mode(), err)
	}

	r.orange, r.shuttle = photo(t, "orange.jpg"), photo(t, "space_shuttle.jpg")
	r.video = filepath.Join(r.dir, "shop.avi")
	if err := samplevideo.Write(r.video, []string{r.orange, r.shuttle}, samplevideo.Options{Width: 224, Height: 224, FPS: 2, FramesPerPhoto: 2}); err != nil {
		t.Fatal(err)
	}
	model, err := os.ReadFile(repo("models", "efficientnet_lite0_int8.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(model, []byte("see model card"))
	if i < 0 {
		t.Fatal("the bundled model's description changed: pick another metadata string to edit")
	}
	copy(model[i:], "model card v2!") // the same length: only the metadata text differs
	r.v2 = filepath.Join(r.dir, "v2.tflite")
	if err := os.WriteFile(r.v2, model, 0o644); err != nil {
		t.Fatal(err)
	}
	labels, err := os.ReadFile(repo("models", "labels.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ls := strings.Split(string(labels), "\n")
	o := slices.Index(ls, "orange")
	l := slices.Index(ls, "lemon")
	ls[o], ls[l] = ls[l], ls[o]
	r.badLabel = filepath.Join(r.dir, "bad-labels.txt")
	if err := os.WriteFile(r.badLabel, []byte(strings.Join(ls, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// box starts an edged named device in group north; it returns the process,
// its log and its HTTP base URL.
func (r *fleetRig) box(t *testing.T, ctx context.Context, device string, extra string) (*exec.Cmd, *lockedBuffer, string) {
	t.Helper()
	state := filepath.Join(r.dir, "state-"+device)
	cfg := filepath.Join(r.dir, device+".yaml")
	model, _ := filepath.Abs(repo("models", "efficientnet_lite0_int8.tflite"))
	doc := fmt.Sprintf(`device: %s
state_dir: %s
broker: {url: %s, username: %s, password_file: %s}
http: {addr: "127.0.0.1:0"}
models:
  - {name: default, path: %s}
cameras:
  - {name: door, source: %s, fps: 1, loop: true, resize: center-crop}
fleet:
  enabled: true
  trusted_keys: [%s]
  groups: [north]
  health_window: 3s
  download_timeout: 8s
%s`, device, state, r.broker.URL(), device, r.passwd[device], model, r.video, r.pub, extra)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, log := start(t, ctx, nil, "run", "--config", cfg)
	base := "http://" + httpAddr(t, log)
	waitCamera(t, base, "door", 60*time.Second, "streaming", func(s string, _ uint64) bool { return s == "streaming" })
	return cmd, log, base
}

// deploy runs `edged deploy` as the operator and returns its output and
// error.
func (r *fleetRig) deploy(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	base := []string{"deploy", "--broker", r.broker.URL(), "--username", "deployer", "--password-file", r.passwd["deployer"],
		"--key", r.key, "--timeout", "90s"}
	cmd := exec.CommandContext(ctx, edgedBin, append(base, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

type boxHealth struct {
	Models []struct {
		Name   string `json:"name"`
		SHA256 string `json:"sha256"`
	} `json:"models"`
	Deploy *struct {
		State    string            `json:"state"`
		Version  uint64            `json:"version"`
		Reason   string            `json:"reason"`
		Deployed uint64            `json:"deployed_version"`
		Running  map[string]string `json:"running"`
	} `json:"deploy"`
}

func modelSHA(t *testing.T, base string) string {
	t.Helper()
	var h boxHealth
	getJSON(t, base+"/healthz", -1, &h)
	if len(h.Models) != 1 {
		t.Fatalf("models: %+v", h.Models)
	}
	return h.Models[0].SHA256
}

// waitDeploy polls /healthz until the deployment state is want.
func waitDeploy(t *testing.T, base, want string, within time.Duration) boxHealth {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var h boxHealth
		getJSON(t, base+"/healthz", -1, &h)
		if h.Deploy != nil && h.Deploy.State == want {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("deploy state not %q after %v: %+v", want, within, h.Deploy)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// publishRaw publishes payload on topic as user.
func (r *fleetRig) publishRaw(t *testing.T, user, topic string, payload []byte, retain bool) {
	t.Helper()
	pw, _ := os.ReadFile(r.passwd[user])
	c := paho.NewClient(paho.NewClientOptions().AddBroker(r.broker.URL()).SetClientID("test-" + user).
		SetUsername(user).SetPassword(strings.TrimSpace(string(pw))))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect as %s: %v", user, tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Publish(topic, 1, retain, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s as %s: %v", topic, user, tok.Error())
	}
}

// retained reads the retained message on topic as the deployer.
func (r *fleetRig) retained(t *testing.T, topic string) []byte {
	t.Helper()
	pw, _ := os.ReadFile(r.passwd["deployer"])
	c := paho.NewClient(paho.NewClientOptions().AddBroker(r.broker.URL()).SetClientID("test-read").
		SetUsername("deployer").SetPassword(strings.TrimSpace(string(pw))))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	got := make(chan []byte, 1)
	c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
		select {
		case got <- m.Payload():
		default:
		}
	})
	select {
	case p := <-got:
		return p
	case <-time.After(5 * time.Second):
		t.Fatalf("nothing retained on %s", topic)
		return nil
	}
}

func TestFleetStagedRollout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three edged processes and a broker")
	}
	r := newFleetRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	type box struct {
		cmd  *exec.Cmd
		log  *lockedBuffer
		base string
	}
	boxes := map[string]box{}
	for _, d := range []string{"shop-1", "shop-2", "shop-3"} {
		cmd, log, base := r.box(t, ctx, d, "")
		boxes[d] = box{cmd, log, base}
	}
	original := modelSHA(t, boxes["shop-1"].base)

	// A model whose labels are wrong fails its canary images on the canary
	// box and never reaches the others.
	out, err := r.deploy(t, ctx, "--group", "north", "--canary", "1", "--model", r.v2, "--labels", r.badLabel,
		"--canary-image", r.orange+"=orange", "--canary-image", r.shuttle+"=space shuttle")
	if err == nil || !strings.Contains(out, "canary failed") || !strings.Contains(out, "shop-1") || !strings.Contains(out, `expected "orange"`) {
		t.Fatalf("a failing canary: err %v, output:\n%s", err, out)
	}
	h := waitDeploy(t, boxes["shop-1"].base, "rejected", 10*time.Second)
	if !strings.Contains(h.Deploy.Reason, "canary 0") {
		t.Errorf("shop-1's reason: %q", h.Deploy.Reason)
	}
	for d, b := range boxes {
		if got := modelSHA(t, b.base); got != original {
			t.Errorf("%s runs %s after a failed canary, want %s", d, got, original)
		}
	}
	for _, d := range []string{"shop-2", "shop-3"} {
		waitDeploy(t, boxes[d].base, "idle", time.Second) // never received anything
	}
	badEnvelope := r.retained(t, fleet.DeviceTopic("edged", "shop-1"))

	// The good model goes to the canary, then to the group.
	out, err = r.deploy(t, ctx, "--group", "north", "--canary", "1", "--model", r.v2,
		"--canary-image", r.orange+"=orange", "--canary-image", r.shuttle+"=space shuttle")
	if err != nil {
		t.Fatalf("staged rollout: %v\n%s", err, out)
	}
	if !strings.Contains(out, "canaries applied and healthy") {
		t.Errorf("rollout output:\n%s", out)
	}
	var v2sha string
	for d, b := range boxes {
		h := waitDeploy(t, b.base, "applied", 30*time.Second)
		if v2sha == "" {
			v2sha = h.Deploy.Running["default"]
		}
		if got := modelSHA(t, b.base); got == original || !strings.HasPrefix(v2sha, got) {
			t.Errorf("%s runs %s, want the deployed %s", d, got, v2sha)
		}
	}

	// The status command shows every box.
	st, err := exec.CommandContext(ctx, edgedBin, "deploy", "status", "--broker", r.broker.URL(), "--username", "deployer",
		"--password-file", r.passwd["deployer"], "--group", "north").CombinedOutput()
	if err != nil || strings.Count(string(st), "applied") != 3 {
		t.Errorf("deploy status: %v\n%s", err, st)
	}

	// What must change nothing on shop-2, each with a rejected status.
	dev := fleet.DeviceTopic("edged", "shop-2")
	running := modelSHA(t, boxes["shop-2"].base)
	rejects := []struct {
		name, why string
		send      func()
	}{
		{"unsigned", "unsigned", func() {
			env, _ := json.Marshal(fleet.Envelope{Manifest: []byte(`{"id":"x","version":99999999999999}`)})
			r.publishRaw(t, "deployer", dev, env, false)
		}},
		{"malformed", "not a signed envelope", func() { r.publishRaw(t, "deployer", dev, []byte("{not json"), false) }},
		{"wrong key", "no valid signature by a trusted key", func() {
			other := filepath.Join(r.dir, "intruder")
			if out, err := exec.Command(edgedBin, "keygen", "--out", other).CombinedOutput(); err != nil {
				t.Fatalf("keygen: %v %s", err, out)
			}
			k, err := fleet.ReadPrivateKey(other + ".key")
			if err != nil {
				t.Fatal(err)
			}
			d, err := fleet.Sign(fleet.Build{Devices: []string{"shop-2"}, Model: []byte("not a model, but it is never fetched")}, k, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			r.publishRaw(t, "deployer", dev, d.Envelope, false)
		}},
		{"replayed", "not above", func() { r.publishRaw(t, "deployer", dev, badEnvelope, false) }},
		{"for another device", "not this box", func() {
			k, _ := fleet.ReadPrivateKey(r.key)
			d, _ := fleet.Sign(fleet.Build{Devices: []string{"shop-9"}, Model: []byte("x")}, k, time.Now())
			r.publishRaw(t, "deployer", dev, d.Envelope, false)
		}},
		{"truncated", "download stalled", func() {
			k, _ := fleet.ReadPrivateKey(r.key)
			model, _ := os.ReadFile(r.v2)
			model[len(model)/2] ^= 0xff // another model: its chunks are announced, one arrives cut short
			d, err := fleet.Sign(fleet.Build{Devices: []string{"shop-2"}, Model: model, ChunkSize: 1 << 20}, k, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			for sum, parts := range d.Parts() {
				for i, p := range parts {
					if i == 2 {
						p = p[:len(p)/2]
					}
					r.publishRaw(t, "deployer", fleet.ChunkTopic(dev, sum, i), p, true)
				}
			}
			r.publishRaw(t, "deployer", dev, d.Envelope, false)
		}},
	}
	for _, rj := range rejects {
		rj.send()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var h boxHealth
			getJSON(t, boxes["shop-2"].base+"/healthz", -1, &h)
			if h.Deploy.State == "rejected" && strings.Contains(h.Deploy.Reason, rj.why) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: state %q reason %q, want rejected with %q\n%s", rj.name, h.Deploy.State, h.Deploy.Reason, rj.why, tail(boxes["shop-2"].log.String()))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got := modelSHA(t, boxes["shop-2"].base); got != running {
			t.Fatalf("%s: shop-2 runs %s, want %s", rj.name, got, running)
		}
	}
	if n := strings.Count(boxes["shop-2"].log.String(), "deployment rejected"); n != len(rejects) {
		t.Errorf("%d rejection log lines for %d rejections", n, len(rejects))
	}

	// A device cannot deploy to another one: the ACL drops its publish.
	k, _ := fleet.ReadPrivateKey(r.key)
	d, _ := fleet.Sign(fleet.Build{Devices: []string{"shop-3"}, Rollback: true}, k, time.Now())
	r.publishRaw(t, "shop-1", fleet.DeviceTopic("edged", "shop-3"), d.Envelope, false)
	time.Sleep(2 * time.Second)
	if h := waitDeploy(t, boxes["shop-3"].base, "applied", time.Second); h.Deploy.Version == d.Manifest.Version {
		t.Errorf("shop-3 took a deployment shop-1 published: %+v", h.Deploy)
	}

	// A rollback manifest takes shop-3 back to the model it kept.
	out, err = r.deploy(t, ctx, "--device", "shop-3", "--rollback")
	if err != nil {
		t.Fatalf("rollback: %v\n%s\nshop-3's log:\n%s", err, out, tail(boxes["shop-3"].log.String()))
	}
	if got := modelSHA(t, boxes["shop-3"].base); got != original {
		t.Errorf("shop-3 runs %s after the rollback, want %s", got, original)
	}

	// A configuration with a bad key is rejected with the field named.
	badCfg := filepath.Join(r.dir, "bad.yaml")
	os.WriteFile(badCfg, []byte("models:\n  - {name: default}\ncameras:\n  - {name: door, source: x.avi, fpz: 2}\n"), 0o644)
	out, err = r.deploy(t, ctx, "--device", "shop-1", "--config", badCfg)
	if err == nil || !strings.Contains(out, "cameras[0].fpz") {
		t.Errorf("a config with a bad key: %v\n%s", err, out)
	}
	// A good configuration goes through the reload path: the publish
	// settings change live, the frame rate is listed as needing a restart.
	cfgData, err := os.ReadFile(filepath.Join(r.dir, "shop-1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	goodCfg := filepath.Join(r.dir, "good.yaml")
	doc := strings.Replace(string(cfgData), "fps: 1, loop: true,", "fps: 2, loop: true, publish: {mode: change, heartbeat: 30s},", 1)
	os.WriteFile(goodCfg, []byte(doc), 0o644)
	out, err = r.deploy(t, ctx, "--device", "shop-1", "--config", goodCfg)
	if err != nil {
		t.Fatalf("a good config: %v\n%s", err, out)
	}
	var st1 fleet.Status
	json.Unmarshal(r.retained(t, fleet.StatusTopic("edged", "shop-1")), &st1)
	if st1.State != fleet.StateApplied || !slices.Contains(st1.Restart, "cameras[0].fps") {
		t.Errorf("after a config deployment: %+v", st1)
	}
	for d, b := range boxes {
		if b.cmd.ProcessState != nil {
			t.Errorf("%s exited: %v", d, b.cmd.ProcessState)
		}
	}
	var wg sync.WaitGroup
	for _, b := range boxes {
		wg.Go(func() { stopEdged(t, b.cmd, b.log) })
	}
	wg.Wait()
}

// A box killed during a download keeps its old model, resumes the download
// where it stopped when it starts again, and applies the deployment.
func TestFleetKillDuringDownload(t *testing.T) {
	if testing.Short() {
		t.Skip("runs edged and a broker")
	}
	r := newFleetRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd, _, base := r.box(t, ctx, "shop-1", "")
	original := modelSHA(t, base)

	k, err := fleet.ReadPrivateKey(r.key)
	if err != nil {
		t.Fatal(err)
	}
	model, _ := os.ReadFile(r.v2)
	d, err := fleet.Sign(fleet.Build{Devices: []string{"shop-1"}, Model: model, ChunkSize: 256 << 10}, k, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dev := fleet.DeviceTopic("edged", "shop-1")
	var sum string
	var parts [][]byte
	for s, p := range d.Parts() {
		sum, parts = s, p
	}
	half := len(parts) / 2
	for i := 0; i < half; i++ {
		r.publishRaw(t, "deployer", fleet.ChunkTopic(dev, sum, i), parts[i], true)
	}
	r.publishRaw(t, "deployer", dev, d.Envelope, true)
	waitDeploy(t, base, "downloading", 20*time.Second)
	// Once the status says the first half is on disk, kill it mid-download.
	partial := filepath.Join(r.dir, "state-shop-1", "fleet", "partial", sum)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st fleet.Status
		if json.Unmarshal(r.retained(t, fleet.StatusTopic("edged", "shop-1")), &st) == nil && st.Bytes >= int64(half)*(256<<10) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first half never arrived: %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Stat(partial); err != nil {
		t.Fatalf("no partial download after the kill: %v", err)
	}

	// It starts on the old model and picks the download up.
	cmd, log, base := r.box(t, ctx, "shop-1", "")
	if got := modelSHA(t, base); got != original {
		t.Fatalf("after the kill edged runs %s, want the old %s", got, original)
	}
	var st fleet.Status
	deadline = time.Now().Add(20 * time.Second)
	for {
		json.Unmarshal(r.retained(t, fleet.StatusTopic("edged", "shop-1")), &st)
		if st.State == fleet.StateDownloading && st.Version == d.Manifest.Version {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not downloading again after the restart: %+v\n%s", st, tail(log.String()))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st.Bytes < int64(half)*(256<<10) {
		t.Errorf("resumed at %d bytes, want the %d already received", st.Bytes, half*(256<<10))
	}
	for i := half; i < len(parts); i++ {
		r.publishRaw(t, "deployer", fleet.ChunkTopic(dev, sum, i), parts[i], true)
	}
	waitDeploy(t, base, "applied", 30*time.Second)
	if got := modelSHA(t, base); got == original || !strings.HasPrefix(sum, got) {
		t.Errorf("after the download edged runs %s, want %s", got, sum)
	}

	// Over HTTP: a server that sends more than the manifest announced is
	// refused; the right bytes are applied.
	v3 := append([]byte(nil), model...)
	i := bytes.Index(v3, []byte("model card v2!"))
	copy(v3[i:], "model card v3!")
	v3file := filepath.Join(r.dir, "v3.tflite")
	os.WriteFile(v3file, v3, 0o644)
	var extra atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write(v3)
		if extra.Load() {
			w.Write([]byte("and then some"))
		}
	}))
	defer srv.Close()
	extra.Store(true)
	out, err := r.deploy(t, ctx, "--device", "shop-1", "--model", v3file, "--url", srv.URL+"/v3.tflite")
	if err == nil || !strings.Contains(out, "more than the") {
		t.Errorf("an oversized download: %v\n%s", err, out)
	}
	if got := modelSHA(t, base); !strings.HasPrefix(sum, got) {
		t.Errorf("after a refused download edged runs %s, want %s", got, sum)
	}
	extra.Store(false)
	out, err = r.deploy(t, ctx, "--device", "shop-1", "--model", v3file, "--url", srv.URL+"/v3.tflite")
	if err != nil {
		t.Fatalf("a download over HTTP: %v\n%s", err, out)
	}
	if got := modelSHA(t, base); got == original || strings.HasPrefix(sum, got) {
		t.Errorf("after the HTTP deployment edged runs %s", got)
	}
	stopEdged(t, cmd, log)
}

// A box that started while the broker was away publishes its status once
// the broker is there, so that `edged deploy --canary` finds it.
func TestFleetStatusAfterBrokerComesBack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs edged and a broker")
	}
	b := mqtttest.Start(t)
	b.Stop()
	dir := t.TempDir()
	if out, err := exec.Command(edgedBin, "keygen", "--out", filepath.Join(dir, "op")).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v %s", err, out)
	}
	video := filepath.Join(dir, "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "orange.jpg")}, samplevideo.Options{Width: 224, Height: 224, FPS: 5, FramesPerPhoto: 5}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "edged.yaml")
	writeText(t, cfg, fmt.Sprintf(`device: late-1
state_dir: %s
broker: {url: %s}
cameras:
  - {name: cam, source: %s, fps: 1, loop: true}
fleet: {enabled: true, trusted_keys: [%s], groups: [late]}
`, filepath.Join(dir, "state"), b.URL(), video, filepath.Join(dir, "op.pub")))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, log := start(t, ctx, nil, "run", "--config", cfg)
	time.Sleep(7 * time.Second) // past the first status's 5 s wait
	b.Restart()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("late-test"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	got := make(chan fleet.Status, 1)
	c.Subscribe(fleet.StatusTopic("edged", "late-1"), 1, func(_ paho.Client, m paho.Message) {
		var s fleet.Status
		if json.Unmarshal(m.Payload(), &s) == nil {
			select {
			case got <- s:
			default:
			}
		}
	})
	select {
	case s := <-got:
		if s.State != fleet.StateIdle || !slices.Contains(s.Groups, "late") {
			t.Errorf("status %+v", s)
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("no status after the broker came back\n%s", tail(log.String()))
	}
	cmd.Process.Kill()
}
