package net

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/grayrt/gray/core"
)

// TestGoMemorySegments: segments of Go memory are shared by the
// processes of one program (one mapping, freed at the last Close, its
// buffer reused by the next segment of its size under a new handle);
// another program's handle is foreign, a freed one is gone.
func TestGoMemorySegments(t *testing.T) {
	m := NewMemory(false)
	seg, err := m.ShmCreate(1000)
	if err != nil {
		t.Fatal(err)
	}
	copy(seg.Bytes(), "hello")
	other, err := m.ShmOpen(seg.Handle(), 1000, false)
	if err != nil {
		t.Fatalf("open in the same program: %v", err)
	}
	if !bytes.HasPrefix(other.Bytes(), []byte("hello")) || &other.Bytes()[0] != &seg.Bytes()[0] {
		t.Errorf("the open does not share the creator's memory")
	}
	if _, err := m.ShmOpen(seg.Handle(), 999, false); err == nil {
		t.Errorf("open with the wrong size succeeded")
	}
	seg.Close()
	seg.Close() // idempotent
	if !bytes.HasPrefix(other.Bytes(), []byte("hello")) {
		t.Errorf("the segment went away while a hold remained")
	}
	h := other.Handle()
	other.Close()
	if _, err := m.ShmOpen(h, 1000, false); err == nil || errors.Is(err, core.ErrShmForeign) {
		t.Errorf("open of a freed segment = %v, want gone (not foreign)", err)
	}
	next, err := m.ShmCreate(1000)
	if err != nil {
		t.Fatal(err)
	}
	if next.Handle() == h {
		t.Errorf("a reused buffer kept its old handle %s", h)
	}
	next.Close()
	if _, err := m.ShmOpen("g:0000000000000000:1", 1000, false); !errors.Is(err, core.ErrShmForeign) {
		t.Errorf("another program's handle = %v, want ErrShmForeign", err)
	}
}

// TestMemfdAcrossPrograms: a memfd segment made here is opened, read
// and written by another program (this test binary run again), which
// also finds that a handle naming another inode, and one of another
// boot, are refused.
func TestMemfdAcrossPrograms(t *testing.T) {
	if h := os.Getenv("GRAY_SHM_CHILD"); h != "" {
		shmChild(h)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("memfd segments need Linux")
	}
	m := NewMemory(true)
	if !m.Memfd() {
		t.Skip("memfd is not available here")
	}
	const size = 3 << 20
	seg, err := m.ShmCreate(size)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	for i := range size / 2 {
		seg.Bytes()[i] = byte(i % 251)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMemfdAcrossPrograms$")
	cmd.Env = append(os.Environ(), "GRAY_SHM_CHILD="+seg.Handle())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "child ok") {
		t.Fatalf("the other program: %v\n%s", err, out)
	}
	for i := size / 2; i < size; i++ {
		if seg.Bytes()[i] != byte(i%241) {
			t.Fatalf("byte %d written by the other program reads %d, want %d", i, seg.Bytes()[i], byte(i%241))
		}
	}
}

// shmChild is the other program of TestMemfdAcrossPrograms.
func shmChild(handle string) {
	const size = 3 << 20
	m := NewMemory(true)
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(1)
	}
	f := strings.Split(handle, ":")
	ino, _ := strconv.ParseUint(f[4], 10, 64)
	wrongIno := strings.Join(append(f[:4:4], strconv.FormatUint(ino+1, 10)), ":")
	if _, err := m.ShmOpen(wrongIno, size, false); err == nil {
		fail("a handle naming another inode opened")
	}
	otherBoot := strings.Join(append([]string{"m", "not-this-boot"}, f[2:]...), ":")
	if _, err := m.ShmOpen(otherBoot, size, false); !errors.Is(err, core.ErrShmForeign) {
		fail("another boot's handle: %v, want ErrShmForeign", err)
	}
	seg, err := m.ShmOpen(handle, size, true)
	if err != nil {
		fail("open: %v", err)
	}
	b := seg.Bytes()
	for i := range size / 2 {
		if b[i] != byte(i%251) {
			fail("byte %d reads %d, want %d", i, b[i], byte(i%251))
		}
	}
	for i := size / 2; i < size; i++ {
		b[i] = byte(i % 241)
	}
	seg.Close()
	// The write mapping is kept: opening the segment for writing again
	// maps nothing new.
	again, err := m.ShmOpen(handle, size, true)
	if err != nil {
		fail("open again: %v", err)
	}
	if &again.Bytes()[0] != &b[0] || again.Bytes()[size-1] != byte((size-1)%241) {
		fail("the second write open did not reuse the kept mapping")
	}
	again.Close()
	fmt.Println("child ok")
	os.Exit(0)
}

// TestKeptMappingsAreBounded: write mappings kept after their last
// Close are dropped oldest first beyond keptMax, or beyond keptBytesMax
// bytes, and unmapped; one taken back is no longer counted.
func TestKeptMappingsAreBounded(t *testing.T) {
	r := newShmRegistry()
	var unmapped []string
	seg := func(h string, n int) *shmSeg {
		return &shmSeg{handle: h, data: make([]byte, n), keep: true, unmap: func() { unmapped = append(unmapped, h) }}
	}
	for i := range keptMax + 1 {
		for _, s := range r.keepMapping(seg(fmt.Sprint(i), 10)) {
			s.unmap()
		}
	}
	if len(r.kept) != keptMax || len(unmapped) != 1 || unmapped[0] != "0" {
		t.Fatalf("after %d kept: %d kept, unmapped %v; want %d kept and 0 unmapped", keptMax+1, len(r.kept), unmapped, keptMax)
	}
	if h := r.takeKept("3", 10); h == nil || len(r.kept) != keptMax-1 || r.keptBytes != 10*(keptMax-1) {
		t.Fatalf("takeKept: %v, %d kept of %d bytes", h, len(r.kept), r.keptBytes)
	}
	if r.takeKept("2", 11) != nil {
		t.Error("a kept mapping of another size was taken")
	}
	for _, s := range r.keepMapping(seg("big", keptBytesMax)) {
		s.unmap()
	}
	if r.keptBytes > keptBytesMax || len(r.kept) != 1 {
		t.Errorf("after a mapping of keptBytesMax: %d kept of %d bytes; want only it", len(r.kept), r.keptBytes)
	}
}
