package sqs

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"sync/atomic"
)

// idGen makes UUID-shaped identifiers (version 4 layout) cheaply: a random
// per-server prefix and a counter scrambled by a bijection, so they are
// unique within a server and look random, without reading crypto/rand for
// each of hundreds of thousands of messages.
type idGen struct {
	prefix [9]byte
	n      atomic.Uint64
}

func newIDGen() *idGen {
	g := &idGen{}
	_, _ = rand.Read(g.prefix[:])
	g.prefix[6] = g.prefix[6]&0x0f | 0x40 // version 4
	g.prefix[8] = g.prefix[8]&0x3f | 0x80 // RFC 4122 variant
	return g
}

const mask56 = 1<<56 - 1

func (g *idGen) next() string {
	// Multiplying by an odd constant and xor-shifting are both bijections
	// on 56-bit numbers, so distinct counters give distinct ids.
	x := (g.n.Add(1) * 0x9E3779B97F4A7C15) & mask56
	x ^= x >> 29
	var b [16]byte
	copy(b[:9], g.prefix[:])
	for i := 15; i >= 9; i-- {
		b[i] = byte(x)
		x >>= 8
	}
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	const hexdigits = "0123456789abcdef"
	var out [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j] = hexdigits[c>>4]
		out[j+1] = hexdigits[c&0x0f]
		j += 2
	}
	return string(out[:])
}

// A receipt handle names one receive of one message: the queue incarnation
// (so handles of a deleted and recreated queue, or of another queue, are
// rejected), the message's sequence number in the queue and its receive
// generation (only the latest receive's handle can delete or change the
// message, as in SQS), and a checksum that tells malformed handles apart.
const receiptLen = 24

func encodeReceipt(inc, seq uint64, gen uint32) string {
	var b [receiptLen]byte
	binary.BigEndian.PutUint64(b[0:], inc)
	binary.BigEndian.PutUint64(b[8:], seq)
	binary.BigEndian.PutUint32(b[16:], gen)
	binary.BigEndian.PutUint32(b[20:], fnv32(b[:20]))
	return base64.StdEncoding.EncodeToString(b[:])
}

func decodeReceipt(h string) (inc, seq uint64, gen uint32, ok bool) {
	if base64.StdEncoding.EncodedLen(receiptLen) != len(h) {
		return 0, 0, 0, false
	}
	var b [receiptLen]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(h))
	if err != nil || n != receiptLen || binary.BigEndian.Uint32(b[20:]) != fnv32(b[:20]) {
		return 0, 0, 0, false
	}
	return binary.BigEndian.Uint64(b[0:]), binary.BigEndian.Uint64(b[8:]), binary.BigEndian.Uint32(b[16:]), true
}

func fnv32(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}
