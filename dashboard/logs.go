package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
)

// Worker logs: every node serves the log files of the workers it
// launched (process "logs" beside its raylet); the dashboard lists them
// on the alive nodes and reads one's tail, as gray logs does.

// LogFileView is one worker log file in /api/v0/logs.
type LogFileView struct {
	Node     string `json:"node_id"`
	Name     string `json:"name"`
	Bytes    int64  `json:"bytes"`
	Modified int64  `json:"modified_ms"`
}

// LogView is /api/v0/logs/file: the tail of one file.
type LogView struct {
	Node  string `json:"node_id"`
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
	// Data is the last bytes of the file (at most tail, default 64 KiB).
	Data string `json:"data"`
}

var errNoRequest = errors.New("dashboard: this head cannot reach the nodes' log services")

func (s *Server) aliveNodes(r *http.Request) ([]gcs.NodeInfo, error) {
	var nodes []gcs.NodeInfo
	if err := s.readGCS(r.Context(), func(g *gcs.Server) { nodes = g.Nodes() }); err != nil {
		return nil, err
	}
	alive := nodes[:0]
	for _, n := range nodes {
		if n.State == gcs.NodeAlive {
			alive = append(alive, n)
		}
	}
	return alive, nil
}

// handleLogs lists the worker log files of the alive nodes; filters:
// node (id prefix), job (number).
func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	if s.opts.Source.Request == nil {
		writeError(w, http.StatusNotImplemented, errNoRequest)
		return
	}
	nodes, err := s.aliveNodes(r)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	q := r.URL.Query()
	nodePrefix := strings.TrimPrefix(q.Get("node"), "node:")
	jobPrefix := ""
	if j := q.Get("job"); j != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(j, "job:"))
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("job %q: want its number", j))
			return
		}
		jobPrefix = fmt.Sprintf("job-%d-", n)
	}
	out := []LogFileView{}
	for _, n := range nodes {
		if !strings.HasPrefix(strings.TrimPrefix(n.ID.String(), "node:"), nodePrefix) {
			continue
		}
		m, err := s.opts.Source.Request(r.Context(), proto.LogsAddr(n.Addr), &proto.ListLogs{})
		if err != nil {
			continue // a node that does not answer lists nothing
		}
		for _, f := range m.(*proto.ListLogsReply).Files {
			if strings.HasPrefix(f.Name, jobPrefix) {
				out = append(out, LogFileView{Node: n.ID.String(), Name: f.Name, Bytes: f.Size, Modified: f.ModTime / 1e6})
			}
		}
	}
	writeJSON(w, ListResult[LogFileView]{Total: len(out), Result: out})
}

// handleLogFile returns the tail of one log file (name; tail in bytes).
func (s *Server) handleLogFile(w http.ResponseWriter, r *http.Request) {
	if s.opts.Source.Request == nil {
		writeError(w, http.StatusNotImplemented, errNoRequest)
		return
	}
	name := r.URL.Query().Get("name")
	if !proto.ValidLogName(name) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%q is no worker log name (job-JOB-worker-TOKEN.out or .err)", name))
		return
	}
	tail := int64(64 << 10)
	if t := r.URL.Query().Get("tail"); t != "" {
		v, err := strconv.ParseInt(t, 10, 64)
		if err != nil || v <= 0 || v > proto.LogReadMax {
			writeError(w, http.StatusBadRequest, fmt.Errorf("tail %q: want 1..%d bytes", t, proto.LogReadMax))
			return
		}
		tail = v
	}
	nodes, err := s.aliveNodes(r)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	_, token, _ := strings.Cut(name, "-worker-")
	for _, n := range nodes {
		if !strings.HasPrefix(token, proto.LaunchPrefix(n.ID)) {
			continue
		}
		m, err := s.opts.Source.Request(r.Context(), proto.LogsAddr(n.Addr), &proto.ReadLog{Name: name, Offset: -tail, Max: int(tail)})
		if err != nil {
			writeError(w, http.StatusBadGateway, err)
			return
		}
		rep := m.(*proto.ReadLogReply)
		writeJSON(w, LogView{Node: n.ID.String(), Name: name, Bytes: rep.Size, Data: string(rep.Data)})
		return
	}
	writeError(w, http.StatusNotFound, fmt.Errorf("the node that wrote %s is not alive", name))
}
