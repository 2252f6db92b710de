package camera

// The sources a camera reads raw frames from, in the shape of Benthos'
// inputs: Open connects, Read returns the next frame or says why not
// (errEnd: the input is over; errSkip: this one could not be used, try the
// next; anything else: the source failed and is reopened), Close releases.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/preprocess"
)

// input reads raw BGR frames from one source.
type input interface {
	// Open opens the source (again, after a failure or to loop).
	Open() error
	// Read reads the next frame into raw. file is the image's name for
	// folders; corrupt counts the unreadable frames or images skipped on
	// the way, which the camera counts as decode errors.
	Read(raw *gocv.Mat) (file string, corrupt int, err error)
	// Close releases what Open took; it is safe to call twice.
	Close()
}

// newInput returns the input for src.
func newInput(src Source, spec preprocess.Spec, maxPixels int, log *slog.Logger) input {
	switch src.Kind {
	case Folder:
		return &folderInput{dir: src.Raw, spec: spec, maxPixels: maxPixels, log: log}
	case Device:
		// A device fails its first bad read: it is gone.
		return &videoInput{src: src, api: gocv.VideoCaptureV4L2, failed: errReadFailed}
	case Stream:
		// A broken frame in a stream fails one read at once and the next
		// read succeeds; a closed stream fails every read at once, a
		// stalled one after FFmpeg's read timeout. Only a slow failure or
		// a run of fast ones is the stream going down.
		return &videoInput{src: src, api: gocv.VideoCaptureFFmpeg, maxRun: maxStreamCorruptRun, slowFails: true, failed: errReadFailed}
	default:
		// A corrupt frame fails one read and the next one succeeds; the
		// end of the file fails every read. Only a run of failures is the
		// end.
		return &videoInput{src: src, api: gocv.VideoCaptureFFmpeg, maxRun: maxCorruptRun, failed: errEnd}
	}
}

var errReadFailed = errors.New("read failed (stream down or device gone)")

// maxCorruptRun is how many failed reads in a row a video file may have
// before it is taken to have ended.
const maxCorruptRun = 25

// maxStreamCorruptRun is how many quickly failed reads in a row a stream
// may have before it is taken to be down and is reopened.
const maxStreamCorruptRun = 4

// videoInput is a device, stream or video file read through OpenCV's
// VideoCapture.
type videoInput struct {
	src       Source
	api       gocv.VideoCaptureAPI
	maxRun    int   // corrupt frames in a row that are skipped
	slowFails bool  // a read failing after more than a second fails the source
	failed    error // what a failed read means: errEnd (files) or errReadFailed
	vc        *gocv.VideoCapture
}

func (v *videoInput) Open() error {
	if v.src.Kind == File && !regular(v.src.Raw, nil) {
		if _, err := os.Stat(v.src.Raw); err != nil {
			return fmt.Errorf("open video file: %w", err)
		}
		return fmt.Errorf("open video file %s: not a regular file (a FIFO or device would block the read for ever)", v.src.Raw)
	}
	if err := v.precheck(); err != nil {
		return err
	}
	var vc *gocv.VideoCapture
	var err error
	if v.src.Kind == Device && v.src.Index >= 0 {
		vc, err = gocv.OpenVideoCapture(v.src.Index)
	} else {
		vc, err = gocv.OpenVideoCaptureWithAPI(v.src.Raw, v.api)
	}
	if err != nil {
		if why := v.explain(); why != nil {
			return why
		}
		if v.src.Kind == File {
			// OpenCV says only "Error opening file … with api backend: 1900".
			return fmt.Errorf("open video file %s: not a video OpenCV can read (no container or codec it knows; %d bytes)", v.src.Raw, fileSize(v.src.Raw))
		}
		return fmt.Errorf("open %s %s: %w", v.src.Kind, v.src.Raw, err)
	}
	v.vc = vc
	if !vc.IsOpened() {
		v.Close()
		if why := v.explain(); why != nil {
			return why
		}
		if v.src.Kind == File {
			return fmt.Errorf("open video file %s: not a video OpenCV can read (no container or codec it knows; %d bytes)", v.src.Raw, fileSize(v.src.Raw))
		}
		return fmt.Errorf("open %s %s: OpenCV could not open it", v.src.Kind, v.src.Raw)
	}
	return nil
}

// fileSize is the size of the file at path, or -1.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return st.Size()
}

// precheck says why a device cannot work before OpenCV tries and reports
// only "could not open": its path does not exist.
func (v *videoInput) precheck() error {
	if v.src.Kind == Device && v.src.Index < 0 {
		if _, err := os.Stat(v.src.Raw); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("open device %s: no such device (is the camera plugged in?)", v.src.Raw)
		}
	}
	return nil
}

// explain says, after OpenCV failed to open an HTTP stream, why: the
// server answers with an error status or sends an HTML page. It asks only
// then, since a camera may serve few clients at a time. Nil when it cannot
// tell.
func (v *videoInput) explain() error {
	switch {
	case v.src.Kind == Stream && (strings.HasPrefix(v.src.Raw, "http://") || strings.HasPrefix(v.src.Raw, "https://")):
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.src.Raw, nil)
		if err != nil {
			return fmt.Errorf("open stream %s: %w", v.src.Raw, err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil // unreachable now: OpenCV's attempt and the backoff handle it
		}
		res.Body.Close() // only the status line and headers are read
		if res.StatusCode >= 400 {
			return fmt.Errorf("open stream %s: the server answers %s", v.src.Raw, res.Status)
		}
		if ct := res.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
			return fmt.Errorf("open stream %s: the server sends an HTML page (%s), not a video stream", v.src.Raw, ct)
		}
	}
	return nil
}

// Read is the one corrupt-frame loop: up to maxRun failed reads in a row
// are skipped (and counted); one more, or a slow one where that means a
// stalled stream, is the input failing or ending.
func (v *videoInput) Read(raw *gocv.Mat) (string, int, error) {
	if v.vc == nil {
		return "", 0, errors.New("source is not open")
	}
	for bad := 0; ; bad++ {
		t0 := time.Now()
		if v.vc.Read(raw) && !raw.Empty() {
			return "", bad, nil
		}
		if bad == v.maxRun || (v.slowFails && time.Since(t0) > time.Second) {
			return "", 0, v.failed
		}
	}
}

func (v *videoInput) Close() {
	if v.vc != nil {
		v.vc.Close()
		v.vc = nil
	}
}

// folderInput is a folder of images, read in name order.
type folderInput struct {
	dir       string
	spec      preprocess.Spec
	maxPixels int // an image above it is skipped before decoding
	log       *slog.Logger
	files     []string
	next      int // index of the next file to read
}

func (f *folderInput) Open() error {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return fmt.Errorf("read folder %s: %w", f.dir, err)
	}
	f.files = f.files[:0]
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // hidden files: editors' and macOS's ._ companions are no photos
		}
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff":
			if regular(filepath.Join(f.dir, e.Name()), e) {
				f.files = append(f.files, e.Name())
			}
		}
	}
	sort.Strings(f.files)
	f.next = 0
	if len(f.files) == 0 {
		return fmt.Errorf("folder %s holds no images", f.dir)
	}
	return nil
}

// Read decodes the next image; the decoded image becomes raw, without a
// copy.
func (f *folderInput) Read(raw *gocv.Mat) (string, int, error) {
	if f.next >= len(f.files) {
		return "", 0, errEnd
	}
	name := f.files[f.next]
	f.next++
	path := filepath.Join(f.dir, name)
	if !regular(path, nil) {
		// Replaced since the listing by a FIFO or device, whose read
		// would block for ever.
		f.log.Warn("image skipped: not a regular file", "file", path)
		return name, 1, errSkip
	}
	if w, h, ok := imageSize(path); ok && int64(w)*int64(h) > int64(f.maxPixels) {
		f.log.Warn("image skipped: larger than the pixel budget", "file", path, "width", w, "height", h, "max_pixels", f.maxPixels)
		return name, 1, errSkip
	}
	img := gocv.IMRead(path, decodeFlags(f.spec, path))
	if img.Empty() {
		img.Close()
		f.log.Warn("image skipped: cannot decode", "file", path)
		return name, 1, errSkip
	}
	raw.Close()
	*raw = img
	return name, 0, nil
}

func (f *folderInput) Close() {}

// regular reports whether path is a regular file (following a symbolic
// link): a FIFO, socket or device would block or never end a read. e, when
// given, saves the stat of a directory entry that is plainly regular.
func regular(path string, e os.DirEntry) bool {
	if e != nil && e.Type().IsRegular() {
		return true
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// nextSize is the size of the file the next Read decodes and its index, or
// 0 when unknown.
func (f *folderInput) nextSize() (int64, int) {
	if f.next >= len(f.files) {
		return 0, f.next
	}
	fi, err := os.Stat(filepath.Join(f.dir, f.files[f.next]))
	if err != nil {
		return 0, f.next
	}
	return fi.Size(), f.next
}

// decodeFlags chooses how a folder's image is decoded. A JPEG much larger
// than the model's input is decoded at 1/2, 1/4 or 1/8 of its size (the
// decoder scales in the DCT domain, which averages like an area resize and
// costs a fraction of a full decode), keeping its shorter side at least as
// long as the input's longer side, so what follows is still a downscale for
// every resize mode and EXIF orientation. Not with an ROI: its coordinates
// or a region's box: their coordinates are in the file's own pixels.
func decodeFlags(spec preprocess.Spec, path string) gocv.IMReadFlag {
	if !spec.ROI.Empty() || !spec.Box.IsZero() {
		return gocv.IMReadColor
	}
	w, h, ok := jpegSize(path)
	if !ok {
		return gocv.IMReadColor
	}
	need := max(spec.Width, spec.Height)
	for _, r := range []struct {
		f    int
		flag gocv.IMReadFlag
	}{{8, gocv.IMReadReducedColor8}, {4, gocv.IMReadReducedColor4}, {2, gocv.IMReadReducedColor2}} {
		if min(w, h)/r.f >= need {
			return r.flag
		}
	}
	return gocv.IMReadColor
}

// CheckSource checks what can be checked of a source without opening a
// camera or a stream (edged check-config): it parses, a video file exists
// as a regular file, and a folder can be read and holds images.
func CheckSource(source string) error {
	src, err := ParseSource(source)
	if err != nil {
		return err
	}
	switch src.Kind {
	case File:
		fi, err := os.Stat(src.Raw)
		if err != nil {
			return fmt.Errorf("video file: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("video file %s: not a regular file", src.Raw)
		}
	case Folder:
		return (&folderInput{dir: src.Raw}).Open()
	}
	return nil
}
