//go:build linux

package net

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/grayrt/gray/core"
	"golang.org/x/sys/unix"
)

// memfdName prefixes the name of every segment (seen in
// /proc/PID/fd/FD as "/memfd:gray-object (deleted)"); an open checks it.
const memfdName = "gray-object"

var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})

func memfdAvailable() bool {
	if bootID() == "" {
		return false
	}
	fd, err := unix.MemfdCreate(memfdName, unix.MFD_CLOEXEC)
	if err != nil {
		return false
	}
	_ = unix.Close(fd)
	return true
}

// memfdCreate makes a segment of size bytes mapped read-write.
func memfdCreate(size int64) (*shmSeg, error) {
	fd, err := unix.MemfdCreate(memfdName, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("net: shared segment: memfd_create: %w", err)
	}
	fail := func(what string, err error) (*shmSeg, error) {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("net: shared segment of %d bytes: %s: %w", size, what, err)
	}
	if err := unix.Ftruncate(fd, size); err != nil {
		return fail("ftruncate", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail("fstat", err)
	}
	data, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mmap", err)
	}
	h := fmt.Sprintf("m:%s:%d:%d:%d", bootID(), os.Getpid(), fd, st.Ino)
	return &shmSeg{handle: h, data: data, unmap: func() {
		_ = unix.Munmap(data)
		_ = unix.Close(fd)
	}}, nil
}

// memfdOpen maps the segment another program of this host made.
func memfdOpen(handle string, size int64, write bool) (*shmSeg, error) {
	f := strings.Split(handle, ":")
	if len(f) != 5 {
		return nil, fmt.Errorf("net: shared segment %.60q: not a handle", handle)
	}
	if f[1] != bootID() || bootID() == "" {
		return nil, fmt.Errorf("net: shared segment %.60q: %w", handle, core.ErrShmForeign)
	}
	pid, err1 := strconv.Atoi(f[2])
	fdn, err2 := strconv.Atoi(f[3])
	ino, err3 := strconv.ParseUint(f[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || pid <= 0 || fdn < 0 {
		return nil, fmt.Errorf("net: shared segment %.60q: not a handle", handle)
	}
	path := fmt.Sprintf("/proc/%d/fd/%d", pid, fdn)
	if l, err := os.Readlink(path); err != nil || !strings.HasPrefix(l, "/memfd:"+memfdName) {
		return nil, fmt.Errorf("net: shared segment %s: %w (%s is %q, %v)", handle, errShmGone, path, l, err)
	}
	flags, prot := unix.O_RDONLY, unix.PROT_READ
	if write {
		flags, prot = unix.O_RDWR, unix.PROT_READ|unix.PROT_WRITE
	}
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("net: shared segment %s: open: %w", handle, err)
	}
	defer unix.Close(fd) // the mapping keeps the segment
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("net: shared segment %s: fstat: %w", handle, err)
	}
	if st.Ino != ino || st.Size != size {
		return nil, fmt.Errorf("net: shared segment %s: %w (inode %d of %d bytes)", handle, errShmGone, st.Ino, st.Size)
	}
	data, err := unix.Mmap(fd, 0, int(size), prot, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("net: shared segment %s: mmap: %w", handle, err)
	}
	return &shmSeg{handle: handle, data: data, unmap: func() { _ = unix.Munmap(data) }}, nil
}
