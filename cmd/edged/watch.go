package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-io/edged/internal/publish/mqtt"
	"github.com/edged-io/edged/internal/watch"
)

func cmdWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edged watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o mqtt.ToolOptions
	fs.StringVar(&o.URL, "broker", "", "MQTT broker URL, e.g. tcp://broker:1883 (required)")
	fs.StringVar(&o.Username, "username", "", "MQTT user name")
	fs.StringVar(&o.PasswordFile, "password-file", "", "file holding the MQTT password")
	fs.StringVar(&o.CAFile, "ca-file", "", "CA bundle for ssl:// brokers")
	prefix := fs.String("topic-prefix", "edged", "the boxes' broker.topic_prefix")
	device := fs.String("device", "", "only this device (default: every device on the broker)")
	every := fs.Duration("interval", 2*time.Second, "how often the table is drawn")
	forD := fs.Duration("for", 0, "stop after this long (default: until interrupted)")
	pos, err := parseArgs(fs, args, stdout)
	if err != nil || help(args) {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	if o.URL == "" {
		return usageError{"--broker is required"}
	}
	if *every <= 0 {
		return usageError{"--interval must be above 0"}
	}
	if *forD > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *forD)
		defer cancel()
	}
	tty := isTerminal(stdout)
	events := make(chan watch.Event, 256)
	w := watch.New(*prefix, func(e watch.Event) {
		select {
		case events <- e:
		default:
		}
	})
	o.ClientPrefix = "edged-watch-"
	c, err := mqtt.DialTool(ctx, o)
	if err != nil {
		return err
	}
	defer c.Disconnect(100)
	for _, f := range w.Filters(*device) {
		tok := c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) { w.Handle(m.Topic(), m.Payload()) })
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			return fmt.Errorf("subscribe %s: %v", f, tok.Error())
		}
	}
	tick := time.NewTicker(*every)
	defer tick.Stop()
	var log []watch.Event // the latest events, kept on screen under the table
	draw := func() {
		if tty {
			fmt.Fprint(stdout, "\x1b[H\x1b[2J")
		}
		w.Table(stdout)
		if tty {
			for _, e := range log {
				fmt.Fprintln(stdout, e)
			}
		} else {
			fmt.Fprintln(stdout)
		}
	}
	for {
		select {
		case <-ctx.Done():
			draw()
			return nil
		case e := <-events:
			if tty {
				log = append(log, e)
				if len(log) > 10 {
					log = log[len(log)-10:]
				}
			} else {
				fmt.Fprintln(stdout, e)
			}
		case <-tick.C:
			draw()
		}
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
