package preprocess

import (
	"strings"
	"testing"
)

// TestBoxPlan: a region's box in pixels or fractions resolves against each
// frame's size; fractions that tile the frame meet without gaps; a box
// reaching past the frame is an error naming its field.
func TestBoxPlan(t *testing.T) {
	px := func(v float64) Coord { return Coord{V: v} }
	fr := func(v float64) Coord { return Coord{V: v, Frac: true} }
	for _, tc := range []struct {
		box  Box
		w, h int
		want Rect
		err  string
	}{
		{Box{px(10), px(20), px(100), px(50)}, 640, 480, Rect{10, 20, 100, 50}, ""},
		{Box{fr(0.5), fr(0.0), fr(0.5), fr(1.0)}, 640, 480, Rect{320, 0, 320, 480}, ""},
		{Box{fr(0.5), fr(0.0), fr(0.5), fr(1.0)}, 1920, 1080, Rect{960, 0, 960, 1080}, ""},
		{Box{fr(1.0 / 3), fr(0), fr(1.0 / 3), fr(1)}, 100, 10, Rect{33, 0, 34, 10}, ""}, // 0..33, 33..67, 67..100
		{Box{px(600), px(0), px(100), px(10)}, 640, 480, Rect{}, "cameras[0].regions[1].roi: {x: 600, y: 0, w: 100, h: 10} is 100x10 at (600,0), which does not fit the 640x480 frame"},
	} {
		crop, _, err := Spec{Box: tc.box, Field: "cameras[0].regions[1].roi", Width: 10, Height: 10}.Plan(tc.w, tc.h)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v on %dx%d: %v, want %q", tc.box, tc.w, tc.h, err, tc.err)
			}
			continue
		}
		if err != nil || crop != tc.want {
			t.Errorf("%v on %dx%d: %+v %v, want %+v", tc.box, tc.w, tc.h, crop, err, tc.want)
		}
	}
}
