package submitter

import (
	"fmt"
	"sort"
	"strings"
)

// Assignment is an item placed by the plan: its tier, priority and queue.
type Assignment struct {
	Item     Item
	Tier     int // index into Plan.Tiers
	Priority string
	Queue    string
}

// Assign places every item: a forced tier or the size range that holds its
// size, its priority or the plan's default, and the queue for both. Items
// that cannot be placed are returned as LineErrors of file.
func Assign(p *Plan, file string, items []Item) ([]Assignment, []LineError) {
	e := &errs{file: file}
	out := make([]Assignment, 0, len(items))
	for _, it := range items {
		a := Assignment{Item: it, Priority: it.Priority}
		if a.Priority == "" {
			a.Priority = p.DefaultPriority
		} else if !p.HasPriority(a.Priority) {
			e.add(it.Line, "key %q: unknown priority %q (priorities: %s)", it.Key, it.Priority, strings.Join(p.Priorities, ", "))
			continue
		}
		if it.Tier != "" {
			a.Tier = p.TierIndex(it.Tier)
			if a.Tier < 0 {
				e.add(it.Line, "key %q: unknown tier %q (tiers: %s)", it.Key, it.Tier, strings.Join(tierNames(p.Tiers), ", "))
				continue
			}
		} else {
			a.Tier = p.TierFor(it.Size)
			if a.Tier < 0 {
				e.add(it.Line, "key %q: size %g is outside every size range (%s)", it.Key, it.Size, rangesText(p.Sizes))
				continue
			}
		}
		q, ok := p.Queue(p.Tiers[a.Tier].Name, a.Priority)
		if !ok {
			// Plan validation makes every (tier, priority) resolve.
			e.add(it.Line, "key %q: no queue for tier %q at priority %q", it.Key, p.Tiers[a.Tier].Name, a.Priority)
			continue
		}
		a.Queue = q
		out = append(out, a)
	}
	return out, e.list
}

func rangesText(rs []SizeRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s [%g, %g)", r.Tier, r.Min, r.Max)
	}
	return strings.Join(parts, ", ")
}

// Load reads and places items, applying the skip-invalid policy: without
// it any invalid line is an error and nothing is returned; with it the
// valid items are returned with the skipped lines.
func Load(p *Plan, file string, items []Item, readErrs []LineError, skipInvalid bool) ([]Assignment, []LineError, error) {
	as, placeErrs := Assign(p, file, items)
	all := append(append([]LineError(nil), readErrs...), placeErrs...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Line < all[j].Line })
	if len(all) > 0 && !skipInvalid {
		return nil, all, &ValidationError{Errors: all}
	}
	return as, all, nil
}

// GroupKey identifies items that may share an array job: same tier, queue
// and definition (implied by the tier), same submission attempt.
type GroupKey struct {
	Tier    int
	Queue   string
	Attempt int
}

// Group is the items of one GroupKey in input order.
type Group struct {
	Key   GroupKey
	Items []Assignment
}

// GroupItems groups assignments by tier and queue, in order of first
// appearance, each group keeping input order.
func GroupItems(as []Assignment, attempt int) []Group {
	idx := map[GroupKey]int{}
	var out []Group
	for _, a := range as {
		k := GroupKey{Tier: a.Tier, Queue: a.Queue, Attempt: attempt}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Group{Key: k})
		}
		out[i].Items = append(out[i].Items, a)
	}
	return out
}

// MaxArraySize is AWS Batch's limit on array job children.
const MaxArraySize = 10000

// Chunks splits a group into arrays of at most size items, as even as
// possible: 25,000 items with size 10,000 give 3 arrays of 8,334, 8,333
// and 8,333, so no array is left with a handful of children.
func Chunks(items []Assignment, size int) [][]Assignment {
	if size <= 0 || size > MaxArraySize {
		size = MaxArraySize
	}
	n := len(items)
	if n == 0 {
		return nil
	}
	k := (n + size - 1) / size
	out := make([][]Assignment, 0, k)
	start := 0
	for i := range k {
		sz := n / k
		if i < n%k {
			sz++
		}
		out = append(out, items[start:start+sz])
		start += sz
	}
	return out
}
