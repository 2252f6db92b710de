package fleet

import (
	"strconv"
	"time"
)

// The states of a deployment on a box, as its status topic reports them.
const (
	StateIdle        = "idle" // no deployment yet
	StateReceived    = "received"
	StateDownloading = "downloading"
	StateVerifying   = "verifying"
	StateTesting     = "testing"
	StateApplied     = "applied"
	StateRejected    = "rejected"
	StateRolledBack  = "rolled_back"
)

// Status is the retained JSON on <prefix>/<device>/deploy/status.
type Status struct {
	Device string   `json:"device"`
	Groups []string `json:"groups,omitempty"`
	State  string   `json:"state"`
	// ID and Version are the manifest this status is about.
	ID      string `json:"id,omitempty"`
	Version uint64 `json:"version,omitempty"`
	Slot    string `json:"slot,omitempty"`
	// SHA256 is the model the slot runs now (after an applied deployment,
	// the new one; after a rejection or rollback, the one kept).
	SHA256 string `json:"sha256,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Healthy is set once applied: false while the health window runs,
	// true once it passed.
	Healthy *bool `json:"healthy,omitempty"`
	// Restart lists configuration keys a deployed config changed that take
	// effect at the next start.
	Restart  []string  `json:"restart,omitempty"`
	Bytes    int64     `json:"bytes,omitempty"` // downloaded so far
	Total    int64     `json:"total,omitempty"` // to download
	Received time.Time `json:"received_at,omitzero"`
	At       time.Time `json:"at"`
	// Running maps each deployed slot to its model's sha256; Deployed is
	// the version of the last deployment applied.
	Running  map[string]string `json:"running,omitempty"`
	Deployed uint64            `json:"deployed_version,omitempty"`
}

// StatusTopic is a device's deployment status topic.
func StatusTopic(prefix, device string) string { return prefix + "/" + device + "/deploy/status" }

// DeviceTopic is a device's deploy topic.
func DeviceTopic(prefix, device string) string { return prefix + "/" + device + "/deploy" }

// GroupTopic is a group's deploy topic.
func GroupTopic(prefix, group string) string { return prefix + "/group/" + group + "/deploy" }

// ChunkTopic is where chunk i of the artifact with sum goes, under a
// deploy topic.
func ChunkTopic(deployTopic, sum string, i int) string {
	return deployTopic + "/chunk/" + sum + "/" + strconv.Itoa(i)
}
