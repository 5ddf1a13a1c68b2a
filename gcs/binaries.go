package gcs

import (
	"slices"
	"strings"
	"time"
)

// Staged job binaries (the root package stages a driver's executable so
// that nodes can launch its workers): "<hash>" in BinaryNS holds the
// manifest and "<hash>/<i>" its chunks, tens of megabytes per binary, in
// the GCS's memory and storage. They are removed once no job needs them:
// a binary named by a job that has not finished, or finished less than
// Config.BinaryRetention ago, is kept, and so is one written or named by
// a job less than that ago (it may be staged for a job about to
// register). After a restart every binary counts as written at the
// restart. The sweep runs every binarySweep.

// BinaryNS is the KV namespace of staged job binaries.
const BinaryNS = "gray.binaries"

// BinaryManifest describes a staged file: "<hash>" in BinaryNS holds it
// as JSON, "<hash>/<i>" for i below Chunks the file's bytes. It is
// written after every chunk, so that its presence means the upload is
// complete.
type BinaryManifest struct {
	Size   int64  `json:"size"`
	Chunks int    `json:"chunks"`
	GOOS   string `json:"goos,omitempty"`
	GOARCH string `json:"goarch,omitempty"`
	// Kind is "" for a program (GOOS and GOARCH say where it runs) and
	// KindArchive for a submitted job's working directory.
	Kind string `json:"kind,omitempty"`
}

// ArchiveMax bounds a staged working directory's files, unpacked.
const ArchiveMax = 100 << 20

// DriverLogName is the log file, under a node's DATA-DIR/logs, of a
// submitted job's driver.
func DriverLogName(id string) string { return "job-driver-" + id + ".log" }

// KindArchive marks a staged working directory: a gzipped tar of
// regular files and directories.
const KindArchive = "archive"

// binarySweep is how often the GCS looks for binaries no job needs.
const binarySweep = time.Minute

// binaryOf returns the hash a key of BinaryNS belongs to.
func binaryOf(key string) string {
	hash, _, _ := strings.Cut(key, "/")
	return hash
}

// touchBinary records that binary hash was written or named now.
func (s *Server) touchBinary(hash string) {
	if hash != "" {
		s.binTouched[hash] = s.env.Now()
	}
}

func (s *Server) startBinarySweep() {
	if s.cfg.BinaryRetention < 0 {
		return
	}
	for key := range s.kv[BinaryNS] { //gray:unordered the same time for every key
		s.touchBinary(binaryOf(key))
	}
	var sweep func()
	sweep = func() {
		if s.stopped {
			return
		}
		s.sweepBinaries()
		s.env.AfterFunc(binarySweep, sweep)
	}
	s.env.AfterFunc(binarySweep, sweep)
}

// sweepBinaries removes the staged binaries no job needs (see above).
func (s *Server) sweepBinaries() {
	now := s.env.Now()
	keep := s.cfg.BinaryRetention
	needed := map[string]bool{}
	for _, id := range s.jobOrder {
		j := s.jobs[id]
		if j.Binary != "" && (!j.Finished || now.Sub(time.Unix(0, j.EndTime)) < keep) {
			needed[j.Binary] = true
		}
	}
	// A submitted job's binary and working directory are needed until
	// it ended, and for the retention after (its driver may be retried
	// by hand, and its record still names them).
	for _, id := range s.jobSubOrder {
		j := s.jobSubs[id]
		if !j.State.Terminal() || now.Sub(time.Unix(0, j.EndTime)) < keep {
			needed[j.Spec.Binary] = true
			if j.Spec.WorkingDir != "" {
				needed[j.Spec.WorkingDir] = true
			}
		}
	}
	keys := make([]string, 0, len(s.kv[BinaryNS]))
	for key := range s.kv[BinaryNS] { //gray:unordered sorted below
		keys = append(keys, key)
	}
	slices.Sort(keys)
	var t *txn
	removed, bytes := 0, 0
	for _, key := range keys {
		hash := binaryOf(key)
		touched, ok := s.binTouched[hash]
		if needed[hash] || !ok || now.Sub(touched) < keep {
			continue
		}
		if t == nil {
			t = s.newTxn()
		}
		if key == hash {
			removed++
		}
		bytes += len(s.kv[BinaryNS][key])
		s.kvDelete(t, BinaryNS, key)
	}
	if t == nil {
		return
	}
	for hash := range s.binTouched { //gray:unordered deleting entries only
		if !needed[hash] && now.Sub(s.binTouched[hash]) >= keep {
			delete(s.binTouched, hash)
		}
	}
	s.commit(t)
	s.log.Info("gcs: removed staged job binaries no job needs", "binaries", removed, "bytes", bytes, "retention", keep.String())
}
