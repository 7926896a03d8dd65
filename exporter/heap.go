package exporter

import "container/heap"

// heapItem points at a job entry as it was when pushed: it is stale once
// the entry moved (seq changed).
type heapItem struct {
	at  int64
	e   *jobEntry
	seq uint32
}

func (it heapItem) valid() bool { return it.e.seq == it.seq }

// lazyHeap is a min-heap by time whose stale items are dropped when they
// reach the top, and all at once when they outnumber the live ones.
type lazyHeap struct {
	items []heapItem
	live  int
}

func (h *lazyHeap) Len() int           { return len(h.items) }
func (h *lazyHeap) Less(i, j int) bool { return h.items[i].at < h.items[j].at }
func (h *lazyHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *lazyHeap) Push(x any)         { h.items = append(h.items, x.(heapItem)) }
func (h *lazyHeap) Pop() any {
	n := len(h.items) - 1
	it := h.items[n]
	h.items[n] = heapItem{}
	h.items = h.items[:n]
	return it
}

func (h *lazyHeap) push(it heapItem) {
	h.live++
	heap.Push(h, it)
	if len(h.items) > 2*h.live+1024 {
		h.compact()
	}
}

// removed notes that one live item became stale.
func (h *lazyHeap) removed() { h.live-- }

// top returns the oldest live item, dropping stale ones on the way.
func (h *lazyHeap) top() (heapItem, bool) {
	for len(h.items) > 0 {
		if it := h.items[0]; it.valid() {
			return it, true
		}
		heap.Pop(h)
	}
	return heapItem{}, false
}

func (h *lazyHeap) compact() {
	kept := h.items[:0]
	for _, it := range h.items {
		if it.valid() {
			kept = append(kept, it)
		}
	}
	clear(h.items[len(kept):])
	h.items = kept
	heap.Init(h)
}
