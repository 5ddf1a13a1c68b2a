package gray

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"sync"

	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
)

// Job binaries: a joining driver stages its own executable in the GCS's
// key-value store, content-addressed, so that raylets can start worker
// processes from it (the driver program is also the worker program).

const (
	// binaryNS is the KV namespace of staged binaries: "<hash>" holds the
	// manifest, "<hash>/<i>" the chunks.
	binaryNS = gcs.BinaryNS
	// binaryChunk is the size of one stored chunk.
	binaryChunk = 1 << 20
	// binaryMax bounds a staged binary.
	binaryMax = 1 << 30
)

var self struct {
	once sync.Once
	path string
	hash string
	size int64
	err  error
}

// selfBinary returns the path, hex SHA-256 and size of this program's
// executable, computed once.
func selfBinary() (path, hash string, size int64, err error) {
	self.once.Do(func() {
		p, err := os.Executable()
		if err != nil {
			self.err = fmt.Errorf("gray: locating this program's executable: %w", err)
			return
		}
		f, err := os.Open(p)
		if err != nil {
			self.err = fmt.Errorf("gray: reading this program's executable: %w", err)
			return
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			self.err = fmt.Errorf("gray: hashing this program's executable: %w", err)
			return
		}
		self.path, self.hash, self.size = p, hex.EncodeToString(h.Sum(nil)), n
	})
	return self.path, self.hash, self.size, self.err
}

// stagePutAttempts bounds the calls putStaged makes: each is bounded by
// the GCS client's deadline, so a GCS that answers nothing for about half
// a minute fails the upload.
const stagePutAttempts = 6

// putStaged writes one key of a staged binary. The keys are content
// addressed, so writing one again is harmless: a call whose outcome is
// unknown (the GCS was slow or restarting) is simply made again.
func (rt *Runtime) putStaged(ctx context.Context, key string, value []byte) error {
	var err error
	for attempt := 1; attempt <= stagePutAttempts; attempt++ {
		_, err = do(ctx, rt.driver, func(_ *worker.Worker, reply func(struct{}, error)) {
			rt.dproc.GCS().KVPut(binaryNS, key, value, true, func(_ gcs.Reply, err error) { reply(struct{}{}, err) })
		})
		if !errors.Is(err, gcs.ErrTimeout) || ctx.Err() != nil {
			return err
		}
		rt.log.Warn("gray: the GCS did not answer a write of the job binary in time; writing it again", "key", key, "attempt", attempt)
	}
	return err
}

// stageBinary uploads this program's executable to the cluster unless a
// complete copy with the same hash is there, and returns its hash.
func (rt *Runtime) stageBinary(ctx context.Context) (string, error) {
	path, hash, size, err := selfBinary()
	if err != nil {
		return "", err
	}
	if size > binaryMax {
		return "", fmt.Errorf("gray: this program's executable has %d bytes, more than the %d a job binary may have", size, binaryMax)
	}
	d := rt.dproc
	found, err := do(ctx, rt.driver, func(_ *worker.Worker, reply func(bool, error)) {
		d.GCS().KVExists(binaryNS, hash, func(r gcs.Reply, err error) { reply(r.Found, err) })
	})
	if err != nil {
		return "", fmt.Errorf("gray: looking up the job binary in the GCS: %w", err)
	}
	if found {
		return hash, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("gray: reading this program's executable: %w", err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != hash {
		return "", fmt.Errorf("gray: this program's executable %s changed while it runs", path)
	}
	chunks := (len(data) + binaryChunk - 1) / binaryChunk
	for i := range chunks {
		chunk := data[i*binaryChunk : min(len(data), (i+1)*binaryChunk)]
		if err := rt.putStaged(ctx, fmt.Sprintf("%s/%d", hash, i), chunk); err != nil {
			return "", fmt.Errorf("gray: uploading chunk %d/%d of the job binary: %w", i+1, chunks, err)
		}
	}
	m, _ := json.Marshal(gcs.BinaryManifest{Size: int64(len(data)), Chunks: chunks, GOOS: goruntime.GOOS, GOARCH: goruntime.GOARCH})
	if err := rt.putStaged(ctx, hash, m); err != nil {
		return "", fmt.Errorf("gray: recording the job binary's manifest: %w", err)
	}
	rt.log.Info("gray: staged the job binary", "hash", hash[:12], "bytes", len(data), "chunks", chunks)
	return hash, nil
}
