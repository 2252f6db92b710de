package gpio

import (
	"testing"
	"time"

	"github.com/edged-io/edged/internal/result"
)

func TestLEDPattern(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		h    result.Health
		at   time.Duration
		want bool
	}{
		{result.Healthy, 0, true}, {result.Healthy, ms(500), true}, {result.Healthy, ms(1700), true},
		{result.Degraded, 0, true}, {result.Degraded, ms(499), true}, {result.Degraded, ms(500), false}, {result.Degraded, ms(999), false}, {result.Degraded, ms(1000), true},
		{result.Unhealthy, 0, true}, {result.Unhealthy, ms(99), true}, {result.Unhealthy, ms(100), false}, {result.Unhealthy, ms(200), true}, {result.Unhealthy, ms(350), false},
	} {
		if got := ledOn(tc.h, tc.at); got != tc.want {
			t.Errorf("%v at %v: on = %v, want %v", tc.h, tc.at, got, tc.want)
		}
	}
}
