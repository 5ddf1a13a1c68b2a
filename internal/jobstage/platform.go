package jobstage

import (
	"debug/elf"
	"debug/macho"
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderBytes is how much of a program Platform reads: the file header
// of an ELF or Mach-O executable fits in it.
const HeaderBytes = 64

// Platform reads the GOOS and GOARCH an executable is built for from its
// first bytes (at least HeaderBytes of them, or the whole file if it is
// shorter): an ELF executable is a Linux one, a Mach-O executable a
// macOS one. Anything else, including a shared library or an object
// file, is refused with a message that says what to do. Only the file
// header is read, so that a server can check an upload before it holds
// the rest.
func Platform(header []byte) (goos, goarch string, err error) {
	if len(header) >= 20 && string(header[:4]) == elf.ELFMAG {
		var bo binary.ByteOrder
		switch elf.Data(header[elf.EI_DATA]) {
		case elf.ELFDATA2LSB:
			bo = binary.LittleEndian
		case elf.ELFDATA2MSB:
			bo = binary.BigEndian
		default:
			return "", "", fmt.Errorf("an ELF file of unknown byte order %v: want a Linux executable", elf.Data(header[elf.EI_DATA]))
		}
		// e_type and e_machine follow the 16 bytes of e_ident in both
		// the 32-bit and the 64-bit header.
		typ, machine := elf.Type(bo.Uint16(header[16:])), elf.Machine(bo.Uint16(header[18:]))
		arch := map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64", elf.EM_386: "386", elf.EM_ARM: "arm",
			elf.EM_RISCV: "riscv64", elf.EM_PPC64: "ppc64le", elf.EM_S390: "s390x"}[machine]
		if typ != elf.ET_EXEC && typ != elf.ET_DYN || arch == "" {
			return "", "", fmt.Errorf("an ELF file of type %v for %v: want a Linux executable", typ, machine)
		}
		return "linux", arch, nil
	}
	if len(header) >= 16 {
		// The magic number tells the byte order: Go's Mach-O files are
		// little-endian, 64-bit.
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			if magic := bo.Uint32(header); magic != macho.Magic64 && magic != macho.Magic32 {
				continue
			}
			cpu, typ := macho.Cpu(bo.Uint32(header[4:])), macho.Type(bo.Uint32(header[12:]))
			arch := map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[cpu]
			if typ != macho.TypeExec || arch == "" {
				return "", "", fmt.Errorf("a Mach-O file of type %v for %v: want an executable", typ, cpu)
			}
			return "darwin", arch, nil
		}
	}
	return "", "", errors.New("not an executable (build the program with go build first)")
}
