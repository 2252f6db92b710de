// Command mksample writes edged's bundled demo video from real photos.
//
//	go run ./tools/mksample -out samples/demo.avi photo1.jpg photo2.jpg ...
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/edged-io/edged/internal/samplevideo"
)

func main() {
	out := flag.String("out", "samples/demo.avi", "output video file")
	width := flag.Int("width", 320, "frame width")
	height := flag.Int("height", 240, "frame height")
	fps := flag.Float64("fps", 5, "frames per second")
	per := flag.Int("frames-per-photo", 5, "frames each photo is held for")
	flag.Parse()
	err := samplevideo.Write(*out, flag.Args(), samplevideo.Options{Width: *width, Height: *height, FPS: *fps, FramesPerPhoto: *per})
	if err != nil {
		fmt.Fprintln(os.Stderr, "mksample:", err)
		os.Exit(1)
	}
}
