package gcs

import (
	"fmt"
	"io"
	"path"
	"slices"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/grayrt/gray/internal/walfmt"
)

// checkWALs scans every log of the database in dir (internal/walfmt: an
// unreadable chunk followed by a record that starts later was synced,
// since every GCS commit is synced before the next is written, and is
// lost); it returns the first damaged log's name with what is wrong, or
// "" when all read cleanly (up to a torn tail).
func checkWALs(fs vfs.FS, dir string) (file, problem string, err error) {
	names, err := fs.List(dir)
	if err != nil {
		if oserrorIsNotExist(err) {
			return "", "", nil // a new database
		}
		return "", "", err
	}
	slices.Sort(names)
	for _, name := range names {
		num, ok := walfmt.LogNum(name)
		if !ok {
			continue
		}
		p := path.Join(dir, name)
		f, err := fs.Open(p)
		if err != nil {
			return "", "", err
		}
		data, err := io.ReadAll(f)
		_ = f.Close()
		if err != nil {
			return "", "", err
		}
		if d := walfmt.Scan(data, num); d != nil {
			return p, fmt.Sprintf("corrupt write-ahead log: unreadable at offset %d, but a record written after it starts at offset %d, so the unreadable one had been synced (acknowledged) and is lost", d.At, d.Proof), nil
		}
	}
	return "", "", nil
}
