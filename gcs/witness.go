package gcs

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/grayrt/gray/core"
)

// A store that cannot prove it holds everything it acknowledged must not
// serve. Pebble alone cannot prove it: replaying its WAL it takes any
// unreadable record in the newest log for the torn tail of a crash and
// stops there, so a flipped byte, a truncated log or a deleted log would
// silently roll the GCS back to an older state. Three things close that:
//
//   - the format (FormatTableFormatV6 and up) writes WAL sync chunks, with
//     which pebble tells corruption before a record that was synced
//     (refused, ErrCorruption) from the torn tail of a crash (tolerated);
//     sstables carry block and footer checksums, verified on every read,
//     and Start reads every record;
//   - every committed batch also sets m/commits, the number of batches
//     committed since the database was created;
//   - the witness, a small file next to the database (WitnessFile), holds
//     the commit count the server knew durable at some moment: at its
//     start (after recovery), at every WAL rotation and at a clean stop.
//     A database that recovers fewer commits than its witness lost
//     acknowledged writes, whatever the cause (a truncated or deleted
//     log, a database directory restored from an old copy), and Start
//     refuses it.
//
// What stays undetectable on one disk: after a crash (no clean stop),
// losing the newest log's records written since the last rotation, or
// the last record alone, looks exactly like a torn tail. A replica that
// holds the data is the only proof there; see the HA design.

// WitnessFile is the name of the witness on the server's disk, next to
// DBDir.
const WitnessFile = "gcs-acked"

// witnessMagic starts the witness file; the format is line-oriented
// text so that an operator can read it.
const witnessMagic = "gray gcs witness v1"

// witness is what the witness file records.
type witness struct {
	Commits uint64 // commits known durable
	Epoch   uint64 // boot counter at the time
	Clean   bool   // written by a clean stop
}

func (w witness) encode() []byte {
	body := fmt.Sprintf("%s\ncommits %d\nepoch %d\nclean %t\n", witnessMagic, w.Commits, w.Epoch, w.Clean)
	return fmt.Appendf(nil, "%scrc32c %08x\n", body, crc32.Checksum([]byte(body), crc32.MakeTable(crc32.Castagnoli)))
}

// parseWitness decodes a witness file; any damage is an error.
func parseWitness(b []byte) (witness, error) {
	var w witness
	i := bytes.LastIndex(b, []byte("crc32c "))
	if i < 0 || !bytes.HasSuffix(b, []byte("\n")) {
		return w, errors.New("no checksum line")
	}
	body := b[:i]
	sum, err := strconv.ParseUint(strings.TrimSpace(string(b[i+len("crc32c "):])), 16, 32)
	if err != nil {
		return w, fmt.Errorf("checksum line: %v", err)
	}
	if uint32(sum) != crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) {
		return w, errors.New("checksum mismatch")
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if len(lines) != 4 || lines[0] != witnessMagic {
		return w, errors.New("not a gcs witness (bad header)")
	}
	var clean string
	if _, err := fmt.Sscanf(lines[1]+" "+lines[2]+" "+lines[3], "commits %d epoch %d clean %s", &w.Commits, &w.Epoch, &clean); err != nil {
		return w, fmt.Errorf("bad fields: %v", err)
	}
	switch clean {
	case "true":
		w.Clean = true
	case "false":
	default:
		return w, fmt.Errorf("bad clean flag %q", clean)
	}
	return w, nil
}

// readWitness returns the witness on fs, found false when there is none.
func readWitness(disk vfs.FS) (w witness, found bool, err error) {
	f, err := disk.Open(WitnessFile)
	if err != nil {
		if oserrorIsNotExist(err) {
			return w, false, nil
		}
		return w, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return w, true, err
	}
	w, err = parseWitness(b)
	return w, true, err
}

func oserrorIsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// writeWitness replaces the witness atomically and durably: a synced
// temporary file renamed over it, then the directory synced. A failure is
// a failed disk write, a fail-stop.
func writeWitness(disk vfs.FS, w witness) error {
	tmp := WitnessFile + ".tmp"
	f, err := disk.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	if _, err := f.Write(w.encode()); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := disk.Rename(tmp, WitnessFile); err != nil {
		return err
	}
	d, err := disk.OpenDir("")
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// StorageError says that the GCS's disk cannot prove it holds every
// write the GCS acknowledged: a corrupt or missing file, or state older
// than its witness. The GCS refuses to start on it; restarting does not
// help (errors.Is(err, core.ErrUnrecoverable)), an operator must act.
type StorageError struct {
	Path    string // the file or directory at fault
	Problem string // what is wrong with it
	// Acceptable is set when the GCS could serve what the disk still
	// holds if told to (Config.AcceptLoss); unreadable files it cannot.
	Acceptable bool
}

func (e *StorageError) Error() string {
	advice := "restore the GCS's directory from a backup"
	if e.Acceptable {
		advice += ", or start once with --gcs-accept-loss to serve what it holds"
	}
	return fmt.Sprintf("gcs storage %s: %s; the GCS will not serve state that may have lost acknowledged writes: %s", e.Path, e.Problem, advice)
}

// Is makes a StorageError match core.ErrUnrecoverable.
func (e *StorageError) Is(target error) bool { return target == core.ErrUnrecoverable }

// refuse stops the server for good on bad storage.
func (s *Server) refuse(path string, acceptable bool, format string, args ...any) {
	err := &StorageError{Path: core.FSPath(s.env.FS(), path), Problem: fmt.Sprintf(format, args...), Acceptable: acceptable}
	s.log.Error("gcs: refusing to start", "err", err)
	panic(core.FailStop{Reason: "gcs: storage cannot prove it holds every acknowledged write", Err: err})
}

// openDB opens and scans the database, turning every form of corruption
// pebble reports (an error or, on some damaged files, a panic) into a
// StorageError. Other errors (permissions, a failing disk) stay ordinary
// fail-stops, worth a restart.
func (s *Server) openDB(opts *pebble.Options) (db *pebble.DB, r *recovered) {
	var stage string
	func() {
		defer func() {
			if v := recover(); v != nil {
				if stop, ok := v.(core.FailStop); ok {
					panic(stop)
				}
				if db != nil {
					s.poisoned = true // its state after a panic is unknown; never Close it
				}
				s.refuse(DBDir, false, "pebble panicked while %s: %v", stage, v)
			}
		}()
		stage = "checking the write-ahead logs"
		file, problem, err := "", "", error(nil)
		if s.cfg.Bug != BugTrustDisk {
			file, problem, err = checkWALs(opts.FS, DBDir)
		}
		if err != nil {
			panic(core.FailStop{Reason: "gcs: read the write-ahead logs", Err: err})
		}
		if problem != "" {
			if !s.cfg.AcceptLoss {
				s.refuse(file, true, "%s", problem)
			}
			s.log.Warn("gcs: serving what a damaged write-ahead log holds, as told (AcceptLoss)", "file", core.FSPath(opts.FS, file), "problem", problem)
		}
		stage = "opening the database"
		db, err = pebble.Open(DBDir, opts)
		if err != nil {
			if pebble.IsCorruptionError(err) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, pebble.ErrDBNotPristine) {
				// A damaged or missing file of the database (the
				// manifest, the options, the format marker, without
				// which pebble takes the database for a new one that is
				// not empty): nothing a restart fixes.
				s.refuse(DBDir, false, "cannot be opened: %v", err)
			}
			if !isIOError(err) {
				// Pebble rejected what its files say (a damaged
				// OPTIONS file names another merger or does not
				// parse): the same files give the same answer on
				// every restart.
				s.refuse(DBDir, false, "cannot be opened, its files are inconsistent: %v", err)
			}
			panic(core.FailStop{Reason: "gcs: open database", Err: err})
		}
		stage = "reading every record"
		r, err = scan(db)
		if err != nil {
			_ = db.Close()
			db = nil
			if pebble.IsCorruptionError(err) {
				path, problem := describeCorruption(err)
				s.refuse(path, false, "%s", problem)
			}
			s.refuse(DBDir, false, "unreadable: %v", err)
		}
	}()
	return db, r
}

// isIOError reports whether err came from the disk failing an operation
// (a *fs.PathError, as the operating system and the simulated disk report
// them, or an errno with its Temporary method) rather than from pebble
// rejecting the contents of its files. Only the former may pass with a
// restart.
func isIOError(err error) bool {
	var pe *fs.PathError
	var errno interface{ Temporary() bool }
	return errors.As(err, &pe) || errors.As(err, &errno)
}

// checkWitness compares what the database recovered with the witness.
func (s *Server) checkWitness(r *recovered) {
	w, found, err := readWitness(s.env.FS())
	switch {
	case s.cfg.Bug == BugTrustDisk:
	case s.cfg.AcceptLoss:
		if found && err == nil && r.commits < w.Commits {
			s.log.Warn("gcs: serving a database that lost acknowledged writes, as told (AcceptLoss)",
				"recovered_commits", r.commits, "acknowledged_commits", w.Commits)
		}
	case err != nil:
		s.refuse(WitnessFile, true, "unreadable (%v); it records how much the database must hold", err)
	case !found && r.commits > 0:
		s.refuse(WitnessFile, true, "missing, while the database holds %d commits", r.commits)
	case r.hasDigest && r.digest.sum != r.stored:
		s.refuse(DBDir, true, "its records do not add up to the digest its last commit stored (%016x, read %016x): records were lost or changed (a damaged manifest, log or table)",
			r.stored, r.digest.sum)
	case found && r.commits < w.Commits:
		how := "at a WAL rotation or at start"
		if w.Clean {
			how = "at a clean stop"
		}
		s.refuse(DBDir, true, "holds %d commits, but %d were durable %s (epoch %d; %s): acknowledged writes are missing (a truncated, corrupt or deleted log, or an older copy)",
			r.commits, w.Commits, how, w.Epoch, WitnessFile)
	}
}

// writeWitness records commits as durable now. A failure fail-stops (a disk
// that cannot write a small file cannot be trusted with the database).
func (s *Server) writeWitness(clean bool) {
	if err := writeWitness(s.env.FS(), witness{Commits: s.commits, Epoch: s.epoch, Clean: clean}); err != nil {
		panic(core.FailStop{Reason: "gcs: write " + WitnessFile, Err: err})
	}
}
