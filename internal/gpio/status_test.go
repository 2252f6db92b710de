package gpio

import (
	"testing"
	"time"
)

func TestLEDPattern(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		h    Health
		at   time.Duration
		want bool
	}{
		{Healthy, 0, true}, {Healthy, ms(500), true}, {Healthy, ms(1700), true},
		{Degraded, 0, true}, {Degraded, ms(499), true}, {Degraded, ms(500), false}, {Degraded, ms(999), false}, {Degraded, ms(1000), true},
		{Failed, 0, true}, {Failed, ms(99), true}, {Failed, ms(100), false}, {Failed, ms(200), true}, {Failed, ms(350), false},
	} {
		if got := ledOn(tc.h, tc.at); got != tc.want {
			t.Errorf("%v at %v: on = %v, want %v", tc.h, tc.at, got, tc.want)
		}
	}
}
