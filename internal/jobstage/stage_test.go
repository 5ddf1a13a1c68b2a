package jobstage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/grayrt/gray/gcs"
)

// memStore is a Store over a map; it records the keys put, in order, and
// fails the put of failKey.
type memStore struct {
	kv      map[string][]byte
	puts    []string
	failKey string
}

var errPut = errors.New("put refused")

func (s *memStore) store() Store {
	return Store{
		Exists: func(_ context.Context, key string) (bool, error) { _, ok := s.kv[key]; return ok, nil },
		Put: func(_ context.Context, key string, value []byte) error {
			if key == s.failKey {
				return errPut
			}
			s.puts = append(s.puts, key)
			s.kv[key] = value
			return nil
		},
	}
}

// TestStage: the chunks go first, in order, then the manifest; the
// chunks read back make the file; a staged file is not uploaded again.
func TestStage(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (2*ChunkBytes+ChunkBytes/2)/16)
	s := &memStore{kv: map[string][]byte{}}
	hash, err := Stage(t.Context(), s.store(), data, gcs.BinaryManifest{GOOS: "linux", GOARCH: "amd64"})
	if err != nil {
		t.Fatalf("Stage = %v, want nil", err)
	}
	if want := Hash(data); hash != want {
		t.Errorf("Stage = %s, want the data's hash %s", hash, want)
	}
	if want := []string{hash + "/0", hash + "/1", hash + "/2", hash}; !slices.Equal(s.puts, want) {
		t.Errorf("puts = %v, want %v", s.puts, want)
	}
	var m gcs.BinaryManifest
	if err := json.Unmarshal(s.kv[hash], &m); err != nil {
		t.Fatal(err)
	}
	if want := (gcs.BinaryManifest{Size: int64(len(data)), Chunks: 3, GOOS: "linux", GOARCH: "amd64"}); m != want {
		t.Errorf("manifest = %+v, want %+v", m, want)
	}
	var back []byte
	for i := range m.Chunks {
		back = append(back, s.kv[fmt.Sprintf("%s/%d", hash, i)]...)
	}
	if !bytes.Equal(back, data) {
		t.Errorf("the chunks read back are %d bytes, not the %d staged", len(back), len(data))
	}
	s.puts = nil
	if _, err := Stage(t.Context(), s.store(), data, gcs.BinaryManifest{}); err != nil || len(s.puts) != 0 {
		t.Errorf("staging again: %v, puts %v; want nil and none", err, s.puts)
	}
}

// TestStageFailure: a failed chunk stops the upload before the manifest,
// so that the file does not count as staged; the cause survives.
func TestStageFailure(t *testing.T) {
	data := make([]byte, ChunkBytes+1)
	hash := Hash(data)
	s := &memStore{kv: map[string][]byte{}, failKey: hash + "/1"}
	_, err := Stage(t.Context(), s.store(), data, gcs.BinaryManifest{Kind: gcs.KindArchive})
	if !errors.Is(err, errPut) || !strings.Contains(err.Error(), "chunk 2/2") {
		t.Errorf("Stage = %v, want the put's error for chunk 2/2", err)
	}
	if _, ok := s.kv[hash]; ok {
		t.Error("the manifest was written after a failed chunk")
	}
	if _, err := Stage(t.Context(), s.store(), nil, gcs.BinaryManifest{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("Stage(no bytes) = %v, want ErrEmpty", err)
	}
}

func TestPackDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"a.txt": "alpha", "sub/b.txt": "beta"}
	for name, body := range files { //gray:unordered writing files
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	archive, err := PackDir(dir)
	if err != nil {
		t.Fatalf("PackDir = %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b)
	}
	if want := map[string]string{"a.txt": "alpha", "sub/": "", "sub/b.txt": "beta"}; !reflect.DeepEqual(got, want) {
		t.Errorf("archive holds %v, want %v", got, want)
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "link")); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	if _, err := PackDir(dir); err == nil || !strings.Contains(err.Error(), "links are not staged") {
		t.Errorf("PackDir of a directory with a link = %v, want a refusal", err)
	}
}
