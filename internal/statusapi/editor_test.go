package statusapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// regionLog is a RegionEditor that keeps the regions it is given, as the
// daemon's editor does, and refuses what the configuration would.
type regionLog struct {
	regions map[string][4]float64 // "camera/name"
}

func (l *regionLog) ApplyRegion(camera, name string, roi [4]float64) (RegionChange, error) {
	if camera != "lot" {
		return RegionChange{}, ErrNoCamera
	}
	if roi[0]+roi[2] > 1 || roi[1]+roi[3] > 1 {
		return RegionChange{}, fmt.Errorf("%w: cameras[0].regions[0].roi: x+w %.2f is past the frame's right edge", ErrRejected, roi[0]+roi[2])
	}
	l.regions[camera+"/"+name] = roi
	return RegionChange{Applied: true, Changed: []string{"camera lot (restarted with 1 regions)"}, File: "/state/regions-edited-box.json"}, nil
}

func (l *regionLog) RemoveRegion(camera, name string) (RegionChange, error) {
	if _, ok := l.regions[camera+"/"+name]; !ok {
		return RegionChange{}, ErrNoRegion
	}
	delete(l.regions, camera+"/"+name)
	return RegionChange{Applied: true, Changed: []string{"camera lot (restarted with 0 regions)"}, File: "/state/regions-edited-box.json"}, nil
}

// TestRegionEditorEndpoints checks the editor's HTTP side: the token, the
// page's own origin and a JSON body are needed, each refusal says why,
// and the editor's errors map to 404 and 422.
func TestRegionEditorEndpoints(t *testing.T) {
	s, err := Listen("127.0.0.1:0", http.NotFoundHandler(), func() Snapshot { return Snapshot{} }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const token = "editor-token-0123456789"
	s.SetAccess(Access{Token: token})
	edits := &regionLog{regions: map[string][4]float64{}}
	s.ServeRegionEditor(edits)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	base := "http://" + s.Addr().String()

	send := func(method, path, ctype, body string, hdr map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	bearer := map[string]string{"Authorization": "Bearer " + token}
	const spot = `{"name": "spot", "roi": {"x": 0.25, "y": 0.2, "w": 0.5, "h": 0.6}}`
	for _, c := range []struct {
		name, method, path, ctype, body string
		hdr                             map[string]string
		code                            int
		says                            string
	}{
		{"no token", "POST", "/api/cameras/lot/regions", "application/json", spot, nil, 401, "needs the token"},
		{"wrong token", "POST", "/api/cameras/lot/regions", "application/json", spot, map[string]string{"Authorization": "Bearer guess"}, 401, "needs the token"},
		{"another site", "POST", "/api/cameras/lot/regions", "application/json", spot,
			map[string]string{"Authorization": "Bearer " + token, "Sec-Fetch-Site": "cross-site"}, 403, "cross-site"},
		{"another origin", "POST", "/api/cameras/lot/regions", "application/json", spot,
			map[string]string{"Authorization": "Bearer " + token, "Origin": "http://evil.example"}, 403, "cross-site"},
		{"a form", "POST", "/api/cameras/lot/regions", "application/x-www-form-urlencoded", "name=spot", bearer, 415, "application/json"},
		{"not JSON", "POST", "/api/cameras/lot/regions", "application/json", `{"name": `, bearer, 400, ""},
		{"no roi.w", "POST", "/api/cameras/lot/regions", "application/json", `{"name": "spot", "roi": {"x": 0.1, "y": 0.1, "h": 0.2}}`, bearer, 400, "roi.w"},
		{"no camera", "POST", "/api/cameras/gate/regions", "application/json", spot, bearer, 404, `"gate"`},
		{"past the edge", "POST", "/api/cameras/lot/regions", "application/json", `{"name": "spot", "roi": {"x": 0.75, "y": 0.2, "w": 0.5, "h": 0.6}}`, bearer, 422, "right edge"},
		{"removing what is not there", "DELETE", "/api/cameras/lot/regions/spot", "", "", bearer, 404, "no region"},
	} {
		code, body := send(c.method, c.path, c.ctype, c.body, c.hdr)
		if code != c.code || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %q, want %d saying %q", c.name, code, body, c.code, c.says)
		}
	}
	if len(edits.regions) != 0 {
		t.Fatalf("a refused request reached the editor: %v", edits.regions)
	}

	code, body := send("POST", "/api/cameras/lot/regions", "application/json; charset=utf-8", spot, bearer)
	var c RegionChange
	if code != 200 || json.Unmarshal([]byte(body), &c) != nil || !c.Applied || c.File == "" {
		t.Fatalf("applying: %d %s", code, body)
	}
	if got := edits.regions["lot/spot"]; got != [4]float64{0.25, 0.2, 0.5, 0.6} {
		t.Errorf("the editor got %v", got)
	}
	if code, body := send("DELETE", "/api/cameras/lot/regions/spot", "", "", bearer); code != 200 || len(edits.regions) != 0 {
		t.Errorf("removing: %d %s, left %v", code, body, edits.regions)
	}
}
