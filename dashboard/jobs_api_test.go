package dashboard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/gcsaddr"
	"github.com/grayrt/gray/internal/jobstage"
	gnet "github.com/grayrt/gray/net"
)

// jobsHangGuard bounds every wait of the job API tests for the GCS: a
// hang fails, slowness does not (each takes milliseconds).
const jobsHangGuard = time.Minute

// driverRaylet plays a node's raylet as far as submitted jobs go: it
// registers its node, hands every StartDriver's spec to the test, and
// answers a StopDriver by reporting the driver STOPPED, as a raylet
// whose driver exited on SIGTERM does.
type driverRaylet struct {
	gcs     core.Addr
	c       *gcs.Client
	rpc     *rpc.Client
	srv     *rpc.Server
	node    core.NodeID
	started chan proto.DriverSpec
}

func (f *driverRaylet) Start(env core.Env) {
	f.c = gcs.NewClient(env, f.gcs, gcs.ClientOptions{})
	f.rpc = rpc.NewClient(env)
	f.srv = rpc.NewServer(env)
	f.srv.Register((&proto.StartDriver{}).MsgType(), func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
		select {
		case f.started <- m.(*proto.StartDriver).Spec:
		default: // a resend the test does not wait for
		}
		reply(&proto.Ack{}, nil)
	})
	f.srv.Register((&proto.StopDriver{}).MsgType(), func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
		reply(&proto.Ack{}, nil)
		f.c.UpdateJobSubmission(gcs.UpdateJobSubmission{ID: m.(*proto.StopDriver).ID, Node: f.node, State: gcs.SubmissionStopped,
			ExitCode: -1, Exited: true, Message: "stopped by SIGTERM"}, nil)
	})
}

func (f *driverRaylet) Receive(from core.Addr, m core.Message) {
	if f.c.Handle(from, m) || f.rpc.Handle(from, m) {
		return
	}
	f.srv.Handle(from, m)
}

// fakeLogs is a node's log service serving files held in memory, with
// the real one's offsets (logs.go of the root package).
type fakeLogs struct {
	srv   *rpc.Server
	mu    sync.Mutex
	files map[string][]byte
}

func (l *fakeLogs) Start(env core.Env) {
	l.srv = rpc.NewServer(env)
	l.srv.Register((&proto.ReadLog{}).MsgType(), func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
		r := m.(*proto.ReadLog)
		l.mu.Lock()
		data, ok := l.files[r.Name]
		l.mu.Unlock()
		if !ok {
			reply(nil, rpc.Errorf(rpc.CodeNotFound, "no log %s on this node", r.Name))
			return
		}
		size := int64(len(data))
		off := r.Offset
		if off < 0 {
			off = max(0, size+off)
		}
		off = min(off, size)
		reply(&proto.ReadLogReply{Data: data[off:min(size, off+int64(r.Max))], Size: size}, nil)
	})
}

func (l *fakeLogs) Receive(from core.Addr, m core.Message) { l.srv.Handle(from, m) }

func (l *fakeLogs) write(name string, data []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.files[name] = data
}

// jobsFixture is a started GCS with one node (driverRaylet, 4 CPUs and 1
// disk, its log service beside it), and a dashboard Server over them.
type jobsFixture struct {
	h     http.Handler
	g     *gcs.Server
	host  *gnet.Host
	gaddr core.Addr
	rl    *driverRaylet
	raddr core.Addr
	logs  *fakeLogs
}

func newJobsFixture(t *testing.T, nodeTimeout time.Duration) *jobsFixture {
	t.Helper()
	host := gnet.NewHost(gnet.HostOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { host.Close() })
	f := &jobsFixture{host: host, g: gcs.NewServer(gcs.Config{NodeTimeout: nodeTimeout})}
	var err error
	if f.gaddr, err = host.Add("gcs", f.g); err != nil {
		t.Fatal(err)
	}
	f.rl = &driverRaylet{gcs: f.gaddr, node: core.NewNodeID(rand.New(rand.NewPCG(1, 2))), started: make(chan proto.DriverSpec, 16)}
	if f.raddr, err = host.Add("raylet", f.rl); err != nil {
		t.Fatal(err)
	}
	f.logs = &fakeLogs{files: map[string][]byte{}}
	logsAddr, err := host.Add("logs", f.logs)
	if err != nil {
		t.Fatal(err)
	}
	call := func(ctx context.Context, start func(c *gcs.Client, cb func(gcs.Reply, error))) (gcs.Reply, error) {
		return gcsaddr.CallOn(ctx, host, f.raddr, func() *gcs.Client { return f.rl.c }, start)
	}
	request := func(ctx context.Context, to core.Addr, m core.Message) (core.Message, error) {
		type result struct {
			m   core.Message
			err error
		}
		if to == proto.LogsAddr(f.raddr) {
			// The in-memory host names processes without the peer
			// part that LogsAddr replaces ("raylet", not "PEER#raylet").
			to = logsAddr
		}
		done := make(chan result, 1)
		if err := host.Do(f.raddr, func() {
			f.rl.rpc.Call(to, m, rpc.Options{Timeout: 10 * time.Second}, func(r core.Message, err error) { done <- result{r, err} })
		}); err != nil {
			return nil, err
		}
		select {
		case res := <-done:
			return res.m, res.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	total := core.MustResources(core.CPU, core.Units(4), "disk", core.Units(1))
	if _, err := call(t.Context(), func(c *gcs.Client, cb func(gcs.Reply, error)) { c.RegisterNode(f.rl.node, f.raddr, total, cb) }); err != nil {
		t.Fatalf("registering the node: %v", err)
	}
	src := Source{
		GCS:     func(fn func(*gcs.Server)) error { return host.Do(f.gaddr, func() { fn(f.g) }) },
		Request: request,
		Call:    call,
	}
	f.h = (&Server{opts: Options{Token: testToken, Source: src, ReadTimeout: 5 * time.Second}}).Handler()
	return f
}

// report sends a raylet's report about a driver, as the node would.
func (f *jobsFixture) report(t *testing.T, m gcs.UpdateJobSubmission) {
	t.Helper()
	m.Node = f.rl.node
	done := make(chan error, 1)
	if err := f.host.Do(f.raddr, func() { f.rl.c.UpdateJobSubmission(m, func(_ gcs.Reply, err error) { done <- err }) }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("reporting %s %v: %v", m.ID, m.State, err)
		}
	case <-time.After(jobsHangGuard):
		t.Fatalf("reporting %s %v hung for %v", m.ID, m.State, jobsHangGuard)
	}
}

// testToken is the dashboard token of the job API's test servers: its
// writes need one. serve sends it unless the header gives another.
const testToken = "test-token"

// serve sends one request to h and returns the answer.
func serve(h http.Handler, method, target string, body []byte, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// do serves a request that must answer code, and decodes its body into
// out (if not nil).
func do(t *testing.T, h http.Handler, method, target string, body []byte, code int, out any) {
	t.Helper()
	rec := serve(h, method, target, body)
	if rec.Code != code {
		t.Fatalf("%s %s = %d, want %d: %s", method, target, rec.Code, code, rec.Body)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, target, err, rec.Body)
		}
	}
}

// fakeProgram returns size bytes that start as a Linux amd64 executable.
func fakeProgram(size int) []byte {
	b := make([]byte, size)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB)
	binary.LittleEndian.PutUint16(b[16:], uint16(elf.ET_EXEC))
	binary.LittleEndian.PutUint16(b[18:], uint16(elf.EM_X86_64))
	for i := 64; i < size; i++ {
		b[i] = byte(i * 7)
	}
	return b
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// stagePackages stages a program of 2.5 chunks and a working directory,
// and returns their hashes.
func stagePackages(t *testing.T, h http.Handler) (program, archive string) {
	t.Helper()
	prog := fakeProgram(2*jobstage.ChunkBytes + jobstage.ChunkBytes/2)
	program = sha(prog)
	var v PackageView
	do(t, h, "PUT", "/api/packages/"+program, prog, http.StatusOK, &v)
	if want := (PackageView{SHA256: program, Bytes: int64(len(prog)), Kind: "program", GOOS: "linux", GOARCH: "amd64", Uploaded: true}); v != want {
		t.Errorf("PUT the program = %+v, want %+v", v, want)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"epochs": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tgz, err := jobstage.PackDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	archive = sha(tgz)
	do(t, h, "PUT", "/api/packages/"+archive+"?kind=archive", tgz, http.StatusOK, &v)
	if v.Kind != "archive" || !v.Uploaded || v.Bytes != int64(len(tgz)) {
		t.Errorf("PUT the archive = %+v, want an archive of %d bytes, uploaded", v, len(tgz))
	}
	return program, archive
}

// TestPackagesAPI: PUT stages a file as gray job submit does (chunks,
// then the manifest); GET tells whether one is staged; what is not the
// file its path names, or not what its kind says, is refused.
func TestPackagesAPI(t *testing.T) {
	f := newJobsFixture(t, time.Hour)
	program, archive := stagePackages(t, f.h)

	// The chunks in the GCS make the program again, and the manifest
	// says so.
	var m gcs.BinaryManifest
	var back []byte
	done := make(chan error, 1)
	_ = f.host.Do(f.gaddr, func() {
		mb, _ := f.g.KV(gcs.BinaryNS, program)
		if err := json.Unmarshal(mb, &m); err != nil {
			done <- err
			return
		}
		for i := range m.Chunks {
			c, _ := f.g.KV(gcs.BinaryNS, fmt.Sprintf("%s/%d", program, i))
			back = append(back, c...)
		}
		done <- nil
	})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := (gcs.BinaryManifest{Size: int64(len(back)), Chunks: 3, GOOS: "linux", GOARCH: "amd64"}); m != want || sha(back) != program {
		t.Errorf("staged manifest %+v and %d bytes hashing to %s; want %+v hashing to %s", m, len(back), sha(back), want, program)
	}

	var v PackageView
	do(t, f.h, "GET", "/api/packages/"+program, nil, http.StatusOK, &v)
	if v.Kind != "program" || v.Bytes != m.Size || v.Uploaded {
		t.Errorf("GET the program = %+v, want a program of %d bytes", v, m.Size)
	}
	do(t, f.h, "GET", "/api/packages/"+archive, nil, http.StatusOK, &v)
	if v.Kind != "archive" {
		t.Errorf("GET the archive = %+v, want kind archive", v)
	}
	do(t, f.h, "PUT", "/api/packages/"+program, fakeProgram(2*jobstage.ChunkBytes+jobstage.ChunkBytes/2), http.StatusOK, &v)
	if v.Uploaded {
		t.Errorf("PUT a staged program again = %+v, want uploaded false", v)
	}

	text := []byte("#!/bin/sh\necho hi\n")
	tooBig := httptest.NewRequest("PUT", "/api/packages/"+sha(text)+"?kind=archive", bytes.NewReader(text))
	tooBig.ContentLength = gcs.ArchiveMax + 1
	tooBig.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, tooBig)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("PUT an archive said to be %d bytes = %d, want 413: %s", tooBig.ContentLength, rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		name, method, target string
		body                 []byte
		code                 int
		msg                  string
	}{
		{"unknown", "GET", "/api/packages/" + sha([]byte("never staged")), nil, http.StatusNotFound, "not staged"},
		{"no hash", "GET", "/api/packages/xyz", nil, http.StatusBadRequest, "64 lowercase hex"},
		{"upper case", "PUT", "/api/packages/" + strings.ToUpper(program), nil, http.StatusBadRequest, "64 lowercase hex"},
		{"wrong bytes", "PUT", "/api/packages/" + sha([]byte("other")), fakeProgram(100), http.StatusBadRequest, "SHA-256 is " + sha(fakeProgram(100))},
		{"a script", "PUT", "/api/packages/" + sha(text), text, http.StatusBadRequest, "not an executable"},
		{"empty", "PUT", "/api/packages/" + sha(nil), nil, http.StatusBadRequest, "empty body"},
		{"no gzip", "PUT", "/api/packages/" + sha(text) + "?kind=archive", text, http.StatusBadRequest, "not a gzipped tar"},
		{"bad kind", "PUT", "/api/packages/" + sha(text) + "?kind=wheel", text, http.StatusBadRequest, "want program"},
		{"kind differs", "PUT", "/api/packages/" + program + "?kind=archive", nil, http.StatusConflict, "staged already as a program"},
		{"not staged, not a GET", "POST", "/api/packages/" + program, nil, http.StatusMethodNotAllowed, ""},
	} {
		rec := serve(f.h, tc.method, tc.target, tc.body)
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.msg) {
			t.Errorf("%s: %s %s = %d %s, want %d with %q", tc.name, tc.method, tc.target, rec.Code, rec.Body, tc.code, tc.msg)
		}
	}
}

// waitStatus polls GET /api/jobs/{id} until the job is in status.
func waitStatus(t *testing.T, h http.Handler, id, status string) SubmissionView {
	t.Helper()
	deadline := time.Now().Add(jobsHangGuard)
	for {
		var v SubmissionView
		do(t, h, "GET", "/api/jobs/"+id, nil, http.StatusOK, &v)
		if v.Status == status {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s after %v, want %s", id, v.Status, jobsHangGuard, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestJobsAPI: a job submitted over HTTP reaches its node's raylet with
// its program, arguments, environment and working directory; the list,
// one job, its driver log (whole and cut), stop and delete answer as
// Ray's job REST API does.
func TestJobsAPI(t *testing.T) {
	f := newJobsFixture(t, time.Hour)
	program, archive := stagePackages(t, f.h)

	body := fmt.Sprintf(`{"entrypoint": "train --epochs 3  --lr\t0.1", "submission_id": "job-1",
		"runtime_env": {"binary": %q, "working_dir": %q, "env_vars": {"B": "2", "A": "x=y"}},
		"metadata": {"owner": "ana"}, "entrypoint_num_cpus": 1, "entrypoint_resources": {"disk": 0.5}, "stop_grace_s": 1.5}`, program, archive)
	var sr SubmitReply
	do(t, f.h, "POST", "/api/jobs/", []byte(body), http.StatusOK, &sr)
	if sr != (SubmitReply{SubmissionID: "job-1", JobID: "job-1"}) {
		t.Errorf("submit = %+v, want job-1", sr)
	}
	select {
	case spec := <-f.rl.started:
		want := proto.DriverSpec{ID: "job-1", Binary: program, WorkingDir: archive, Args: []string{"train", "--epochs", "3", "--lr", "0.1"}, Env: []string{"A=x=y", "B=2"}}
		if !reflect.DeepEqual(spec, want) {
			t.Errorf("the raylet got %+v, want %+v", spec, want)
		}
	case <-time.After(jobsHangGuard):
		t.Fatalf("no StartDriver reached the raylet in %v", jobsHangGuard)
	}
	do(t, f.h, "POST", "/api/jobs/", []byte(body), http.StatusConflict, nil)

	f.report(t, gcs.UpdateJobSubmission{ID: "job-1", State: gcs.SubmissionRunning})
	v := waitStatus(t, f.h, "job-1", "RUNNING")
	if v.Entrypoint != "train --epochs 3 --lr 0.1" || v.NodeID != hex.EncodeToString(f.rl.node[:]) || v.Metadata["owner"] != "ana" ||
		!reflect.DeepEqual(v.Resources, map[string]float64{"CPU": 1, "disk": 0.5}) || v.RuntimeEnv["working_dir"] != archive {
		t.Errorf("job-1 = %+v, want its entrypoint, node, metadata, resources and working_dir", v)
	}
	var list []SubmissionView
	do(t, f.h, "GET", "/api/jobs", nil, http.StatusOK, &list)
	if len(list) != 1 || list[0].SubmissionID != "job-1" {
		t.Errorf("GET /api/jobs = %+v, want job-1", list)
	}

	// The log: none yet, then whole, then its last MiB from a line.
	var logs JobLogsView
	do(t, f.h, "GET", "/api/jobs/job-1/logs", nil, http.StatusOK, &logs)
	if logs.Logs != "" || !strings.Contains(logs.Message, "no output yet") {
		t.Errorf("logs before any output = %+v, want none, said", logs)
	}
	f.logs.write(gcs.DriverLogName("job-1"), []byte("epoch 1\nepoch 2\n"))
	do(t, f.h, "GET", "/api/jobs/job-1/logs", nil, http.StatusOK, &logs)
	if logs.Logs != "epoch 1\nepoch 2\n" || logs.Truncated || logs.Bytes != 16 {
		t.Errorf("logs = %+v, want the two lines, whole", logs)
	}
	line := strings.Repeat("x", 99) + "\n"
	long := strings.Repeat(line, (driverLogMax+driverLogMax/2)/len(line)) + "last\n"
	f.logs.write(gcs.DriverLogName("job-1"), []byte(long))
	do(t, f.h, "GET", "/api/jobs/job-1/logs", nil, http.StatusOK, &logs)
	if !logs.Truncated || logs.Bytes != int64(len(long)) || len(logs.Logs) > driverLogMax || !strings.HasPrefix(logs.Logs, line) ||
		!strings.HasSuffix(logs.Logs, line+"last\n") || logs.Message == "" {
		t.Errorf("logs of %d bytes: truncated %v, %d bytes shown, message %q; want the last whole lines within %d bytes, said",
			len(long), logs.Truncated, len(logs.Logs), logs.Message, driverLogMax)
	}

	// Delete refuses a running job; stop ends it; a second stop and a
	// delete of the ended job answer as Ray's.
	rec := serve(f.h, "DELETE", "/api/jobs/job-1", nil)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "stop it first") {
		t.Errorf("DELETE a running job = %d %s, want 400 with the GCS's message", rec.Code, rec.Body)
	}
	var stop StopReply
	do(t, f.h, "POST", "/api/jobs/job-1/stop", nil, http.StatusOK, &stop)
	if !stop.Stopped {
		t.Error("stopping a running job = false, want true")
	}
	v = waitStatus(t, f.h, "job-1", "STOPPED")
	if v.ExitCode == nil || *v.ExitCode != -1 || v.EndTime == 0 {
		t.Errorf("stopped job-1 = %+v, want exit code -1 and an end", v)
	}
	do(t, f.h, "POST", "/api/jobs/job-1/stop", nil, http.StatusOK, &stop)
	if stop.Stopped {
		t.Error("stopping a stopped job = true, want false")
	}
	var del DeleteReply
	do(t, f.h, "DELETE", "/api/jobs/job-1", nil, http.StatusOK, &del)
	if !del.Deleted {
		t.Error("DELETE = false, want true")
	}
	for _, tc := range []struct{ method, target string }{
		{"GET", "/api/jobs/job-1"}, {"GET", "/api/jobs/job-1/logs"}, {"POST", "/api/jobs/job-1/stop"}, {"DELETE", "/api/jobs/job-1"},
	} {
		if rec := serve(f.h, tc.method, tc.target, nil); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "no job job-1") {
			t.Errorf("%s %s of a deleted job = %d %s, want 404", tc.method, tc.target, rec.Code, rec.Body)
		}
	}
	if rec := serve(f.h, "GET", "/api/jobs/bad%20id", nil); rec.Code != http.StatusBadRequest {
		t.Errorf("GET a malformed id = %d %s, want 400", rec.Code, rec.Body)
	}

	// A job no node can run waits, says why, and stops at once; an id
	// is made up when none is given.
	do(t, f.h, "POST", "/api/jobs/", []byte(fmt.Sprintf(`{"entrypoint": "gpu-job", "runtime_env": {"binary": %q}, "entrypoint_num_gpus": 1}`, program)), http.StatusOK, &sr)
	if !strings.HasPrefix(sr.SubmissionID, "graysubmit_") {
		t.Errorf("a submission without an id got %q, want graysubmit_…", sr.SubmissionID)
	}
	v = waitStatus(t, f.h, sr.SubmissionID, "PENDING")
	if !strings.Contains(v.Message, "GPU") {
		t.Errorf("a job needing a GPU says %q, want why it waits", v.Message)
	}
	do(t, f.h, "GET", "/api/jobs/"+sr.SubmissionID+"/logs", nil, http.StatusOK, &logs)
	if !strings.Contains(logs.Message, "not started") {
		t.Errorf("logs of a pending job = %+v, want a message that it has not started", logs)
	}
	do(t, f.h, "POST", "/api/jobs/"+sr.SubmissionID+"/stop", nil, http.StatusOK, &stop)
	if v := waitStatus(t, f.h, sr.SubmissionID, "STOPPED"); !stop.Stopped || v.NodeID != "" {
		t.Errorf("stopping a pending job: %+v, then %+v; want stopped, never on a node", stop, v)
	}
	do(t, f.h, "DELETE", "/api/jobs/"+sr.SubmissionID, nil, http.StatusOK, &del)
	do(t, f.h, "GET", "/api/jobs/", nil, http.StatusOK, &list)
	if list == nil || len(list) != 0 {
		t.Errorf("GET /api/jobs/ with no job = %#v, want []", list)
	}
}

// TestSubmitValidation: what Ray's JobSubmitRequest or gray's
// runtime_env does not allow is a 400 that says what to fix; nothing
// reaches the GCS's table.
func TestSubmitValidation(t *testing.T) {
	f := newJobsFixture(t, time.Hour)
	program, archive := stagePackages(t, f.h)
	env := fmt.Sprintf(`"runtime_env": {"binary": %q}`, program)
	for _, tc := range []struct {
		name, body, msg string
	}{
		{"not JSON", `entrypoint=train`, "no job submission"},
		{"unknown field", `{"entrypoint": "a", ` + env + `, "pip": ["x"]}`, "unknown field"},
		{"no entrypoint", `{` + env + `}`, "entrypoint is empty"},
		{"blank entrypoint", `{"entrypoint": " \t", ` + env + `}`, "entrypoint is empty"},
		{"no binary", `{"entrypoint": "a"}`, "runtime_env.binary is required"},
		{"not a hash", `{"entrypoint": "a", "runtime_env": {"binary": "./train"}}`, "64 lowercase hex"},
		{"conda", `{"entrypoint": "a", "runtime_env": {"binary": "` + program + `", "conda": "env"}}`, "runtime_env.conda: gray does not support it"},
		{"env not strings", `{"entrypoint": "a", "runtime_env": {"binary": "` + program + `", "env_vars": {"N": 1}}}`, "a string value"},
		{"env name with =", `{"entrypoint": "a", "runtime_env": {"binary": "` + program + `", "env_vars": {"A=B": "1"}}}`, "without '='"},
		{"bad id", `{"entrypoint": "a", "submission_id": "a/b", ` + env + `}`, "submission id"},
		{"two ids", `{"entrypoint": "a", "submission_id": "a", "job_id": "b", ` + env + `}`, "deprecated name"},
		{"negative", `{"entrypoint": "a", "entrypoint_resources": {"CPU": -1}, ` + env + `}`, "non-negative"},
		{"too fine", `{"entrypoint": "a", "entrypoint_resources": {"CPU": 0.00001}, ` + env + `}`, "steps of"},
		{"CPU twice", `{"entrypoint": "a", "entrypoint_num_cpus": 1, "entrypoint_resources": {"CPU": 1}, ` + env + `}`, "give one"},
		{"grace", `{"entrypoint": "a", "stop_grace_s": 86400, ` + env + `}`, "stop_grace_s"},
		{"metadata", `{"entrypoint": "a", "metadata": {"k": "` + strings.Repeat("v", gcs.SubmissionMetadataMax) + `"}, ` + env + `}`, "metadata"},
		{"unstaged", `{"entrypoint": "a", "runtime_env": {"binary": "` + sha([]byte("nope")) + `"}}`, "stage it first with PUT /api/packages/" + sha([]byte("nope"))},
		{"archive as binary", `{"entrypoint": "a", "runtime_env": {"binary": "` + archive + `"}}`, "staged as an archive, not a program"},
		{"program as dir", `{"entrypoint": "a", "runtime_env": {"binary": "` + program + `", "working_dir": "` + program + `"}}`, "staged as a program, not an archive"},
		{"huge", `{"entrypoint": "` + strings.Repeat("a ", submitBodyMax/2) + `", ` + env + `}`, "no job submission"},
	} {
		rec := serve(f.h, "POST", "/api/jobs/", []byte(tc.body))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.msg) {
			t.Errorf("%s: POST /api/jobs/ = %d %s, want 400 with %q", tc.name, rec.Code, rec.Body, tc.msg)
		}
	}
	var list []SubmissionView
	do(t, f.h, "GET", "/api/jobs/", nil, http.StatusOK, &list)
	if len(list) != 0 {
		t.Errorf("after refused submissions, GET /api/jobs/ = %+v, want none", list)
	}
}

// TestJobLogsDeadNode: the log of a driver whose node died is not read;
// the answer says where it stays.
func TestJobLogsDeadNode(t *testing.T) {
	// The fake raylet sends no heartbeat: its node dies after the
	// timeout, once the job runs there.
	f := newJobsFixture(t, 2*time.Second)
	prog := fakeProgram(100)
	do(t, f.h, "PUT", "/api/packages/"+sha(prog), prog, http.StatusOK, nil)
	do(t, f.h, "POST", "/api/jobs/", []byte(fmt.Sprintf(`{"entrypoint": "a", "submission_id": "j", "runtime_env": {"binary": %q}}`, sha(prog))), http.StatusOK, nil)
	f.report(t, gcs.UpdateJobSubmission{ID: "j", State: gcs.SubmissionRunning})
	f.logs.write(gcs.DriverLogName("j"), []byte("out\n"))
	v := waitStatus(t, f.h, "j", "FAILED")
	var logs JobLogsView
	do(t, f.h, "GET", "/api/jobs/j/logs", nil, http.StatusOK, &logs)
	if logs.Logs != "" || !strings.Contains(logs.Message, "is dead") || !strings.Contains(logs.Message, gcs.DriverLogName("j")) || logs.NodeID != v.NodeID {
		t.Errorf("logs of a dead node's driver = %+v, want none, and where the log stays", logs)
	}
}

// TestJobsAPIToken: every job route needs the token like the others.
func TestJobsAPIToken(t *testing.T) {
	h := newTestServer("s3cret").Handler()
	hash := strings.Repeat("ab", 32)
	for _, tc := range []struct{ method, target string }{
		{"GET", "/api/jobs/"}, {"GET", "/api/jobs"}, {"POST", "/api/jobs/"}, {"GET", "/api/jobs/x"}, {"GET", "/api/jobs/x/logs"},
		{"POST", "/api/jobs/x/stop"}, {"DELETE", "/api/jobs/x"}, {"GET", "/api/packages/" + hash}, {"PUT", "/api/packages/" + hash},
	} {
		if rec := serve(h, tc.method, tc.target, nil); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without the token = %d, want 401", tc.method, tc.target, rec.Code)
		}
		if rec := serve(h, tc.method, tc.target, nil, "Authorization", "Bearer nope"); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token = %d, want 401", tc.method, tc.target, rec.Code)
		}
		if rec := serve(h, tc.method, tc.target, nil, "Authorization", "Bearer s3cret"); rec.Code == http.StatusUnauthorized {
			t.Errorf("%s %s with the token = 401", tc.method, tc.target)
		}
	}
}

// TestJobsAPIWritesNeedAToken: a dashboard without a token serves the
// job API's reads but refuses what runs code or changes state (submit,
// stage, stop, delete), saying how to enable it.
func TestJobsAPIWritesNeedAToken(t *testing.T) {
	h := newTestServer("").Handler()
	hash := strings.Repeat("ab", 32)
	var list []SubmissionView
	do(t, h, "GET", "/api/jobs/", nil, http.StatusOK, &list)
	for _, tc := range []struct{ method, target string }{
		{"POST", "/api/jobs/"}, {"POST", "/api/jobs"}, {"POST", "/api/jobs/x/stop"}, {"DELETE", "/api/jobs/x"}, {"PUT", "/api/packages/" + hash},
	} {
		if rec := serve(h, tc.method, tc.target, []byte("{}")); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "--dashboard-token") {
			t.Errorf("%s %s on a dashboard without a token = %d %s, want 403 naming --dashboard-token", tc.method, tc.target, rec.Code, rec.Body)
		}
	}
}

// TestJobsAPICrossOrigin: a page of another origin cannot change state
// through the user's browser, token or not; reads and non-browser
// clients pass.
func TestJobsAPICrossOrigin(t *testing.T) {
	h := newTestServer(testToken).Handler()
	for _, tc := range []struct {
		name           string
		method, target string
		header         []string
		want           int
	}{
		{"cross-site stop", "POST", "/api/jobs/x/stop", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"other origin delete", "DELETE", "/api/jobs/x", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"cross-site upload", "PUT", "/api/packages/" + strings.Repeat("ab", 32), []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"same origin", "POST", "/api/jobs/x/stop", []string{"Sec-Fetch-Site", "same-origin"}, http.StatusNotFound},
		{"curl", "POST", "/api/jobs/x/stop", nil, http.StatusNotFound},
		{"cross-site read", "GET", "/api/jobs/", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusOK},
	} {
		if rec := serve(h, tc.method, tc.target, nil, tc.header...); rec.Code != tc.want {
			t.Errorf("%s: %s %s = %d %s, want %d", tc.name, tc.method, tc.target, rec.Code, rec.Body, tc.want)
		}
	}
}

// TestJobsAPINoCall: a Source without Call serves the reads and says
// that it cannot change anything.
func TestJobsAPINoCall(t *testing.T) {
	h := newTestServer(testToken).Handler()
	hash := strings.Repeat("ab", 32)
	var list []SubmissionView
	do(t, h, "GET", "/api/jobs/", nil, http.StatusOK, &list)
	for _, tc := range []struct{ method, target string }{
		{"POST", "/api/jobs/"}, {"DELETE", "/api/jobs/x"}, {"PUT", "/api/packages/" + hash},
	} {
		if rec := serve(h, tc.method, tc.target, []byte("{}")); rec.Code != http.StatusNotImplemented || !strings.Contains(rec.Body.String(), "gray CLI") {
			t.Errorf("%s %s without Call = %d %s, want 501", tc.method, tc.target, rec.Code, rec.Body)
		}
	}
}
