package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
)

// JobLogsView is GET /api/jobs/{id}/logs: Ray's JobLogsResponse (logs)
// with what gray knows besides.
type JobLogsView struct {
	// Logs is the driver's output: its last driverLogMax bytes at most,
	// from the start of a line when cut.
	Logs string `json:"logs"`
	// Truncated: the log is longer than Logs.
	Truncated bool `json:"truncated,omitempty"`
	// Bytes is the log file's size.
	Bytes  int64  `json:"bytes"`
	NodeID string `json:"driver_node_id,omitempty"`
	// Message says why Logs is empty or short when it is not the whole
	// story: the driver has not started on a node, the node is dead.
	Message string `json:"message,omitempty"`
}

func (s *Server) handleSubmissionLogs(w http.ResponseWriter, r *http.Request) {
	j, node, ok := s.submission(w, r)
	id := j.ID()
	switch {
	case !ok:
		return
	case j.Node.IsNil():
		msg := fmt.Sprintf("job %s has not started on a node yet", id)
		if j.State.Terminal() {
			msg = fmt.Sprintf("job %s ended (%v) before its driver ran on a node", id, j.State)
		}
		writeBare(w, JobLogsView{Message: msg})
		return
	case node.State == gcs.NodeDead:
		writeBare(w, JobLogsView{NodeID: nodeID(j.Node),
			Message: fmt.Sprintf("node %v, which ran the driver, is dead; the log stays in its DATA-DIR/logs/%s", j.Node, gcs.DriverLogName(id))})
		return
	case s.opts.Source.Request == nil:
		writeError(w, http.StatusNotImplemented, errNoRequest)
		return
	}
	v, err := s.readDriverLog(r.Context(), node.Addr, id, driverLogMax)
	if err != nil {
		writeError(w, http.StatusBadGateway, fmt.Errorf("reading the driver log on node %v: %w", j.Node, err))
		return
	}
	v.NodeID = nodeID(j.Node)
	writeBare(w, v)
}

// readDriverLog reads the last tailMax bytes of job id's driver log from
// the log service of the node whose raylet is at raylet, in reads of at
// most proto.LogReadMax. A log not written yet is empty.
func (s *Server) readDriverLog(ctx context.Context, raylet core.Addr, id string, tailMax int64) (JobLogsView, error) {
	var v JobLogsView
	name := gcs.DriverLogName(id)
	var data []byte
	off := -tailMax // the first read learns the size
	// Each read but the last returns proto.LogReadMax bytes: the bound
	// holds a log that grows meanwhile to one more read.
	for reads := 0; reads <= int(tailMax/proto.LogReadMax)+1; reads++ {
		want := min(tailMax-int64(len(data)), proto.LogReadMax)
		if want <= 0 {
			break
		}
		m, err := s.opts.Source.Request(ctx, proto.LogsAddr(raylet), &proto.ReadLog{Name: name, Offset: off, Max: int(want)})
		if errors.Is(err, gcs.ErrNotFound) {
			v.Message = "the driver has written no output yet"
			return v, nil
		}
		if err != nil {
			return v, err
		}
		rep := m.(*proto.ReadLogReply)
		if off < 0 {
			off = max(0, rep.Size-tailMax)
			v.Truncated = off > 0
		}
		data = append(data, rep.Data...)
		off += int64(len(rep.Data))
		v.Bytes = rep.Size
		if len(rep.Data) == 0 || off >= rep.Size {
			break
		}
	}
	if v.Truncated {
		// Start at a line: the cut may fall inside one, or inside a
		// character.
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
		v.Message = fmt.Sprintf("the last %d of %d bytes, from a line's start (gray job logs %s prints them all)", len(data), v.Bytes, id)
	}
	v.Logs = string(data)
	return v, nil
}
