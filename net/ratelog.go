package net

import (
	"sync/atomic"
	"time"
)

// logEvery limits how often one kind of repetitive log record (a dropped
// message, a failed dial) is written, so that a flood of drops cannot flood
// the log too. Records that are suppressed are still counted by the
// caller's statistics, and the next record that passes says how many were
// suppressed.
type logEvery struct {
	interval   time.Duration
	last       atomic.Int64 // unix ns of the last record written
	suppressed atomic.Int64
}

// allow reports whether a record may be written now, and how many were
// suppressed since the last one that was.
func (l *logEvery) allow() (ok bool, suppressed int64) {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if last != 0 && now-last < int64(l.interval) {
		l.suppressed.Add(1)
		return false, 0
	}
	if !l.last.CompareAndSwap(last, now) {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}

// logInterval is the default interval of logEvery limiters.
const logInterval = time.Second
