package exporter

import "github.com/cespare/xxhash/v2"

// recentSet remembers up to capacity keys (64-bit hashes of job or event
// ids) with a value, forgetting the oldest first: about 40 bytes a key.
type recentSet struct {
	m    map[uint64]uint64
	ring []uint64
	next int
	full bool
}

func newRecentSet(capacity int) *recentSet {
	return &recentSet{m: make(map[uint64]uint64), ring: make([]uint64, max(capacity, 1))}
}

func hashID(id string) uint64 { return xxhash.Sum64String(id) }

func (r *recentSet) get(k uint64) (uint64, bool) {
	v, ok := r.m[k]
	return v, ok
}

func (r *recentSet) put(k, v uint64) {
	if _, ok := r.m[k]; ok {
		r.m[k] = v
		return
	}
	if r.full {
		delete(r.m, r.ring[r.next])
	}
	r.ring[r.next] = k
	r.m[k] = v
	r.next++
	if r.next == len(r.ring) {
		r.next, r.full = 0, true
	}
}

func (r *recentSet) len() int { return len(r.m) }
