package jobstage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/grayrt/gray/gcs"
)

const (
	// ChunkBytes is the size of one staged chunk (as the root package's
	// own binary staging): one KV value, one GCS request.
	ChunkBytes = 1 << 20
	// ProgramMax bounds a staged program, as the nodes' launcher does.
	ProgramMax = 1 << 30
)

// Store reaches the GCS's binary namespace (gcs.BinaryNS); Upload uses
// Put only. Errors are
// returned by Stage and Upload wrapped with %w, so that the caller can
// match them (gcs.ErrTimeout: the outcome is unknown).
type Store struct {
	// Exists reports whether key exists in gcs.BinaryNS.
	Exists func(ctx context.Context, key string) (bool, error)
	// Put writes key of gcs.BinaryNS, overwriting it. It may keep
	// value.
	Put func(ctx context.Context, key string, value []byte) error
}

// ErrEmpty is returned for a file of no bytes: the nodes refuse to
// fetch one (its manifest would say Size 0).
var ErrEmpty = errors.New("jobstage: an empty file cannot be staged")

// Hash returns the name data is staged under: its SHA-256 in hex.
func Hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Stage uploads data unless a complete copy is staged already, and
// returns its hash. m gives the manifest's kind and platform; Stage
// sets its size and chunk count.
func Stage(ctx context.Context, st Store, data []byte, m gcs.BinaryManifest) (string, error) {
	hash := Hash(data)
	found, err := st.Exists(ctx, hash)
	if err != nil {
		return "", fmt.Errorf("looking up the staged copy: %w", err)
	}
	if found {
		return hash, nil
	}
	if err := Upload(ctx, st, hash, bytes.NewReader(data), int64(len(data)), m); err != nil {
		return "", err
	}
	return hash, nil
}

// Upload writes the size bytes of r under hash: every chunk, then the
// manifest. The caller vouches that the bytes hash to hash (Stage
// computes it; the dashboard verifies it before); Upload does not check
// whether a copy is staged already.
func Upload(ctx context.Context, st Store, hash string, r io.ReaderAt, size int64, m gcs.BinaryManifest) error {
	if len(hash) != 2*sha256.Size {
		panic(fmt.Sprintf("jobstage: Upload of hash %q: want %d hex digits", hash, 2*sha256.Size))
	}
	if size <= 0 {
		return ErrEmpty
	}
	m.Size = size
	m.Chunks = int((size + ChunkBytes - 1) / ChunkBytes)
	for i := range m.Chunks {
		off := int64(i) * ChunkBytes
		// A fresh slice per chunk: Put may keep it (a call abandoned
		// on ctx may still be resent).
		chunk := make([]byte, min(ChunkBytes, size-off))
		if _, err := r.ReadAt(chunk, off); err != nil {
			return fmt.Errorf("reading chunk %d/%d: %w", i+1, m.Chunks, err)
		}
		if err := st.Put(ctx, fmt.Sprintf("%s/%d", hash, i), chunk); err != nil {
			return fmt.Errorf("staging chunk %d/%d: %w", i+1, m.Chunks, err)
		}
	}
	mb, err := json.Marshal(m)
	if err != nil {
		panic(err) // a struct of strings and numbers always encodes
	}
	if err := st.Put(ctx, hash, mb); err != nil {
		return fmt.Errorf("recording the staged manifest: %w", err)
	}
	return nil
}
