package gcs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"path"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/grayrt/gray/internal/walfmt"
)

// walOf writes n synced batches (as the GCS commits) with a database of
// the GCS's format on a fresh in-memory disk, closes it without a flush,
// and returns the disk and its newest log's name and bytes.
func walOf(t *testing.T, n, valueSize int) (vfs.FS, string, []byte) {
	t.Helper()
	fs := vfs.NewMem()
	db, err := pebble.Open("db", &pebble.Options{FS: fs, FormatMajorVersion: pebble.FormatTableFormatV6, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := db.Set(fmt.Appendf(nil, "k%04d", i), []byte(strings.Repeat("v", valueSize)), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := fs.List("db")
	if err != nil {
		t.Fatal(err)
	}
	var newest string
	for _, name := range names {
		if _, ok := walfmt.LogNum(name); ok && name > newest {
			newest = name
		}
	}
	if newest == "" {
		t.Fatalf("no log in %v", names)
	}
	return fs, newest, readAll(t, fs, path.Join("db", newest))
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

func TestScanWALFindsDamageBeforeASyncedRecord(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n, size   int
		damage    func([]byte) []byte
		wantFound bool
	}{
		{"intact short log", 40, 20, func(b []byte) []byte { return b }, false},
		{"intact log of several blocks", 400, 300, func(b []byte) []byte { return b }, false},
		{"8 bytes flipped in the middle of a one-block log", 40, 20, func(b []byte) []byte { flip(b, len(b)/2, 8); return b }, true},
		{"8 bytes flipped near the start", 40, 20, func(b []byte) []byte { flip(b, 30, 8); return b }, true},
		{"one bit flipped in the middle of a long log", 400, 300, func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b }, true},
		{"a zeroed range in the middle", 400, 300, func(b []byte) []byte { clear(b[len(b)/3 : len(b)/3+100]); return b }, true},
		// A torn tail, whatever its cause, is what a crash leaves: the
		// log alone cannot tell (the witness can, after a clean stop).
		{"truncated to half", 40, 20, func(b []byte) []byte { return b[:len(b)/2] }, false},
		{"the last record damaged", 40, 20, func(b []byte) []byte { flip(b, len(b)-5, 2); return b }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, name, data := walOf(t, tc.n, tc.size)
			num, _ := walfmt.LogNum(name)
			d := walfmt.Scan(tc.damage(data), num)
			if (d != nil) != tc.wantFound {
				t.Fatalf("scanWAL = %+v, want damage found: %v (log of %d bytes)", d, tc.wantFound, len(data))
			}
		})
	}
}

func flip(b []byte, at, n int) {
	for i := at; i < at+n && i < len(b); i++ {
		b[i] ^= 0xff
	}
}

func TestCheckWALsNamesTheDamagedLog(t *testing.T) {
	fs, name, data := walOf(t, 40, 20)
	flip(data, len(data)/2, 8)
	writeAll(t, fs, path.Join("db", name), data)
	file, problem, err := checkWALs(fs, "db")
	if err != nil || file != path.Join("db", name) || !strings.Contains(problem, "corrupt write-ahead log") {
		t.Fatalf("checkWALs = %q, %q, %v; want the damaged log named", file, problem, err)
	}
	if file, problem, err := checkWALs(vfs.NewMem(), "db"); file != "" || problem != "" || err != nil {
		t.Fatalf("checkWALs of no database = %q, %q, %v", file, problem, err)
	}
}

func TestWitnessRoundTripAndDamage(t *testing.T) {
	w := witness{Commits: 42, Epoch: 7, Clean: true}
	got, err := parseWitness(w.encode())
	if err != nil || got != w {
		t.Fatalf("parseWitness(encode(%+v)) = %+v, %v", w, got, err)
	}
	b := w.encode()
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x04
		if got, err := parseWitness(c); err == nil && got != w {
			t.Fatalf("a flipped bit at %d went unnoticed: %+v", i, got)
		}
	}
	if _, err := parseWitness(b[:len(b)/2]); err == nil {
		t.Fatal("a truncated witness parsed")
	}
}

// TestScanWALAcrossBlockPadding: logs of every record size cross 32 KiB
// block boundaries at every offset, where the writer zero-fills a tail too
// short for a chunk header; none of them is damage.
func TestScanWALAcrossBlockPadding(t *testing.T) {
	for size := 1; size <= 40; size++ {
		_, name, data := walOf(t, 1200, size)
		num, _ := walfmt.LogNum(name)
		if d := walfmt.Scan(data, num); d != nil {
			t.Fatalf("values of %d bytes: an intact log of %d bytes reads as damaged: %+v", size, len(data), d)
		}
	}
}

// TestDamagedOptionsIsNotAnIOError: a bit flipped in the merger name of
// pebble's OPTIONS file makes every open fail the same way (seed 303 of a
// gcs swarm campaign restarted the GCS forever on it). The GCS must take
// that for damaged contents, which it refuses, and keep restarting only
// for errors of the disk itself.
func TestDamagedOptionsIsNotAnIOError(t *testing.T) {
	fs, _, _ := walOf(t, 5, 10)
	names, err := fs.List("db")
	if err != nil {
		t.Fatal(err)
	}
	damaged := false
	for _, name := range names {
		if !strings.HasPrefix(name, "OPTIONS-") {
			continue
		}
		p := path.Join("db", name)
		data := readAll(t, fs, p)
		i := bytes.Index(data, []byte("pebble.concatenate"))
		if i < 0 {
			t.Fatalf("%s names no merger", p)
		}
		data[i+10] ^= 0x40
		writeAll(t, fs, p, data)
		damaged = true
	}
	if !damaged {
		t.Fatal("no OPTIONS file")
	}
	_, err = pebble.Open("db", &pebble.Options{FS: fs, FormatMajorVersion: pebble.FormatTableFormatV6, Logger: quietLogger{}})
	if err == nil {
		t.Fatal("pebble opened a database whose OPTIONS name another merger")
	}
	if isIOError(err) {
		t.Fatalf("isIOError(%v) = true; a restart cannot fix damaged contents", err)
	}
	injected := &iofs.PathError{Op: "write", Path: "db/000002.log", Err: errors.New("injected")}
	if !isIOError(fmt.Errorf("pebble: %w", injected)) {
		t.Fatal("a failed write is not an IO error")
	}
}

func readAll(t *testing.T, fs vfs.FS, name string) []byte {
	t.Helper()
	f, err := fs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeAll(t *testing.T, fs vfs.FS, name string, data []byte) {
	t.Helper()
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
