package main

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/samplevideo"
)

// A region with snapshot: true publishes a JPEG of the frame, retained, on
// its snapshot topic at its state changes, as Home Assistant's MQTT image
// entity reads it.
func TestSnapshotOnStateChange(t *testing.T) {
	if testing.Short() {
		t.Skip("runs edged and a broker")
	}
	b := mqtttest.Start(t)
	dir := t.TempDir()
	video := filepath.Join(dir, "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "orange.jpg"), photo(t, "space_shuttle.jpg")},
		samplevideo.Options{Width: 640, Height: 360, FPS: 10, FramesPerPhoto: 20}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "edged.yaml")
	writeText(t, cfg, fmt.Sprintf(`device: snapdev
state_dir: %s
broker: {url: %s}
cameras:
  - name: lot
    source: %s
    fps: 10
    loop: true
    regions:
      - {name: spot, roi: {x: 0.0, y: 0.0, w: 1.0, h: 1.0}, confirm: 2, snapshot: true}
`, filepath.Join(dir, "state"), b.URL(), video))
	got := make(chan []byte, 10)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("snap-test"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	c.Subscribe("edged/snapdev/lot/spot/snapshot", 1, func(_ paho.Client, m paho.Message) {
		select {
		case got <- append([]byte(nil), m.Payload()...):
		default:
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, log := start(t, ctx, nil, "run", "--config", cfg)
	for i := 0; i < 2; i++ { // the first state, then a change
		select {
		case p := <-got:
			img, err := jpeg.Decode(bytes.NewReader(p))
			if err != nil {
				t.Fatalf("snapshot %d is not a JPEG: %v", i, err)
			}
			if w := img.Bounds().Dx(); w != 640 {
				t.Errorf("snapshot %d is %d wide, want the frame's 640", i, w)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("snapshot %d never came\n%s", i, tail(log.String()))
		}
	}
	stopEdged(t, cmd, log)
}
