package preprocess

import "testing"

// FuzzPlan checks Plan's promises for any frame size and configuration it
// accepts: the crop lies inside the frame, the destination inside the
// output, stretch and center-crop fill the output, center-crop keeps the
// output's aspect, and letterbox keeps the crop's aspect, fills one side
// and centres the image.
func FuzzPlan(f *testing.F) {
	// More seeds live in testdata/fuzz/FuzzPlan. Sizes are uint16 so that
	// most inputs pass validation (MaxSide bounds are tested apart).
	f.Add(uint16(640), uint16(480), uint16(0), uint16(0), uint16(0), uint16(0), uint16(224), uint16(224), uint8(2))
	modes := []string{Stretch, CenterCrop, Letterbox, ""}
	f.Fuzz(func(t *testing.T, sw, sh, rx, ry, rw, rh, ow, oh uint16, mode uint8) {
		srcW, srcH, outW, outH := int(sw), int(sh), int(ow), int(oh)
		s := Spec{ROI: Rect{int(rx), int(ry), int(rw), int(rh)}, Mode: modes[int(mode)%len(modes)], Width: outW, Height: outH}
		crop, dst, err := s.Plan(srcW, srcH)
		if err != nil {
			return
		}
		if crop.Empty() || crop.X < 0 || crop.Y < 0 || crop.X+crop.W > srcW || crop.Y+crop.H > srcH {
			t.Fatalf("%+v on %dx%d: crop %+v outside the frame", s, srcW, srcH, crop)
		}
		if dst.Empty() || dst.X < 0 || dst.Y < 0 || dst.X+dst.W > outW || dst.Y+dst.H > outH {
			t.Fatalf("%+v on %dx%d: dst %+v outside the output", s, srcW, srcH, dst)
		}
		full := Rect{0, 0, outW, outH}
		switch s.Mode {
		case Letterbox:
			if dst.W != outW && dst.H != outH {
				t.Fatalf("%+v: letterbox dst %+v fills neither side", s, dst)
			}
			if l, r := dst.X, outW-dst.X-dst.W; l != r && l+1 != r {
				t.Fatalf("%+v: letterbox dst %+v not centred horizontally", s, dst)
			}
			if tp, b := dst.Y, outH-dst.Y-dst.H; tp != b && tp+1 != b {
				t.Fatalf("%+v: letterbox dst %+v not centred vertically", s, dst)
			}
			// Aspect kept within rounding: |dst.W*crop.H - dst.H*crop.W|
			// is at most half a pixel of either side, scaled.
			if d := abs(dst.W*crop.H - dst.H*crop.W); dst.W > 1 && dst.H > 1 && 2*d > crop.W+crop.H {
				t.Fatalf("%+v: letterbox dst %+v distorts crop %+v", s, dst, crop)
			}
		case CenterCrop:
			if dst != full {
				t.Fatalf("%+v: center-crop dst %+v, want the whole output", s, dst)
			}
			if d := abs(crop.W*outH - crop.H*outW); crop.W > 1 && crop.H > 1 && 2*d > outW+outH {
				t.Fatalf("%+v: center-crop %+v does not have the output's aspect", s, crop)
			}
		default:
			if dst != full {
				t.Fatalf("%+v: stretch dst %+v, want the whole output", s, dst)
			}
		}
	})
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
