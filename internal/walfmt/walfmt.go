// Package walfmt reads pebble's write-ahead log format far enough to tell
// a torn tail from damage before a synced record, and where a log's live
// records end. The GCS checks its logs with it before pebble opens them;
// the simulator uses it to damage only what a process wrote itself.
//
// Pebble replays its newest WAL up to the first chunk it cannot read and
// takes the rest for the torn tail of a crash. Its own read-ahead looks
// for evidence of corruption (a later chunk promising that the bad one
// was synced) only from the next 32 KiB block on, so damage inside the
// last block — all of a short log — goes unnoticed and the records after
// it are silently dropped. Scan looks in the rest of the file too: when
// every commit is synced before the next is written (the GCS's are), a
// record that starts after the first unreadable chunk proves that chunk
// was synced, and lost.
//
// The chunk format (pebble's record package, part of its on-disk format):
// 32 KiB blocks of chunks, each a header — masked CRC-32C (4 bytes), payload
// length (2), encoding (1), then for the recyclable and WAL-sync encodings
// the log number (4), and for WAL-sync the synced offset (8) — and the
// payload. The checksum covers the header from the encoding on, and the
// payload. The writer zero-fills a block's tail too short for a header.
package walfmt

import (
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"strings"
)

const (
	walBlockSize      = 32 << 10
	walLegacyHeader   = 7
	walRecycleHeader  = walLegacyHeader + 4
	walSyncHeader     = walRecycleHeader + 8
	walEncodingMax    = 12
	walFirstRecycle   = 5 // recyclable encodings are 5..8, WAL-sync 9..12
	walFirstSync      = 9
	walChunkFull      = 1 // position within an encoding group: full, first, middle, last
	walChunkFirst     = 2
	walChunkPositions = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// walChecksum is pebble's masked CRC-32C.
func walChecksum(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

// walChunk is a chunk header found at some offset of a log.
type walChunk struct {
	position     int    // walChunkFull .. 4
	headerSize   int    // 7, 11 or 19
	length       int    // payload bytes
	synced       uint64 // WAL-sync encodings: offset known synced when written
	hasSyncedOff bool
}

// parseWALChunk checks the chunk at b[0:], which must carry logNum: its
// encoding, length and checksum. ok is false for anything else.
func parseWALChunk(b []byte, logNum uint32) (c walChunk, ok bool) {
	if len(b) < walLegacyHeader {
		return c, false
	}
	enc := int(b[6])
	if enc == 0 || enc > walEncodingMax || enc < walFirstRecycle {
		// Legacy chunks carry no log number, so they cannot be told
		// from a recycled log's leftovers; pebble writes recyclable ones.
		return c, false
	}
	c.headerSize = walRecycleHeader
	c.position = (enc-walFirstRecycle)%walChunkPositions + 1
	if enc >= walFirstSync {
		c.headerSize = walSyncHeader
		c.hasSyncedOff = true
	}
	if len(b) < c.headerSize || binary.LittleEndian.Uint32(b[7:11]) != logNum {
		return c, false
	}
	c.length = int(binary.LittleEndian.Uint16(b[4:6]))
	end := c.headerSize + c.length
	if end > len(b) {
		return c, false
	}
	if binary.LittleEndian.Uint32(b[0:4]) != walChecksum(b[6:end]) {
		return c, false
	}
	if c.hasSyncedOff {
		c.synced = binary.LittleEndian.Uint64(b[11:19])
	}
	return c, true
}

// Damage is where a log stops being readable while a later record
// proves the unreadable part had been synced.
type Damage struct {
	At    int64 // the first offset that cannot be read
	Proof int64 // where a later record starts
}

// Scan reads a whole log of number logNum. It returns damage when the
// chunks stop being readable at some offset and a record starts after it
// (a full or first chunk of this log, whose WAL-sync offset, when it has
// one, lies past the damage).
func Scan(data []byte, logNum uint32) *Damage {
	off := 0
	for off < len(data) {
		blockEnd := (off/walBlockSize + 1) * walBlockSize
		c, ok := parseWALChunk(data[off:min(blockEnd, len(data))], logNum)
		if !ok {
			if blockEnd-off < walSyncHeader && blockEnd <= len(data) && allZero(data[off:blockEnd]) {
				// The writer zero-fills a block's tail too short for a
				// chunk header of its format.
				off = blockEnd
				continue
			}
			break
		}
		off += c.headerSize + c.length
	}
	if off >= len(data) {
		return nil
	}
	for p := off + 1; p+walRecycleHeader <= len(data); p++ {
		if data[p+6] < walFirstRecycle || data[p+6] > walEncodingMax {
			continue // cheap filter before the log number and checksum
		}
		blockEnd := (p/walBlockSize + 1) * walBlockSize
		c, ok := parseWALChunk(data[p:min(blockEnd, len(data))], logNum)
		if !ok || (c.position != walChunkFull && c.position != walChunkFirst) {
			continue
		}
		if c.hasSyncedOff && c.synced <= uint64(off) {
			continue
		}
		return &Damage{At: int64(off), Proof: int64(p)}
	}
	return nil
}

// LiveLength returns where the readable chunks of a log of number logNum
// end: the length of what its writer wrote, without a recycled file's
// leftovers or a torn tail.
func LiveLength(data []byte, logNum uint32) int {
	off := 0
	for off < len(data) {
		blockEnd := (off/walBlockSize + 1) * walBlockSize
		c, ok := parseWALChunk(data[off:min(blockEnd, len(data))], logNum)
		if !ok {
			if blockEnd-off < walSyncHeader && blockEnd <= len(data) && allZero(data[off:blockEnd]) {
				off = blockEnd
				continue
			}
			break
		}
		off += c.headerSize + c.length
	}
	return min(off, len(data))
}

// LogNum parses a log's file number from its name ("000123.log", or
// "000123-001.log" for a secondary of WAL failover).
func LogNum(name string) (uint32, bool) {
	base, ok := strings.CutSuffix(name, ".log")
	if !ok {
		return 0, false
	}
	base, _, _ = strings.Cut(base, "-")
	n, err := strconv.ParseUint(base, 10, 32)
	return uint32(n), err == nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
