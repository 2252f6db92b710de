package pipeline

import (
	"errors"
	"fmt"

	"github.com/edged-io/edged/internal/camera"
	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/result"
)

// TopLabels runs each encoded image (JPEG, PNG, ...) through a session of
// its own on m, stretched to the model's input, and returns each image's
// best label. A deployment's self-test and health checks use it; it does
// not touch the sessions the cameras run.
func (m *Model) TopLabels(images [][]byte) ([]result.Label, error) {
	sess, err := m.l.NewSession()
	if err != nil {
		return nil, fmt.Errorf("model %q: open a test session: %w", m.Name, err)
	}
	defer sess.Close()
	conv, err := preprocess.NewConverter(sess.Inputs()[0], m.Norm, m.BGR)
	if err != nil {
		return nil, fmt.Errorf("model %q input: %w", m.Name, err)
	}
	post := m.Post
	post.TopK, post.Threshold = 1, 0
	pp, err := infer.NewPostprocessor(sess.Outputs()[m.Out], post)
	if err != nil {
		return nil, fmt.Errorf("model %q output: %w", m.Name, err)
	}
	out := make([]result.Label, len(images))
	var dst []result.Label
	for i, img := range images {
		bgr, err := camera.DecodeResized(img, conv.Width(), conv.Height())
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		if err := conv.Convert(sess.InputBuffer(0), bgr); err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		if err := sess.Invoke(); err != nil {
			return nil, fmt.Errorf("model %q: image %d: invoke: %w", m.Name, i, err)
		}
		if dst, err = pp.TopK(sess.OutputBuffer(m.Out), dst[:0]); err != nil {
			return nil, fmt.Errorf("model %q: image %d: %w", m.Name, i, err)
		}
		if len(dst) == 0 {
			return nil, errors.New("no label came out")
		}
		out[i] = dst[0]
	}
	return out, nil
}
