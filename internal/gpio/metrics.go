package gpio

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// gauges are the controller's metrics: each input's accepted level and
// each output's state, by pin.
type gauges struct {
	input, output *prometheus.GaugeVec
}

func newGauges() gauges {
	return gauges{
		input: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "edged", Name: "gpio_input_active",
			Help: "1 while a GPIO input is active (after debounce), by pin."}, []string{"pin"}),
		output: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "edged", Name: "gpio_output_on",
			Help: "1 while a GPIO output is on, by pin."}, []string{"pin"}),
	}
}

func gauge(on bool) float64 {
	if on {
		return 1
	}
	return 0
}

// Register adds the GPIO metrics (edged_gpio_input_active and
// edged_gpio_output_on, by pin) to r. A controller that replaces another
// (a reload) takes the names over.
func (c *Controller) Register(r prometheus.Registerer) error {
	for _, v := range []*prometheus.GaugeVec{c.gauges.input, c.gauges.output} {
		err := r.Register(v)
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			r.Unregister(are.ExistingCollector)
			err = r.Register(v)
		}
		if err != nil {
			return fmt.Errorf("gpio metrics: %w", err)
		}
	}
	return nil
}
