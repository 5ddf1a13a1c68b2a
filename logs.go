package gray

import (
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// logsProc is a node's log service (process "logs"): it lists and reads
// the worker log files in DATA-DIR/logs for `gray logs`. File reads run
// off the loop (Env.Go); names are checked, so nothing outside the
// directory can be read.
type logsProc struct {
	dir string

	env   core.Env
	srv   *rpc.Server
	next  uint64
	waits map[uint64]func(core.Message, error)
}

// logDone carries a finished read back to the loop; it never crosses the
// network.
type logDone struct {
	id  uint64
	rep core.Message
	err error
}

const msgLogDone core.MsgType = 64901

func (*logDone) MsgType() core.MsgType { return msgLogDone }

func (p *logsProc) Start(env core.Env) {
	p.env = env
	p.waits = map[uint64]func(core.Message, error){}
	p.srv = rpc.NewServer(env)
	p.srv.Register((&proto.ListLogs{}).MsgType(), func(_ core.Addr, _ core.Message, reply func(core.Message, error)) {
		p.run(reply, p.list)
	})
	p.srv.Register((&proto.ReadLog{}).MsgType(), func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
		r := *m.(*proto.ReadLog)
		p.run(reply, func() (core.Message, error) { return p.read(r) })
	})
}

func (p *logsProc) Receive(from core.Addr, m core.Message) {
	if d, ok := m.(*logDone); ok && from == p.env.Self() {
		if reply := p.waits[d.id]; reply != nil {
			delete(p.waits, d.id)
			reply(d.rep, d.err)
		}
		return
	}
	p.srv.Handle(from, m)
}

func (p *logsProc) run(reply func(core.Message, error), work func() (core.Message, error)) {
	p.next++
	id := p.next
	p.waits[id] = reply
	p.env.Go(func() core.Message {
		rep, err := work()
		return &logDone{id: id, rep: rep, err: err}
	})
}

func (p *logsProc) list() (core.Message, error) {
	entries, err := os.ReadDir(p.dir)
	if os.IsNotExist(err) {
		return &proto.ListLogsReply{}, nil
	}
	if err != nil {
		return nil, rpc.Errorf(rpc.CodeUnavailable, "listing the logs: %v", err)
	}
	var files []proto.LogFile
	for _, e := range entries {
		if !proto.ValidLogName(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		files = append(files, proto.LogFile{Name: e.Name(), Size: fi.Size(), ModTime: fi.ModTime().UnixNano()})
	}
	slices.SortFunc(files, func(a, b proto.LogFile) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return &proto.ListLogsReply{Files: files}, nil
}

func (p *logsProc) read(r proto.ReadLog) (core.Message, error) {
	f, err := os.Open(filepath.Join(p.dir, r.Name))
	if os.IsNotExist(err) {
		return nil, rpc.Errorf(rpc.CodeNotFound, "no log %s on this node", r.Name)
	}
	if err != nil {
		return nil, rpc.Errorf(rpc.CodeUnavailable, "opening log %s: %v", r.Name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, rpc.Errorf(rpc.CodeUnavailable, "%v", err)
	}
	off := r.Offset
	if off < 0 {
		off = max(0, fi.Size()+off)
	}
	buf := make([]byte, min(int64(r.Max), max(0, fi.Size()-off)))
	n, err := f.ReadAt(buf, off)
	if err != nil && err != io.EOF {
		return nil, rpc.Errorf(rpc.CodeUnavailable, "%v", err)
	}
	return &proto.ReadLogReply{Data: buf[:n], Size: fi.Size()}, nil
}
