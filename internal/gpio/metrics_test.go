package gpio

import (
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/result"
)

func TestMetrics(t *testing.T) {
	b := newBoard("PIR", "RELAY")
	fc := clockwork.NewFakeClock()
	cfg := config.GPIO{Inputs: []config.GPIOInput{inputCfg("PIR", "front")},
		Outputs: []config.GPIOOutput{{Pin: "RELAY", HoldOff: time.Second, When: personRule()}}}
	c, err := New(cfg, Options{Log: quiet, Lookup: b.lookup, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := c.Register(reg); err != nil {
		t.Fatal(err)
	}
	c.Observe("front", mkResult(result.Label{Label: "person", Score: 0.9}))
	want := `
# HELP edged_gpio_input_active 1 while a GPIO input is active (after debounce), by pin.
# TYPE edged_gpio_input_active gauge
edged_gpio_input_active{pin="PIR"} 0
# HELP edged_gpio_output_on 1 while a GPIO output is on, by pin.
# TYPE edged_gpio_output_on gauge
edged_gpio_output_on{pin="RELAY"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	// A second controller (a reload) takes the names over.
	c.Close()
	c2, err := New(cfg, Options{Log: quiet, Lookup: b.lookup, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Register(reg); err != nil {
		t.Fatalf("registering a second controller: %v", err)
	}
	if got := testutil.ToFloat64(c2.gauges.output.WithLabelValues("RELAY")); got != 0 {
		t.Errorf("second controller's relay gauge %v, want 0", got)
	}
}
