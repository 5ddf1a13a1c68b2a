package jobstage

import (
	"debug/elf"
	"debug/macho"
	"encoding/binary"
	"os"
	goruntime "runtime"
	"testing"
)

// elfHeader returns the first bytes of an ELF file of type typ for
// machine, in byte order bo.
func elfHeader(bo binary.ByteOrder, typ elf.Type, machine elf.Machine) []byte {
	h := make([]byte, HeaderBytes)
	copy(h, elf.ELFMAG)
	h[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	if bo == binary.BigEndian {
		h[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	}
	bo.PutUint16(h[16:], uint16(typ))
	bo.PutUint16(h[18:], uint16(machine))
	return h
}

func machoHeader(cpu macho.Cpu, typ macho.Type) []byte {
	h := make([]byte, HeaderBytes)
	binary.LittleEndian.PutUint32(h, macho.Magic64)
	binary.LittleEndian.PutUint32(h[4:], uint32(cpu))
	binary.LittleEndian.PutUint32(h[12:], uint32(typ))
	return h
}

func TestPlatform(t *testing.T) {
	for _, tc := range []struct {
		name           string
		header         []byte
		goos, goarch   string
		wantErrMessage bool
	}{
		{"linux amd64", elfHeader(binary.LittleEndian, elf.ET_EXEC, elf.EM_X86_64), "linux", "amd64", false},
		{"linux arm64 pie", elfHeader(binary.LittleEndian, elf.ET_DYN, elf.EM_AARCH64), "linux", "arm64", false},
		{"linux s390x", elfHeader(binary.BigEndian, elf.ET_EXEC, elf.EM_S390), "linux", "s390x", false},
		{"object file", elfHeader(binary.LittleEndian, elf.ET_REL, elf.EM_X86_64), "", "", true},
		{"unknown machine", elfHeader(binary.LittleEndian, elf.ET_EXEC, elf.EM_SPARC), "", "", true},
		{"darwin arm64", machoHeader(macho.CpuArm64, macho.TypeExec), "darwin", "arm64", false},
		{"dylib", machoHeader(macho.CpuAmd64, macho.TypeDylib), "", "", true},
		{"script", []byte("#!/bin/sh\necho hello\n"), "", "", true},
		{"short", []byte("\x7fELF"), "", "", true},
		{"empty", nil, "", "", true},
	} {
		goos, goarch, err := Platform(tc.header)
		if goos != tc.goos || goarch != tc.goarch || (err != nil) != tc.wantErrMessage {
			t.Errorf("%s: Platform = %q, %q, %v; want %q, %q, error %v", tc.name, goos, goarch, err, tc.goos, tc.goarch, tc.wantErrMessage)
		}
	}
}

// TestPlatformOfSelf: the header of this test's own executable names
// the platform it runs on, as debug/elf reading the whole file does.
func TestPlatformOfSelf(t *testing.T) {
	if goruntime.GOOS != "linux" && goruntime.GOOS != "darwin" {
		t.Skipf("executables of %s are neither ELF nor Mach-O", goruntime.GOOS)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := make([]byte, HeaderBytes)
	if _, err := f.ReadAt(h, 0); err != nil {
		t.Fatal(err)
	}
	goos, goarch, err := Platform(h)
	if err != nil || goos != goruntime.GOOS || goarch != goruntime.GOARCH {
		t.Errorf("Platform(own header) = %q, %q, %v; want %s/%s", goos, goarch, err, goruntime.GOOS, goruntime.GOARCH)
	}
}

// FuzzPlatform: any bytes (an upload's) give a platform or an error,
// never a panic.
func FuzzPlatform(f *testing.F) {
	f.Add(elfHeader(binary.LittleEndian, elf.ET_EXEC, elf.EM_X86_64))
	f.Add(machoHeader(macho.CpuArm64, macho.TypeExec))
	f.Add([]byte("\x7fELF\x02\x03"))
	f.Fuzz(func(t *testing.T, b []byte) {
		goos, goarch, err := Platform(b)
		if err == nil && (goos != "linux" && goos != "darwin" || goarch == "") {
			t.Errorf("Platform(%x) = %q, %q, nil; want linux or darwin and an arch", b, goos, goarch)
		}
	})
}
