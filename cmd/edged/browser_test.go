package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/publish"
	"github.com/edged-io/edged/internal/samplevideo"
)

// chromiumPath finds Debian's chromium; without it the browser tests skip,
// except in CI, where `make deps` has installed it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: make deps installs it")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// artifacts is the folder the browser tests keep their screenshots in:
// $EDGED_TEST_ARTIFACTS, or build/test-artifacts in the checkout.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("EDGED_TEST_ARTIFACTS")
	if dir == "" {
		dir = repo("build", "test-artifacts")
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserWatch records what a page does that a test must see: requests
// to anywhere but loopback, uncaught exceptions and console errors.
type browserWatch struct {
	mu       sync.Mutex
	offsite  []string
	problems []string
}

// listen reads the tab's console and requests until ctx ends.
func (b *browserWatch) listen(ctx context.Context) {
	messages := chromedp.Console(ctx)
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			switch {
			case m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleWarning && m.Type != chromedp.ConsoleException:
			case m.Source == "network" && strings.Contains(m.Text, "status of 401"):
				// The browser logs the refusal the test asks for
				// (applying a region before signing in).
			default:
				b.mu.Lock()
				b.problems = append(b.problems, m.String()+" ("+m.URL+")")
				b.mu.Unlock()
			}
		}
	}()
	go func() {
		for e, err := range requests {
			if err != nil {
				return
			}
			u, perr := url.Parse(e.Request.URL)
			if perr != nil || (u.Scheme != "data" && u.Hostname() != "127.0.0.1") {
				b.mu.Lock()
				b.offsite = append(b.offsite, e.Request.URL)
				b.mu.Unlock()
			}
		}
	}()
}

func (b *browserWatch) check(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.offsite) > 0 {
		t.Errorf("the page fetched from beyond loopback: %v", b.offsite)
	}
	if len(b.problems) > 0 {
		t.Errorf("the page's console: %v", b.problems)
	}
}

// newBrowser starts a headless Chromium that can reach loopback only
// (every other host name resolves to nothing, and no proxy is used).
func newBrowser(t *testing.T, ctx context.Context) (context.Context, *browserWatch) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // root in CI containers
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	w := &browserWatch{}
	w.listen(bctx)
	return bctx, w
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: a PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// eval runs a JavaScript expression in the page and returns its value.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %.60q: %v", expr, err)
	}
	return v
}

// text returns the text of the element that the CSS selector names.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

// poll waits until the expression is true in the page.
func poll(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout))(ctx, t)
		return err
	})
}

// pageView is one line of a camera's labels as the page shows them.
type pageView struct {
	Frame  string `json:"frame"`
	Region string `json:"region"`
	Label  string `json:"label"`
	Text   string `json:"text"`
}

const readViews = `[...document.querySelectorAll('.camera[data-camera="lot"] .labels .view')].map((e) =>
	({frame: e.dataset.frame, region: e.dataset.region, label: e.dataset.label, text: e.textContent}))`

// TestLiveViewInBrowser drives the live view in a real headless Chromium
// that can reach nothing but loopback, on a real edged with a real
// broker: the frame changes, the labels shown are those of the MQTT
// results of the same frames, a rectangle dragged on the frame gives its
// YAML and, once signed in, is applied through the reload path (the
// camera's results then come from that region), samples are labelled and
// discarded with single key presses, the page fits a phone's width, and
// nothing reaches the console. Screenshots are kept (see artifacts).
func TestLiveViewInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs edged and chromium")
	}
	shots := artifacts(t)
	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, "edged/box/lot/#")
	dir := t.TempDir()
	video := filepath.Join(dir, "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "orange.jpg"), photo(t, "space_shuttle.jpg")},
		samplevideo.Options{Width: 640, Height: 360, FPS: 10, FramesPerPhoto: 10}); err != nil {
		t.Fatal(err)
	}
	const token = "browser-test-token-0123456789"
	writeText(t, filepath.Join(dir, "token"), token+"\n")
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "edged.yaml")
	writeText(t, cfg, fmt.Sprintf(`device: box
state_dir: %s
broker: {url: %s}
http: {addr: "127.0.0.1:0", token_file: token}
cameras:
  - name: lot
    source: %s
    fps: 4
    loop: true
    samples: {when: [interval], interval: 300ms, max_count: 50}
`, state, b.URL(), video))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cmd, log := start(t, ctx, nil, "run", "--config", cfg)
	base := "http://" + httpAddr(t, log)
	waitCamera(t, base, "lot", 30*time.Second, "streaming", func(s string, _ uint64) bool { return s == "streaming" })

	bctx, watch := newBrowser(t, ctx)
	const img = `.camera[data-camera="lot"] img`
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(img))); err != nil {
		t.Fatalf("loading the page: %v\n%s", err, tail(log.String()))
	}

	// The frame changes: the image's pixels, read back through a canvas,
	// differ over a few seconds (the video switches photos every second).
	const pixels = `(() => { const i = document.querySelector('.camera[data-camera="lot"] img');
		if (!i.complete || !i.naturalWidth) return "";
		const c = document.createElement("canvas"); c.width = 32; c.height = 18;
		const g = c.getContext("2d"); g.drawImage(i, 0, 0, 32, 18);
		return Array.from(g.getImageData(0, 0, 32, 18).data).join(","); })()`
	seen := map[string]bool{}
	for deadline := time.Now().Add(20 * time.Second); len(seen) < 3 && time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if px := eval[string](t, bctx, pixels); px != "" {
			seen[px] = true
		}
	}
	if len(seen) < 3 {
		t.Errorf("the live frame showed %d distinct pictures in 20 s, want it to change", len(seen))
	}
	screenshot(t, bctx, shots, "1-live.png")

	// The labels shown are those of the MQTT result of the same frame.
	compared := 0
	for deadline := time.Now().Add(30 * time.Second); compared < 4 && time.Now().Before(deadline); time.Sleep(700 * time.Millisecond) {
		views := eval[[]pageView](t, bctx, readViews)
		if len(views) != 1 || views[0].Frame == "" {
			continue
		}
		v := views[0]
		p, ok := resultOfFrame(t, ctx, sub, v.Frame, "")
		if !ok {
			t.Errorf("the page shows frame %s, for which no MQTT result came", v.Frame)
			continue
		}
		want := fmt.Sprintf("%s %.2f", p.Labels[0].Label, p.Labels[0].Score)
		if v.Label != p.Labels[0].Label || !strings.Contains(v.Text, want) {
			t.Errorf("frame %s: the page shows %q (label %q), its MQTT result %q", v.Frame, v.Text, v.Label, want)
		}
		compared++
	}
	if compared < 4 {
		t.Errorf("compared %d frames' labels with their MQTT results, want 4", compared)
	}

	// Drawing a region gives its YAML, in fractions and pixels.
	box := eval[map[string]float64](t, bctx, `(() => { const r = document.querySelector('.camera[data-camera="lot"] img').getBoundingClientRect();
		return {x: r.left, y: r.top, w: r.width, h: r.height}; })()`)
	x0, y0 := box["x"]+0.25*box["w"], box["y"]+0.2*box["h"]
	x1, y1 := box["x"]+0.75*box["w"], box["y"]+0.8*box["h"]
	if err := chromedp.Do(bctx, chromedp.DragAndDropXY(x0, y0, x1, y1, 5)); err != nil {
		t.Fatalf("drawing a region: %v", err)
	}
	yaml := text(t, bctx, "#region-yaml")
	m := regexp.MustCompile(`roi: \{x: ([0-9.]+), y: ([0-9.]+), w: ([0-9.]+), h: ([0-9.]+)\}`).FindStringSubmatch(yaml)
	px := regexp.MustCompile(`in pixels: roi: \{x: (\d+), y: (\d+), w: (\d+), h: (\d+)\}`).FindStringSubmatch(yaml)
	if m == nil || px == nil {
		t.Fatalf("region YAML after a drag:\n%s", yaml)
	}
	for i, want := range []float64{0.25, 0.2, 0.5, 0.6} {
		if got, _ := strconv.ParseFloat(m[i+1], 64); got < want-0.02 || got > want+0.02 {
			t.Errorf("roi[%d] %v, want about %v:\n%s", i, got, want, yaml)
		}
	}
	for i, want := range []float64{160, 72, 320, 216} { // of the 640×360 frame
		if got, _ := strconv.ParseFloat(px[i+1], 64); got < want-12 || got > want+12 {
			t.Errorf("roi[%d] %v pixels, want about %v:\n%s", i, got, want, yaml)
		}
	}
	screenshot(t, bctx, shots, "2-region-drawn.png")

	// Applying it needs the token: refused first, then signed in.
	if err := chromedp.Do(bctx,
		chromedp.Clear(chromedp.CSS("#region-name")),
		// Enter submits the form as a person's key press does; a
		// click could land beside the button when the inbox above
		// changes height.
		chromedp.SendKeys(chromedp.CSS("#region-name"), "spot"+kb.Enter),
		poll(`document.getElementById("region-status").textContent.startsWith("sign in")`, 10*time.Second),
		chromedp.WaitVisible(chromedp.CSS("#signin"))); err != nil {
		t.Fatalf("applying the region before signing in: %v", err)
	}
	if yaml := text(t, bctx, "#region-yaml"); !strings.Contains(yaml, "- name: spot\n") {
		t.Errorf("the YAML does not follow the name typed:\n%s", yaml)
	}
	status := text(t, bctx, "#region-status")
	if !strings.Contains(status, "sign in") {
		t.Errorf("applying without the token: %q", status)
	}
	if err := chromedp.Do(bctx,
		// Enter, not Submit: form.submit() skips the page's handler.
		chromedp.SendKeys(chromedp.CSS(`#signin input[name="token"]`), token+kb.Enter),
		chromedp.WaitNotVisible(chromedp.CSS("#signin")),
		chromedp.SendKeys(chromedp.CSS("#region-name"), kb.Enter),
		poll(`document.getElementById("region-status").textContent.startsWith("applied")`, 30*time.Second)); err != nil {
		t.Fatalf("applying the region: %v (status %q)\n%s", err, text(t, bctx, "#region-status"), tail(log.String()))
	}
	status = text(t, bctx, "#region-status")
	if !strings.Contains(status, "camera lot (restarted with 1 regions)") {
		t.Errorf("region applied: %q", status)
	}
	// The camera's results now come from the region, on MQTT and in the page.
	sub.WaitFor(ctx, t, "edged/box/lot/result", 30*time.Second, func(msgs []mqtttest.Message) bool {
		for _, p := range payloads(t, msgs) {
			if p.Region == "spot" {
				return true
			}
		}
		return false
	})
	var views []pageView
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		views = eval[[]pageView](t, bctx, readViews)
		if len(views) == 1 && views[0].Region == "spot" {
			break
		}
	}
	if len(views) != 1 || views[0].Region != "spot" || !strings.HasPrefix(views[0].Text, "frame "+views[0].Frame+" · spot: ") {
		t.Errorf("after applying the region the page shows %+v", views)
	} else if p, ok := resultOfFrame(t, ctx, sub, views[0].Frame, "spot"); !ok || p.Labels[0].Label != views[0].Label {
		t.Errorf("region spot, frame %s: the page shows %q, MQTT %+v", views[0].Frame, views[0].Label, p.Labels)
	}
	edits, err := os.ReadFile(filepath.Join(state, "regions-edited-box.json"))
	if err != nil || !strings.Contains(string(edits), `"name": "spot"`) {
		t.Errorf("the applied region is not kept in the state directory: %v\n%s", err, edits)
	}
	screenshot(t, bctx, shots, "3-region-applied.png")

	// Labelling with the keyboard: 1 labels the shown sample with the
	// first class, d discards the next one.
	var before, after struct {
		Waiting int `json:"waiting"`
	}
	waiting := func() int {
		var items []json.RawMessage
		getJSON(t, base+"/api/samples?max=1000", 200, &items)
		return len(items)
	}
	for deadline := time.Now().Add(20 * time.Second); waiting() < 3 && time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
	}
	if err := chromedp.Do(bctx,
		// Keys typed into a field are text, not labels.
		chromedp.Blur(chromedp.CSS("#region-name")),
		chromedp.Evaluate[chromedp.Void](`void loadInbox()`),
		chromedp.WaitVisible(chromedp.CSS(`#inbox-current img`)),
		chromedp.WaitVisible(chromedp.CSS(`#classes li`))); err != nil {
		t.Fatalf("opening the inbox: %v", err)
	}
	first := text(t, bctx, "#classes li")
	class := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(first), "1"))
	before.Waiting = waiting()
	if err := chromedp.Do(bctx,
		chromedp.KeyEvent("1"),
		poll(`document.getElementById("inbox-status").textContent.startsWith("labelled ")`, 10*time.Second)); err != nil {
		t.Fatalf("labelling with key 1: %v", err)
	}
	status = text(t, bctx, "#inbox-status")
	if !strings.HasPrefix(status, "labelled "+class+": ") {
		t.Errorf("after key 1: %q, want the class %q", status, class)
	}
	screenshot(t, bctx, shots, "4-labelled.png")
	if err := chromedp.Do(bctx,
		chromedp.KeyEvent("d"),
		poll(`document.getElementById("inbox-status").textContent.startsWith("discarded")`, 10*time.Second)); err != nil {
		t.Fatalf("discarding with key d: %v", err)
	}
	var classes map[string]int
	getJSON(t, base+"/api/classes", 200, &classes)
	if classes[class] != 1 {
		t.Errorf("dataset classes %v, want one sample of %q", classes, class)
	}
	after.Waiting = waiting()
	if after.Waiting > before.Waiting+20 { // samples keep coming; two went
		t.Errorf("waiting samples %d → %d", before.Waiting, after.Waiting)
	}

	// On a phone's width the page needs no sideways scrolling.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Sleep(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if eval[bool](t, bctx, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
		t.Error("the page is wider than a phone's screen")
	}
	screenshot(t, bctx, shots, "5-phone.png")
	watch.check(t)
	stopEdged(t, cmd, log)
	t.Logf("screenshots in %s", shots)
}

// resultOfFrame waits a little for the MQTT result of camera lot's frame
// (a decimal string) and region, the newest one with that number.
func resultOfFrame(t *testing.T, ctx context.Context, sub *mqtttest.Subscriber, frame, region string) (publish.Payload, bool) {
	t.Helper()
	n, err := strconv.ParseUint(frame, 10, 64)
	if err != nil {
		t.Fatalf("frame %q", frame)
	}
	var found publish.Payload
	ok := false
	for deadline := time.Now().Add(5 * time.Second); !ok && time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(100 * time.Millisecond) {
		for _, p := range payloads(t, sub.Messages("edged/box/lot/result")) {
			if p.Frame == n && p.Region == region {
				found, ok = p, true
			}
		}
	}
	return found, ok
}
