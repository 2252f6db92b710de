package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/edged-io/edged/internal/fleet"
)

// listFlag is a flag that may be given several times (or comma-separated).
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func cmdKeygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edged keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "NAME: writes NAME.key (private, mode 0600) and NAME.pub")
	pos, err := parseArgs(fs, args, stdout)
	if err != nil || help(args) {
		return err
	}
	if len(pos) > 0 || *out == "" {
		return usageError{"usage: edged keygen --out NAME"}
	}
	k, err := fleet.Keygen(*out, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s.key (keep it off the boxes) and %s.pub (key id %s): list the .pub in fleet.trusted_keys\n", *out, *out, k.ID)
	return nil
}

// brokerFlags are the operator's connection flags.
func brokerFlags(fs *flag.FlagSet) *fleet.BrokerOptions {
	o := &fleet.BrokerOptions{}
	fs.StringVar(&o.URL, "broker", "", "MQTT broker URL, e.g. tcp://broker:1883 (required)")
	fs.StringVar(&o.Username, "username", "", "MQTT user name")
	fs.StringVar(&o.PasswordFile, "password-file", "", "file holding the MQTT password")
	fs.StringVar(&o.CAFile, "ca-file", "", "CA bundle for ssl:// brokers")
	fs.StringVar(&o.TopicPrefix, "topic-prefix", "edged", "the boxes' broker.topic_prefix")
	return o
}

func cmdDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "status" {
		return cmdDeployStatus(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("edged deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bo := brokerFlags(fs)
	keyPath := fs.String("key", "", "signing key (NAME.key from edged keygen; required)")
	var devices, canaryImages listFlag
	fs.Var(&devices, "device", "target device (repeat or comma-separate)")
	group := fs.String("group", "", "target group")
	model := fs.String("model", "", "model file for the slot")
	labels := fs.String("labels", "", "labels file for the model, one per line")
	slot := fs.String("slot", "default", "model slot: the models[].name it replaces")
	cfgFile := fs.String("config", "", "a whole configuration document to deploy")
	canary := fs.Int("canary", 0, "deploy to N boxes of the group first; the rest only once they are applied and healthy")
	url := fs.String("url", "", "the boxes fetch the model from this http(s) URL instead of chunks over MQTT")
	fs.Var(&canaryImages, "canary-image", "FILE=LABEL: the new model must rank LABEL first on FILE (repeatable)")
	rollback := fs.Bool("rollback", false, "roll the slot back to the previous model each box kept")
	version := fs.Uint64("version", 0, "deployment version (default: the time in milliseconds; must rise)")
	id := fs.String("id", "", "deployment id (default: deploy-VERSION)")
	expires := fs.Duration("expires", 7*24*time.Hour, "boxes refuse the deployment after this long")
	chunk := fs.Int("chunk-size", 0, "bytes per MQTT chunk (default: 256 KiB, larger for artifacts above 900 chunks)")
	health := fs.String("health-window", "", "the boxes' health window for this deployment (default: their fleet.health_window)")
	timeout := fs.Duration("timeout", 15*time.Minute, "give up following the rollout after this long")
	noWait := fs.Bool("no-wait", false, "publish and exit without following the statuses")
	pos, err := parseArgs(fs, args, stdout)
	if err != nil || help(args) {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	case bo.URL == "" || *keyPath == "":
		return usageError{"--broker and --key are required"}
	case (len(devices) == 0) == (*group == ""):
		return usageError{"give --device (one or more) or --group"}
	case *canary > 0 && *group == "":
		return usageError{"--canary needs --group"}
	case *model == "" && *cfgFile == "" && !*rollback:
		return usageError{"nothing to deploy: give --model, --config or --rollback"}
	case *rollback && *model != "":
		return usageError{"--rollback goes back to the kept model: leave out --model"}
	}
	key, err := fleet.ReadPrivateKey(*keyPath)
	if err != nil {
		return err
	}
	b := fleet.Build{ID: *id, Version: *version, Devices: devices, Slot: *slot, URL: *url, Rollback: *rollback,
		Expires: *expires, ChunkSize: *chunk, Health: *health}
	if *group != "" {
		b.Groups = []string{*group}
	}
	read := func(p, what string) ([]byte, error) {
		if p == "" {
			return nil, nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return data, nil
	}
	if b.Model, err = read(*model, "--model"); err != nil {
		return err
	}
	if b.Labels, err = read(*labels, "--labels"); err != nil {
		return err
	}
	if b.Config, err = read(*cfgFile, "--config"); err != nil {
		return err
	}
	for _, ci := range canaryImages {
		file, label, ok := strings.Cut(ci, "=")
		if !ok || label == "" {
			return usageError{fmt.Sprintf("--canary-image %q: FILE=LABEL", ci)}
		}
		img, err := read(file, "--canary-image")
		if err != nil {
			return err
		}
		b.Canary = append(b.Canary, fleet.Canary{Image: img, Expect: label})
	}
	d, err := fleet.Sign(b, key, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	op, err := follow(ctx, *bo)
	if err != nil {
		return err
	}
	defer op.Close()
	v := d.Manifest.Version
	fmt.Fprintf(stdout, "deployment %s version %d signed by key %s: %d bytes per deploy topic\n", d.Manifest.ID, v, key.ID, d.Bytes())
	settle := func() { // the retained statuses arrive just after subscribing
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	if len(devices) > 0 {
		for _, dev := range devices {
			if err := op.Publish(ctx, d, fleet.DeviceTopic(bo.TopicPrefix, dev)); err != nil {
				return err
			}
		}
		if *noWait {
			return nil
		}
		failed, err := op.Await(ctx, stdout, devices, v)
		return report(op, failed, err)
	}
	settle()
	members := fleet.Members(op.Statuses(), *group)
	if *canary > 0 {
		if len(members) == 0 {
			return fmt.Errorf("no box of group %q has reported on %s/+/deploy/status: are they running with fleet.groups: [%s]?", *group, bo.TopicPrefix, *group)
		}
		canaries := members[:min(*canary, len(members))]
		fmt.Fprintf(stdout, "canaries: %s\n", strings.Join(canaries, ", "))
		for _, dev := range canaries {
			if err := op.Publish(ctx, d, fleet.DeviceTopic(bo.TopicPrefix, dev)); err != nil {
				return err
			}
		}
		failed, err := op.Await(ctx, stdout, canaries, v)
		if err != nil {
			return err
		}
		if len(failed) > 0 {
			return fmt.Errorf("%w; group %q was not sent it: %s", fleet.ErrCanaryFailed, *group, failures(op, failed))
		}
		fmt.Fprintf(stdout, "canaries applied and healthy: deploying to group %s\n", *group)
	}
	if err := op.Publish(ctx, d, fleet.GroupTopic(bo.TopicPrefix, *group)); err != nil {
		return err
	}
	if *noWait {
		return nil
	}
	if len(members) == 0 {
		settle()
		members = fleet.Members(op.Statuses(), *group)
	}
	failed, err := op.Await(ctx, stdout, members, v)
	return report(op, failed, err)
}

// follow connects as the operator and subscribes to every box's status.
func follow(ctx context.Context, bo fleet.BrokerOptions) (*fleet.Operator, error) {
	op, err := fleet.Dial(ctx, bo)
	if err != nil {
		return nil, err
	}
	if err := op.Follow(ctx); err != nil {
		op.Close()
		return nil, err
	}
	return op, nil
}

// report turns Await's outcome into the command's.
func report(op *fleet.Operator, failed []string, err error) error {
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("the deployment failed on %d boxes: %s", len(failed), failures(op, failed))
	}
	return nil
}

// failures says where each failed box stands and why.
func failures(op *fleet.Operator, failed []string) string {
	st := op.Statuses()
	why := make([]string, len(failed))
	for i, f := range failed {
		why[i] = fmt.Sprintf("%s: %s (%s)", f, st[f].State, st[f].Reason)
	}
	return strings.Join(why, "; ")
}

func cmdDeployStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edged deploy status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bo := brokerFlags(fs)
	var devices listFlag
	fs.Var(&devices, "device", "only these devices")
	group := fs.String("group", "", "only the boxes of this group")
	wait := fs.Duration("wait", 2*time.Second, "how long to collect the retained statuses")
	pos, err := parseArgs(fs, args, stdout)
	if err != nil || help(args) {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	if bo.URL == "" {
		return usageError{"--broker is required"}
	}
	op, err := follow(ctx, *bo)
	if err != nil {
		return err
	}
	defer op.Close()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(*wait):
	}
	st := op.Statuses()
	var list []string
	switch {
	case *group != "":
		list = fleet.Members(st, *group)
		if len(list) == 0 {
			return fmt.Errorf("no box of group %q has reported a deployment status", *group)
		}
	case len(devices) > 0:
		list = devices
	}
	fmt.Fprint(stdout, fleet.Table(st, list, 0))
	return nil
}
