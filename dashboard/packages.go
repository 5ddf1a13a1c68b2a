package dashboard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/jobstage"
)

// Staged files (Ray's /api/packages/): PUT /api/packages/{sha256} stages
// a submitted job's program, or with ?kind=archive its working directory
// (a gzipped tar), content-addressed in the GCS's binary namespace
// exactly as gray job submit does (internal/jobstage); GET answers
// whether one is staged. A job then names them in its runtime_env.

// PackageView is a staged file as /api/packages/{sha256} describes it.
type PackageView struct {
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	// Kind is "program" or "archive".
	Kind   string `json:"kind"`
	GOOS   string `json:"goos,omitempty"`
	GOARCH string `json:"goarch,omitempty"`
	// Uploaded: this request staged it (false: it was staged already).
	Uploaded bool `json:"uploaded"`
}

func viewPackage(hash string, m gcs.BinaryManifest) PackageView {
	return PackageView{SHA256: hash, Bytes: m.Size, Kind: kindName(m.Kind), GOOS: m.GOOS, GOARCH: m.GOARCH}
}

// kindName names a manifest's kind: "program" for "".
func kindName(kind string) string {
	if kind == "" {
		return "program"
	}
	return kind
}

// aKind names a kind with its article, for messages.
func aKind(kind string) string {
	if kind == gcs.KindArchive {
		return "an archive"
	}
	return "a " + kindName(kind)
}

// staged reads the manifest of a staged file from the GCS.
func (s *Server) staged(ctx context.Context, hash string) (m gcs.BinaryManifest, found bool, err error) {
	var decodeErr error
	if err := s.readGCS(ctx, func(g *gcs.Server) {
		var b []byte
		if b, found = g.KV(gcs.BinaryNS, hash); found {
			decodeErr = json.Unmarshal(b, &m)
		}
	}); err != nil {
		return m, false, err
	}
	if decodeErr != nil {
		return m, false, fmt.Errorf("dashboard: the manifest of staged file %s is corrupt: %w", hash, decodeErr)
	}
	return m, found, nil
}

// checkStaged checks that spec's binary is a staged program and its
// working directory, if any, a staged archive; a client's mistake is a
// badRequest.
func (s *Server) checkStaged(ctx context.Context, spec proto.DriverSpec) error {
	for _, f := range []struct{ field, hash, kind, query string }{
		{"binary", spec.Binary, "", ""}, {"working_dir", spec.WorkingDir, gcs.KindArchive, "?kind=archive"},
	} {
		if f.hash == "" {
			continue
		}
		m, found, err := s.staged(ctx, f.hash)
		switch {
		case err != nil:
			return err
		case !found:
			return badRequest{fmt.Errorf("runtime_env.%s %s is not staged: stage it first with PUT /api/packages/%s%s", f.field, f.hash, f.hash, f.query)}
		case m.Kind != f.kind:
			return badRequest{fmt.Errorf("runtime_env.%s %s is staged as %s, not %s", f.field, f.hash, aKind(m.Kind), aKind(f.kind))}
		}
	}
	return nil
}

// packageHash reads the path's {hash}; it answers 400 and returns false
// when it is no SHA-256.
func packageHash(w http.ResponseWriter, r *http.Request) (string, bool) {
	hash := r.PathValue("hash")
	if !proto.ValidHash(hash) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("package %q: want the file's SHA-256, 64 lowercase hex digits (sha256sum FILE)", hash))
		return "", false
	}
	return hash, true
}

func (s *Server) handleGetPackage(w http.ResponseWriter, r *http.Request) {
	hash, ok := packageHash(w, r)
	if !ok {
		return
	}
	m, found, err := s.staged(r.Context(), hash)
	switch {
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err)
	case !found:
		writeError(w, http.StatusNotFound, fmt.Errorf("package %s is not staged", hash))
	default:
		writeBare(w, viewPackage(hash, m))
	}
}

// handlePutPackage stages the request's body under {hash}. The body is
// written to a temporary file while it is hashed, so that nothing
// reaches the GCS before its hash is verified (a wrong upload must not
// overwrite the chunks of a right one in flight) and memory stays at
// one chunk however large the program.
func (s *Server) handlePutPackage(w http.ResponseWriter, r *http.Request) {
	hash, ok := packageHash(w, r)
	if !ok {
		return
	}
	if s.opts.Source.Call == nil {
		writeError(w, http.StatusNotImplemented, errNoCall)
		return
	}
	want := gcs.BinaryManifest{}
	limit := int64(jobstage.ProgramMax)
	switch k := r.URL.Query().Get("kind"); k {
	case "", "program":
	case gcs.KindArchive:
		want.Kind, limit = gcs.KindArchive, gcs.ArchiveMax
	default:
		writeError(w, http.StatusBadRequest, fmt.Errorf("kind %q: want program (the default) or archive (a working directory as a gzipped tar)", k))
		return
	}
	if m, found, err := s.staged(r.Context(), hash); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	} else if found {
		if m.Kind != want.Kind {
			writeError(w, http.StatusConflict, fmt.Errorf("package %s is staged already as %s", hash, aKind(m.Kind)))
			return
		}
		writeBare(w, viewPackage(hash, m))
		return
	}
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("a body of %d bytes; a staged %s has at most %d", r.ContentLength, kindName(want.Kind), limit))
		return
	}
	f, err := os.CreateTemp("", "gray-dashboard-upload-*")
	if err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Errorf("dashboard: buffering the upload: %w", err))
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, sum), io.LimitReader(r.Body, limit+1))
	switch {
	case err != nil:
		writeError(w, http.StatusBadRequest, fmt.Errorf("reading the body: %w", err))
		return
	case n > limit:
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("a body of more than %d bytes; a staged %s has at most that", limit, kindName(want.Kind)))
		return
	case n == 0:
		writeError(w, http.StatusBadRequest, errors.New("an empty body: send the file (curl --data-binary @FILE or -T FILE)"))
		return
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != hash {
		writeError(w, http.StatusBadRequest, fmt.Errorf("the body's SHA-256 is %s, not the path's %s (sent with curl -d? use --data-binary or -T, which keep the bytes)", got, hash))
		return
	}
	if err := checkUpload(f, n, &want); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	st := jobstage.Store{Put: func(ctx context.Context, key string, value []byte) error {
		_, err := s.call(ctx, func(c *gcs.Client, cb func(gcs.Reply, error)) { c.KVPut(gcs.BinaryNS, key, value, true, cb) })
		return err
	}}
	if err := jobstage.Upload(r.Context(), st, hash, f, n, want); err != nil {
		writeCallError(w, "staging package "+hash, err)
		return
	}
	want.Size = n
	v := viewPackage(hash, want)
	v.Uploaded = true
	writeBare(w, v)
}

// checkUpload checks the n bytes of f as what m says they are: a
// program (whose header gives m its platform) or an archive.
func checkUpload(f *os.File, n int64, m *gcs.BinaryManifest) error {
	if m.Kind == gcs.KindArchive {
		if err := jobstage.CheckArchive(io.NewSectionReader(f, 0, n)); err != nil {
			return fmt.Errorf("the working directory archive: %w", err)
		}
		return nil
	}
	header := make([]byte, min(n, jobstage.HeaderBytes))
	if _, err := f.ReadAt(header, 0); err != nil {
		return fmt.Errorf("dashboard: reading back the upload: %w", err)
	}
	goos, goarch, err := jobstage.Platform(header)
	if err != nil {
		return fmt.Errorf("the program: %w; for a working directory, PUT with ?kind=archive", err)
	}
	m.GOOS, m.GOARCH = goos, goarch
	return nil
}
