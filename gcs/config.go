package gcs

import (
	"fmt"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
)

// Config tunes a Server. Zero fields take the defaults below.
type Config struct {
	// HealthCheckPeriod is how often the server looks for nodes whose
	// heartbeats stopped. Default 1s.
	HealthCheckPeriod time.Duration
	// NodeTimeout is how long a node may go without a heartbeat before it
	// is declared DEAD. Default 10s.
	NodeTimeout time.Duration
	// PollTimeout is how long a Poll with nothing to deliver is held before
	// it is answered empty. Default 5s.
	PollTimeout time.Duration
	// QueueMax bounds each subscriber's queue; on overflow the queue is
	// dropped and the subscriber told to resync. Default 1024.
	QueueMax int
	// SessionTTL is how long the dedup records of a client that sent no
	// mutation are kept. A duplicate of a request older than this could be
	// applied again, so it must be far above any client deadline plus
	// network delay. Default 1h.
	SessionTTL time.Duration
	// TasksMax bounds the in-memory task table (task events, tasks.go):
	// beyond it the oldest finished or failed tasks are evicted first.
	// Default 10,000.
	TasksMax int
	// TaskJobDoneGrace is how long after a job finishes its tasks that
	// the task table still holds unfinished are marked FAILED (their end
	// was never reported: the owner exited first, or died), as Ray's
	// gcs_mark_task_failed_on_job_done_delay_ms. Default 15s.
	TaskJobDoneGrace time.Duration
	// BinaryRetention is how long a staged job binary no unfinished job
	// names is kept after its last job finished, or after it was last
	// written or named (binaries.go); negative keeps them for ever.
	// Default 1h.
	BinaryRetention time.Duration
	// AcceptLoss starts the server on a database that lost acknowledged
	// writes — fewer commits than its witness records, a damaged
	// write-ahead log, a missing or unreadable witness — with a warning,
	// instead of refusing to (StorageError). An operator's decision, for
	// one start: the witness is rewritten for what the database holds.
	// Unreadable database files (sstables, the manifest) are refused
	// regardless.
	AcceptLoss bool
	// Replicas lists the members of a replicated GCS (NewReplica), the
	// same list in the same order on each: a replica's raft id is its
	// position plus one. A single Server ignores it.
	Replicas []core.Addr
	// ReplicaTick is a replica's tick: the leader's heartbeat period and
	// the unit of ElectionTicks. Default 100ms.
	ReplicaTick time.Duration
	// ElectionTicks is how many ticks a follower waits without hearing
	// from a leader before it campaigns (it draws a timeout in
	// [ElectionTicks, 2·ElectionTicks) each time), and how many a leader
	// waits without hearing from a quorum before it steps down.
	// Default 10.
	ElectionTicks int
	// RaftLogKeep is how many applied entries a replica keeps in its log
	// for followers that lag; one further behind gets a snapshot of the
	// tables. Default 4096.
	RaftLogKeep int
	// Bug plants a known bug for tests (one of the Bug* constants). It is
	// test-only: a production server leaves it empty.
	Bug string
}

// Test-only planted bugs (Config.Bug). Each breaks one guarantee so that
// tests can prove their checks notice.
const (
	// BugAckBeforeSync acknowledges mutations before writing them: they
	// are written only once 64 KiB of them have gathered, and lost if the
	// server crashes first.
	BugAckBeforeSync = "ack-before-sync"
	// BugDoubleApply ignores dedup records: a retried or duplicated
	// request is applied again.
	BugDoubleApply = "double-apply"
	// BugStaleRead serves KVGet from a cache that writes do not
	// invalidate.
	BugStaleRead = "stale-read"
	// BugForgetDedup keeps dedup records only in memory: after a restart a
	// retried request is applied again.
	BugForgetDedup = "forget-dedup"
	// BugBlameOthers drops the health check's stall guard: after the
	// server itself stalled (a pause, a VM freeze), it declares dead
	// every node whose heartbeats are still queued behind the check.
	BugBlameOthers = "blame-others"
	// BugTrustDisk skips the storage checks at start (the write-ahead log
	// scan and the witness): a disk damaged at rest is served as pebble
	// recovers it, which may silently drop acknowledged writes.
	BugTrustDisk = "trust-disk"
	// BugIgnoreFloor applies a request below its client's ack floor (a
	// duplicate of a call the client finished long ago, whose dedup
	// record is gone) as a new one.
	BugIgnoreFloor = "ignore-floor"
	// BugWallClockStamps stamps a job's end with the clock as it reads,
	// even when the clock was stepped back since the job started: the
	// job then ends before it began.
	BugWallClockStamps = "wall-clock-stamps"
	// BugPGNameNotFreed leaves a removed placement group in the name
	// index: until the server restarts (and rebuilds the index from the
	// records), GetPlacementGroup by name answers with the REMOVED group
	// and a new group of that name gets Conflict.
	BugPGNameNotFreed = "pg-name-not-freed"
	// BugCommitFailedPrepare makes a placement group's decision after a
	// failed prepare as if every bundle had been prepared: the group is
	// CREATED with a bundle on a node that does not hold it. The cluster
	// simulator workload catches it (variant pg-commit-failed-prepare);
	// Bugs does not list it, as the gcs workload's groups are never
	// placed.
	BugCommitFailedPrepare = "commit-failed-prepare"
	// BugAckBeforeCommit makes a replicated GCS's leader send its replies
	// (and everything else) as soon as it has them, before the entries
	// they depend on are committed and without confirming it still
	// leads: a leader cut off from the others acknowledges writes that
	// its successor never sees.
	BugAckBeforeCommit = "ack-before-commit"
	// BugFollowerRead makes a replica that does not lead answer KVGet
	// from its own applied state, without a read index: it serves values
	// that writes the leader acknowledged have replaced.
	BugFollowerRead = "follower-read"
)

// ReplicaBugs returns the names of the planted bugs of a replicated GCS,
// sorted.
func ReplicaBugs() []string { return []string{BugAckBeforeCommit, BugFollowerRead} }

// Bugs returns the names of the planted bugs, sorted.
func Bugs() []string {
	b := []string{BugAckBeforeSync, BugDoubleApply, BugStaleRead, BugForgetDedup, BugBlameOthers, BugTrustDisk, BugIgnoreFloor, BugWallClockStamps, BugPGNameNotFreed}
	slices.Sort(b)
	return b
}

// DBDir is the directory of the server's pebble database on env.FS().
const DBDir = "gcs-db"

// RepliesPerClientMax bounds the dedup records the server keeps for one
// client: it accepts mutations only with seqs below the client's AckBelow
// plus this window. A request beyond it gets Unavailable (and is retried by
// the client) until older calls finish.
const RepliesPerClientMax = 1000

// SubscribersMax bounds the number of pubsub subscribers.
const SubscribersMax = 10_000

func (c *Config) setDefaults() {
	if c.HealthCheckPeriod <= 0 {
		c.HealthCheckPeriod = time.Second
	}
	if c.ReplicaTick <= 0 {
		c.ReplicaTick = DefaultReplicaTick
	}
	if c.ElectionTicks <= 0 {
		c.ElectionTicks = DefaultElectionTicks
	}
	if c.RaftLogKeep <= 0 {
		c.RaftLogKeep = 4096
	}
	if c.NodeTimeout <= 0 {
		c.NodeTimeout = 10 * time.Second
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = 5 * time.Second
	}
	if c.QueueMax <= 0 {
		c.QueueMax = 1024
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = time.Hour
	}
	if c.BinaryRetention == 0 {
		c.BinaryRetention = time.Hour
	}
	if c.TaskJobDoneGrace <= 0 {
		c.TaskJobDoneGrace = 15 * time.Second
	}
	if c.TasksMax <= 0 {
		c.TasksMax = 10_000
	}
	if c.Bug != "" && c.Bug != BugCommitFailedPrepare && !slices.Contains(Bugs(), c.Bug) && !slices.Contains(ReplicaBugs(), c.Bug) {
		panic(fmt.Sprintf("gcs: unknown Config.Bug %q (known: %v)", c.Bug, Bugs()))
	}
}

// subscriberTTL is how long a subscriber may go without polling before the
// server forgets it.
func (c *Config) subscriberTTL() time.Duration {
	return max(6*c.PollTimeout, 30*time.Second)
}
