package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/samplevideo"
)

// edged watch on a real broker: a real edged's results show in its table,
// and results lost or repeated on another device's topic are reported.
func TestWatch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs edged and a broker")
	}
	b := mqtttest.Start(t)
	video := filepath.Join(t.TempDir(), "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "orange.jpg")}, samplevideo.Options{Width: 224, Height: 224, FPS: 5, FramesPerPhoto: 5}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	box, _ := start(t, ctx, nil, "run", "--source", video, "--loop", "--fps", "5", "--broker", b.URL(), "--device", "shop", "--camera", "till")
	watcher := exec.CommandContext(ctx, edgedBin, "watch", "--broker", b.URL(), "--for", "8s", "--interval", "1s")
	var out lockedBuffer
	watcher.Stdout, watcher.Stderr = &out, &out
	if err := watcher.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	pub := func(seq int) {
		payload := fmt.Sprintf(`{"v":1,"device":"ghost","camera":"c","boot":"feedface01","seq":%d,"labels":[{"label":"x","score":1}]}`, seq)
		if o, err := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", strings.Split(b.Addr, ":")[1], "-q", "1",
			"-t", "edged/ghost/c/result", "-m", payload).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, o)
		}
	}
	for _, s := range []int{1, 2, 6, 6} {
		pub(s)
	}
	if err := watcher.Wait(); err != nil {
		t.Fatalf("edged watch: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"ghost/c: 3 results lost (seq 3 to 5)", "ghost/c: duplicate of seq 6"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%s", want, got)
		}
	}
	// The last table has the real box with its label and no losses.
	tables := strings.Split(got, "DEVICE ")
	last := tables[len(tables)-1]
	var row []string
	for _, l := range strings.Split(last, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "shop" {
			row = f
		}
	}
	if len(row) < 10 || row[1] != "till" || row[2] != "online" || row[3] != "orange" || row[len(row)-3] != "0" {
		t.Errorf("the box's row %q in:\n%s", row, last)
	}
	box.Process.Kill()
}
