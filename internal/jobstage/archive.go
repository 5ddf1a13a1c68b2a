package jobstage

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/grayrt/gray/gcs"
)

// ArchiveEntriesMax bounds the entries CheckArchive reads: with the
// bytes of the files bounded, it bounds the work of reading an archive
// (a tar header is 512 bytes however well it compresses).
const ArchiveEntriesMax = 1 << 20

// CheckArchive reads a working-directory archive to its end and checks
// it as a node unpacking it does (Unpack). An upload is checked before
// it is staged, so that a bad archive is refused at once rather than
// failing the job on its node.
func CheckArchive(r io.Reader) error { return Unpack(r, "") }

// Unpack extracts a working-directory archive into dir, or with dir ""
// only checks it: a gzipped tar of regular files and directories whose
// names stay inside the directory (filepath.IsLocal), at most
// ArchiveEntriesMax entries unpacking to at most gcs.ArchiveMax bytes.
// Files get their mode's owner bits (and read-write for the owner).
func Unpack(r io.Reader, dir string) error {
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
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if !filepath.IsLocal(name) {
			return fmt.Errorf("archive entry %q leaves the working directory", h.Name)
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if dir != "" {
				if err := os.MkdirAll(target, 0o700); err != nil {
					return err
				}
			}
		case tar.TypeReg:
			if total += h.Size; total > gcs.ArchiveMax {
				return fmt.Errorf("the working directory unpacks to more than %d bytes", gcs.ArchiveMax)
			}
			if dir != "" {
				if err := writeFile(target, os.FileMode(h.Mode)&0o700|0o600, tr, h.Size); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("archive entry %q is neither a file nor a directory (links are not staged)", h.Name)
		}
	}
}

// writeFile writes the n bytes of r to a new file at path.
func writeFile(path string, mode os.FileMode, r io.Reader, n int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = io.CopyN(out, r, n)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
