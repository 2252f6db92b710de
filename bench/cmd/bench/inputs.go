package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/edged-io/edged/internal/samplevideo"
)

// photoDir holds opencv-doc's example photos (apt install opencv-doc).
const photoDir = "/usr/share/doc/opencv-doc/examples/data"

// realPhotos are the opencv-doc examples that are photographs (not logos,
// charts or calibration boards).
var realPhotos = []string{
	"aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "building.jpg",
	"butterfly.jpg", "fruits.jpg", "HappyFish.jpg", "home.jpg", "leuvenA.jpg", "leuvenB.jpg",
	"messi5.jpg", "orange.jpg", "squirrel_cls.jpg", "ela_original.jpg", "pca_test1.jpg",
}

// frameSize is the generated videos' frame size: 640x480 (a common camera
// resolution) unless -size says otherwise, e.g. 224x224, the model's own
// input size, where no resizing is left and decoding is cheap.
type frameSize struct{ w, h int }

func (s frameSize) String() string { return fmt.Sprintf("%dx%d", s.w, s.h) }

// Set parses WxH.
func (s *frameSize) Set(v string) error {
	if _, err := fmt.Sscanf(v, "%dx%d", &s.w, &s.h); err != nil || s.w < 16 || s.h < 16 || s.w > 4096 || s.h > 4096 {
		return fmt.Errorf("-size %q: want WxH between 16x16 and 4096x4096, e.g. 224x224", v)
	}
	return nil
}

// inputs are the files every contender reads.
type inputs struct {
	video       string
	videoFrames int
	photoDir    string
	photoCount  int
	scanVideo   string // a shorter video for the camera and thread scans
	scanFrames  int
}

// prepareInputs writes, under out, a video of frames frames made from the
// real photos (each photo one frame, in turn) and a folder of photos files
// (the real photos, repeated).
func prepareInputs(out string, size frameSize, frames, scanFrames, photos int) (inputs, error) {
	if frames < 2 || scanFrames < 2 || photos < 2 {
		return inputs{}, fmt.Errorf("need at least 2 frames and 2 photos, have -frames %d -scan-frames %d -photos %d", frames, scanFrames, photos)
	}
	var found []string
	for _, n := range realPhotos {
		p := filepath.Join(photoDir, n)
		if _, err := os.Stat(p); err == nil {
			found = append(found, p)
		}
	}
	if len(found) == 0 {
		return inputs{}, fmt.Errorf("no photos in %s (apt install opencv-doc)", photoDir)
	}
	in := inputs{
		video:       filepath.Join(out, fmt.Sprintf("photos-%s-%d.avi", size, frames)),
		videoFrames: frames,
		photoDir:    filepath.Join(out, "photos"),
		photoCount:  photos,
		scanVideo:   filepath.Join(out, fmt.Sprintf("photos-%s-%d.avi", size, scanFrames)),
		scanFrames:  scanFrames,
	}
	for _, v := range []struct {
		path   string
		frames int
	}{{in.video, frames}, {in.scanVideo, scanFrames}} {
		seq := make([]string, v.frames)
		for i := range seq {
			seq[i] = found[i%len(found)]
		}
		if err := samplevideo.Write(v.path, seq, samplevideo.Options{Width: size.w, Height: size.h, FPS: 30, FramesPerPhoto: 1}); err != nil {
			return inputs{}, err
		}
	}
	if err := os.RemoveAll(in.photoDir); err != nil {
		return inputs{}, err
	}
	if err := os.MkdirAll(in.photoDir, 0o755); err != nil {
		return inputs{}, err
	}
	for i := 0; i < photos; i++ {
		src := found[i%len(found)]
		dst := filepath.Join(in.photoDir, fmt.Sprintf("%04d-%s", i, filepath.Base(src)))
		if err := copyFile(src, dst); err != nil {
			return inputs{}, err
		}
	}
	return in, nil
}

func copyFile(src, dst string) error {
	r, err := os.Open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return w.Close()
}
