package jobstage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grayrt/gray/gcs"
)

// tarGz makes a gzipped tar of the given headers, each regular file
// with its Size in zero bytes.
func tarGz(t testing.TB, headers ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range headers {
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(make([]byte, h.Size)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCheckArchive(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data.csv"), []byte("a,b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	packed, err := PackDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	reg := func(name string, size int64) tar.Header {
		return tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644}
	}
	for _, tc := range []struct {
		name    string
		archive []byte
		wantErr string // "" for none
	}{
		{"PackDir's", packed, ""},
		{"nested", tarGz(t, tar.Header{Typeflag: tar.TypeDir, Name: "a/", Mode: 0o755}, reg("a/b.txt", 3)), ""},
		{"empty", tarGz(t), ""},
		{"not gzip", []byte("PK\x03\x04 a zip"), "not a gzipped tar"},
		{"gzip of no tar", gzipOf(t, bytes.Repeat([]byte("x"), 1000)), "corrupt tar"},
		{"escapes", tarGz(t, reg("../evil", 1)), "leaves the working directory"},
		{"absolute", tarGz(t, reg("/etc/passwd", 1)), "leaves the working directory"},
		{"symlink", tarGz(t, tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "/etc"}), "neither a file nor a directory"},
		{"too big", tarGz(t, reg("a", gcs.ArchiveMax/2+1), reg("b", gcs.ArchiveMax/2)), "unpacks to more than"},
	} {
		err := CheckArchive(bytes.NewReader(tc.archive))
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: CheckArchive = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

func gzipOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzCheckArchive: any bytes (an upload's) are accepted or refused,
// never a panic or a hang.
func FuzzCheckArchive(f *testing.F) {
	f.Add(tarGz(f, tar.Header{Typeflag: tar.TypeReg, Name: "a", Size: 3, Mode: 0o644}))
	f.Add(gzipOf(f, []byte("not a tar")))
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, b []byte) { _ = CheckArchive(bytes.NewReader(b)) })
}
