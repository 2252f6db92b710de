package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/samplevideo"
)

// TestSecretsNeverLogged runs the real binary with debug logging against a
// real mosquitto that wants a password: once with the right password from a
// systemd credential, once with a wrong one from a password file (so the
// refusal is logged). Neither password appears anywhere in edged's output,
// and no command-line flag takes a password.
func TestSecretsNeverLogged(t *testing.T) {
	const right, wrong = "Right-s3cret-7f2a", "Wrong-s3cret-91cd"
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		t.Skip("mosquitto_passwd is not installed (apt-get install mosquitto)")
	}
	dir := t.TempDir()
	pwdb := filepath.Join(dir, "passwd")
	if out, err := exec.Command(bin, "-b", "-c", pwdb, "cam", right).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	b := mqtttest.Start(t, "allow_anonymous false", "password_file "+pwdb)
	video := filepath.Join(dir, "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "orange.jpg")}, samplevideo.Options{Width: 224, Height: 224, FPS: 5, FramesPerPhoto: 3}); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, "creds")
	os.Mkdir(creds, 0o700)
	os.WriteFile(filepath.Join(creds, "mqtt-password"), []byte(right+"\n"), 0o600)
	wrongFile := filepath.Join(dir, "wrong-password")
	os.WriteFile(wrongFile, []byte(wrong+"\n"), 0o600)

	runs := []struct {
		name, key, until string
		env              []string
		debug            bool // the run logs debug lines (the failed attempts)
	}{
		{"credential, right password", "password_credential: mqtt-password", "connected to broker", []string{"CREDENTIALS_DIRECTORY=" + creds}, false},
		{"file, wrong password", "password_file: " + wrongFile, "not Authorized", nil, true},
	}
	for i, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("edged%d.yaml", i))
			os.WriteFile(path, []byte(fmt.Sprintf(`device: sec
log: {level: debug, format: json}
http: {addr: ""}
broker:
  url: %s
  username: cam
  %s
  connect_timeout: 3s
cameras:
  - {name: cam, source: %s, loop: true, fps: 10}
`, b.URL(), r.key, video)), 0o644)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd, stderr := start(t, ctx, r.env, "run", "--config", path, "--stdout")
			stdout := cmd.Stdout.(*bytes.Buffer)
			for !strings.Contains(stderr.String(), r.until) {
				if ctx.Err() != nil {
					t.Fatalf("edged never logged %q:\n%s", r.until, tail(stderr.String()))
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(time.Second) // a few more frames and log lines
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			all := stderr.String() + stdout.String()
			if r.debug && !strings.Contains(all, `"level":"DEBUG"`) {
				t.Errorf("no debug lines logged: the check would prove little:\n%s", tail(all))
			}
			for _, secret := range []string{right, wrong} {
				if strings.Contains(all, secret) {
					t.Errorf("the password %q appears in edged's output:\n%s", secret, all)
				}
			}
		})
	}

	var help bytes.Buffer
	run([]string{"run", "-h"}, &help, &help)
	if h := strings.ToLower(help.String()); !strings.Contains(h, "-broker") || strings.Contains(h, "password") || strings.Contains(h, "secret") {
		t.Errorf("edged run -h offers a password flag (or printed no flags):\n%s", help.String())
	}
}
