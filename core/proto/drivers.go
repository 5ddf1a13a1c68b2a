package proto

import (
	"fmt"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
)

// Supervised drivers (Ray's job submission): the GCS keeps submitted
// jobs and picks a node for each; that node's raylet runs the job's
// driver through its host (StartDriver), reports the driver's start and
// exit back to the GCS, and stops it on request (StopDriver). The host
// side is the raylet's DriverLauncher.

// Bounds of a driver's spec.
const (
	// SubmissionIDMax bounds a submission id.
	SubmissionIDMax = 128
	// DriverArgsMax bounds a driver's command line (all arguments).
	DriverArgsMax = 64 << 10
	// DriverEnvMax bounds a driver's extra environment (all entries).
	DriverEnvMax = 64 << 10
	// StopGraceMax bounds how long a stop waits before SIGKILL.
	StopGraceMax = 10 * time.Minute
)

// DriverSpec is what a node needs to run a submitted job's driver.
type DriverSpec struct {
	// ID is the submission id.
	ID string `msgpack:"i"`
	// Binary is the staged program's hash (the GCS's binary namespace);
	// WorkingDir, if set, the hash of a staged archive unpacked as the
	// driver's working directory.
	Binary     string `msgpack:"b"`
	WorkingDir string `msgpack:"w,omitempty"`
	// Args are the program's arguments (Args[0] is its name, shown in
	// listings; the staged binary is what runs).
	Args []string `msgpack:"a"`
	// Env holds extra KEY=VALUE environment entries.
	Env []string `msgpack:"e,omitempty"`
}

// Validate bounds the spec.
func (d *DriverSpec) Validate() error {
	if err := ValidSubmissionID(d.ID); err != nil {
		return err
	}
	if !ValidHash(d.Binary) || (d.WorkingDir != "" && !ValidHash(d.WorkingDir)) {
		return fmt.Errorf("job %s: binary %q or working dir %q is not a staged hash", d.ID, d.Binary, d.WorkingDir)
	}
	if len(d.Args) == 0 {
		return fmt.Errorf("job %s: no program name", d.ID)
	}
	n := 0
	for _, a := range d.Args {
		n += len(a) + 1
	}
	if n > DriverArgsMax {
		return fmt.Errorf("job %s: command line of %d bytes, limit %d", d.ID, n, DriverArgsMax)
	}
	n = 0
	for _, e := range d.Env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" || strings.ContainsRune(k, 0) || strings.ContainsRune(e, 0) {
			return fmt.Errorf("job %s: environment entry %q: want KEY=VALUE", d.ID, e)
		}
		n += len(e) + 1
	}
	if n > DriverEnvMax {
		return fmt.Errorf("job %s: environment of %d bytes, limit %d", d.ID, n, DriverEnvMax)
	}
	return nil
}

// ValidSubmissionID checks a submission id: 1 to SubmissionIDMax bytes
// of letters, digits, '-', '_' and '.' (it names files and URL paths).
func ValidSubmissionID(id string) error {
	if id == "" || len(id) > SubmissionIDMax {
		return fmt.Errorf("submission id of %d bytes: want 1 to %d", len(id), SubmissionIDMax)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') || (i == 0 && c == '.') {
			return fmt.Errorf("submission id %q: use letters, digits, '-', '_' and '.' (not first)", id)
		}
	}
	return nil
}

// ValidHash reports whether h is a hex SHA-256, as staged files are
// named.
func ValidHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// StartDriver asks a raylet to run a submitted job's driver. It is
// resent until the raylet reports the driver's start or exit to the GCS;
// a raylet that runs or ran the driver answers Ack again. A later
// incarnation of the raylet at the node's address answers NotFound.
// Reply: Ack.
type StartDriver struct {
	Node core.NodeID `msgpack:"n"`
	Spec DriverSpec  `msgpack:"s"`
}

// Validate bounds the spec.
func (s *StartDriver) Validate() error { return s.Spec.Validate() }

// StopDriver asks a raylet to stop a job's driver: SIGTERM (or its
// host's equivalent), then after Grace a kill. A driver the raylet does
// not know is answered NotFound: it was never started there. Reply: Ack.
type StopDriver struct {
	Node  core.NodeID   `msgpack:"n"`
	ID    string        `msgpack:"i"`
	Grace time.Duration `msgpack:"g"`
}

// Validate bounds the id and grace.
func (s *StopDriver) Validate() error {
	if s.Grace < 0 || s.Grace > StopGraceMax {
		return fmt.Errorf("stop grace %v: want 0 to %v", s.Grace, StopGraceMax)
	}
	return ValidSubmissionID(s.ID)
}
