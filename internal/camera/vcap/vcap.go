// Package vcap binds the parts of OpenCV's cv::VideoCapture that gocv
// v0.31 leaves out: Grab and Retrieve apart, with Grab's result (gocv's
// Grab returns nothing), and opening with parameters (timeouts, hardware
// acceleration). A live source whose frames are mostly not used is
// grabbed (demuxed, and decoded where the backend must) and only the
// frames that are used are retrieved, that is converted to BGR.
//
// A Capture is used by one goroutine at a time; it owns its C++ object
// until Close.
package vcap

/*
#cgo !windows pkg-config: opencv4
#cgo CXXFLAGS: -std=c++11
#include <stdlib.h>
#include "vcap.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"gocv.io/x/gocv"
)

// Open parameters and properties of cv::VideoCapture (OpenCV 4.6's
// videoio.hpp).
const (
	PropPosMsec         = 0  // position of the current frame, ms
	PropFrameWidth      = 3  // frame width
	PropFrameHeight     = 4  // frame height
	PropFPS             = 5  // the stream's frame rate
	PropOpenTimeoutMsec = 53 // open only, FFmpeg backend: open timeout
	PropReadTimeoutMsec = 54 // open only, FFmpeg backend: read timeout
)

// Capture is one open cv::VideoCapture.
type Capture struct {
	p *C.edged_vcap
}

// Open opens name (a URL, file or GStreamer pipeline) with the backend
// api, passing params (property, value pairs) to the open call.
func Open(name string, api gocv.VideoCaptureAPI, params ...int) (*Capture, error) {
	return open(name, -1, api, params)
}

// OpenIndex opens the device with the given index.
func OpenIndex(index int, api gocv.VideoCaptureAPI, params ...int) (*Capture, error) {
	if index < 0 {
		return nil, fmt.Errorf("vcap: device index %d is negative", index)
	}
	return open("", index, api, params)
}

func open(name string, index int, api gocv.VideoCaptureAPI, params []int) (*Capture, error) {
	if len(params)%2 != 0 {
		return nil, errors.New("vcap: open parameters come in property, value pairs")
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var cparams *C.int
	if len(params) > 0 {
		cparams = (*C.int)(C.malloc(C.size_t(len(params)) * C.size_t(unsafe.Sizeof(C.int(0)))))
		defer C.free(unsafe.Pointer(cparams))
		cs := unsafe.Slice(cparams, len(params))
		for i, v := range params {
			cs[i] = C.int(v)
		}
	}
	var cerr *C.char
	p := C.edged_vcap_open(cname, C.int(index), C.int(api), cparams, C.int(len(params)), &cerr)
	if p == nil {
		msg := "OpenCV could not open it"
		if cerr != nil {
			msg = C.GoString(cerr)
			C.free(unsafe.Pointer(cerr))
		}
		return nil, errors.New(msg)
	}
	return &Capture{p: p}, nil
}

// Grab takes the next frame from the source without converting it; false
// when there is none (end of file, stream down, read timeout).
func (c *Capture) Grab() bool {
	return c.p != nil && C.edged_vcap_grab(c.p) == 1
}

// Retrieve converts the frame Grab took into m (BGR unless the pipeline
// says otherwise); false when there is none.
func (c *Capture) Retrieve(m *gocv.Mat) bool {
	return c.p != nil && C.edged_vcap_retrieve(c.p, unsafe.Pointer(m.Ptr())) == 1
}

// Read grabs and retrieves the next frame.
func (c *Capture) Read(m *gocv.Mat) bool { return c.Grab() && c.Retrieve(m) }

// Get reads a property; 0 when the backend does not know it.
func (c *Capture) Get(prop int) float64 {
	if c.p == nil {
		return 0
	}
	return float64(C.edged_vcap_get(c.p, C.int(prop)))
}

// Backend names the backend that opened the source ("FFMPEG",
// "GSTREAMER", "V4L2").
func (c *Capture) Backend() string {
	if c.p == nil {
		return ""
	}
	s := C.edged_vcap_backend(c.p)
	defer C.free(unsafe.Pointer(s))
	return C.GoString(s)
}

// Close releases the capture; it is safe to call twice.
func (c *Capture) Close() {
	if c.p != nil {
		C.edged_vcap_close(c.p)
		c.p = nil
	}
}
