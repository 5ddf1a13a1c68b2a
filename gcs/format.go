package gcs

import (
	"fmt"
	"strconv"
	"strings"
)

// String methods keep simulator traces and Describe output short and
// deterministic (no pointers, only the fields that are set).

// String formats n on one line.
func (n NodeInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %s v%d addr=%s res=%v", n.ID, n.State, n.Version, n.Addr, n.Resources)
	if !n.Available.Equal(n.Resources) {
		fmt.Fprintf(&b, " avail=%v", n.Available)
	}
	if n.DeathCause != "" {
		fmt.Fprintf(&b, " cause=%q", n.DeathCause)
	}
	return b.String()
}

// String formats j on one line.
func (j JobInfo) String() string {
	s := fmt.Sprintf("%v driver=%s", j.ID, j.DriverAddr)
	if len(j.Metadata) > 0 {
		s += fmt.Sprintf(" metadata=%dB", len(j.Metadata))
	}
	if j.Finished {
		s += " finished"
	}
	return s
}

// String formats a on one line.
func (a ActorInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %s v%d", a.ID, a.State, a.Version)
	if a.Name != "" {
		fmt.Fprintf(&b, " name=%q/%q", a.Namespace, a.Name)
	}
	fmt.Fprintf(&b, " restarts=%d/%d", a.NumRestarts, a.MaxRestarts)
	if !a.Node.IsNil() {
		fmt.Fprintf(&b, " on=%v", a.Node)
	}
	if a.Addr != "" {
		fmt.Fprintf(&b, " addr=%s", a.Addr)
	}
	if a.DeathCause != "" {
		fmt.Fprintf(&b, " cause=%q", a.DeathCause)
	}
	return b.String()
}

// String formats v on one line.
func (v ResourceView) String() string {
	return fmt.Sprintf("%v total=%v avail=%v", v.Node, v.Total, v.Available)
}

// String formats m on one line.
func (m PubMessage) String() string {
	switch {
	case m.Node != nil:
		return fmt.Sprintf("#%d %s [%v]", m.Seq, m.Channel, *m.Node)
	case m.Actor != nil:
		return fmt.Sprintf("#%d %s [%v]", m.Seq, m.Channel, *m.Actor)
	case m.Resources != nil:
		return fmt.Sprintf("#%d %s [%v]", m.Seq, m.Channel, *m.Resources)
	}
	return fmt.Sprintf("#%d %s []", m.Seq, m.Channel)
}

// String formats r with only the fields that are set.
func (r *Reply) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Reply{%s/%d e%d %s", r.Client, r.Seq, r.Epoch, r.Code)
	if r.Err != "" {
		fmt.Fprintf(&b, " err=%q", r.Err)
	}
	flag := func(on bool, name string) {
		if on {
			b.WriteString(" " + name)
		}
	}
	flag(r.Found, "found")
	flag(r.Added, "added")
	flag(r.Deleted, "deleted")
	flag(r.Swapped, "swapped")
	flag(r.Dead, "dead")
	flag(r.Created, "created")
	if r.Value != nil {
		b.WriteString(" value=" + quoteBytes(r.Value))
	}
	if r.Keys != nil {
		fmt.Fprintf(&b, " keys=%q", r.Keys)
	}
	if !r.Job.IsNil() {
		fmt.Fprintf(&b, " job=%v", r.Job)
	}
	if !r.ActorID.IsNil() {
		fmt.Fprintf(&b, " actor_id=%v", r.ActorID)
	}
	for _, n := range r.Nodes {
		fmt.Fprintf(&b, " node=[%v]", n)
	}
	for _, j := range r.Jobs {
		fmt.Fprintf(&b, " job=[%v]", j)
	}
	for _, a := range r.Actors {
		fmt.Fprintf(&b, " actor=[%v]", a)
	}
	b.WriteByte('}')
	return b.String()
}

// String formats r with its messages.
func (r *PollReply) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "PollReply{%s/%d e%d %s head=%d", r.Client, r.Seq, r.Epoch, r.Code, r.Head)
	if r.Err != "" {
		fmt.Fprintf(&b, " err=%q", r.Err)
	}
	if r.Gap {
		b.WriteString(" GAP")
	}
	for _, m := range r.Messages {
		fmt.Fprintf(&b, " {%v}", m)
	}
	b.WriteByte('}')
	return b.String()
}

// quoteBytes shows short values as quoted strings and long ones by size.
func quoteBytes(v []byte) string {
	if len(v) > 64 {
		return strconv.Itoa(len(v)) + "B"
	}
	return strconv.Quote(string(v))
}
