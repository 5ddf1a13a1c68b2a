package jobstage

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/grayrt/gray/gcs"
)

// ArchiveEntriesMax bounds the entries CheckArchive reads: with the
// bytes of the files bounded, it bounds the work of reading an archive
// (a tar header is 512 bytes however well it compresses).
const ArchiveEntriesMax = 1 << 20

// CheckArchive reads a working-directory archive to its end and checks
// it as a node unpacking it does: a gzipped tar of regular files and
// directories whose names stay inside the directory (the node's test,
// filepath.IsLocal), unpacking to at
// most gcs.ArchiveMax bytes. An upload is checked before it is staged,
// so that a bad archive is refused at once rather than failing the job
// on its node.
func CheckArchive(r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a gzipped tar (make one with tar czf): %w", err)
	}
	tr := tar.NewReader(zr)
	var total, entries int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("a corrupt tar: %w", err)
		}
		if entries++; entries > ArchiveEntriesMax {
			return fmt.Errorf("more than %d archive entries", ArchiveEntriesMax)
		}
		if !filepath.IsLocal(filepath.Clean(filepath.FromSlash(h.Name))) {
			return fmt.Errorf("archive entry %q leaves the working directory", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
		case tar.TypeReg:
			if total += h.Size; total > gcs.ArchiveMax {
				return fmt.Errorf("the working directory unpacks to more than %d bytes", gcs.ArchiveMax)
			}
		default:
			return fmt.Errorf("archive entry %q is neither a file nor a directory (links are not staged)", h.Name)
		}
	}
}
