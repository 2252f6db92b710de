// Command edged turns camera frames into classification results on an MQTT
// broker. It only parses the command line and wires internal packages
// together; see internal/daemon for the daemon itself.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/edged-io/edged/internal/nativelog"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `edged: camera frames → TFLite classification → MQTT

Usage:
  edged run --config FILE                 run the cameras of a config file
  edged run --source SRC [flags]          quick mode: one camera from flags
  edged check-config --config FILE        validate a config file and exit
  edged model inspect [--json] FILE       describe a .tflite model
  edged healthcheck [--url URL]           exit 0 when a running edged's /healthz
                                          answers 200 (container health checks)
  edged keygen --out NAME                 write a fleet signing key pair
  edged deploy --broker URL --key K (--device D | --group G) --model FILE ...
                                          sign and publish a deployment, follow it
  edged deploy status --broker URL [--group G]
                                          where each box stands (docs/fleet.md)
  edged watch --broker URL [--device D]   the results of the boxes on a broker as a
                                          live table; losses and duplicates as they happen
  edged version                           print version information

Run 'edged run -h' for the quick-mode flags.
`

func main() {
	// What C libraries print on descriptor 2 goes through the log (at
	// debug level unless it is an error), not raw onto the terminal.
	native, err := nativelog.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "edged:", err)
		os.Exit(runWith(os.Args[1:], os.Stdout, os.Stderr, nil))
	}
	code := runWith(os.Args[1:], os.Stdout, native.Stderr(), native.SetLogger)
	native.Close()
	os.Exit(code)
}

// run executes one command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return runWith(args, stdout, stderr, nil)
}

// runWith is run, telling onLogger (when set) the logger a run made, so
// that native output can be logged through it.
func runWith(args []string, stdout, stderr io.Writer, onLogger func(*slog.Logger)) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr, onLogger)
	case "check-config":
		err = cmdCheckConfig(args[1:], stdout, stderr)
	case "model":
		err = cmdModel(args[1:], stdout, stderr)
	case "healthcheck":
		err = cmdHealthcheck(ctx, args[1:], stdout, stderr)
	case "watch":
		err = cmdWatch(ctx, args[1:], stdout, stderr)
	case "keygen":
		err = cmdKeygen(args[1:], stdout, stderr)
	case "deploy":
		err = cmdDeploy(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		err = cmdVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "edged: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "edged:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "edged:", err)
		return 1
	}
}

// usageError marks a mistake on the command line (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }
