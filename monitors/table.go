package monitors

import (
	"maps"
	"slices"
	"time"
)

// EventKind says what happened to a row.
type EventKind uint8

// Row events.
const (
	Added EventKind = iota + 1
	Changed
	Removed
)

func (k EventKind) String() string {
	switch k {
	case Added:
		return "added"
	case Changed:
		return "changed"
	case Removed:
		return "removed"
	}
	return "unknown"
}

// Event is one row's change: Old is zero for Added, New is zero for Removed.
type Event[T any] struct {
	Kind EventKind
	Old  T
	New  T
}

type row[T any] struct {
	v   T
	seq uint64 // the source sequence that last set the row
	gen uint64 // the last snapshot that listed the row
}

// table is a live table of rows by id. Each row remembers the sequence of
// the source event that set it, so a snapshot taken before a newer stream
// event cannot undo it: the stream and the reconcile poll may race, and the
// newer word wins.
type table[T any] struct {
	gen   uint64
	rows  map[string]row[T]
	id    func(T) string
	equal func(a, b T) bool
}

func newTable[T any](id func(T) string, equal func(a, b T) bool) *table[T] {
	return &table[T]{rows: map[string]row[T]{}, id: id, equal: equal}
}

// change applies one row from the stream at seq.
func (t *table[T]) change(v T, seq uint64) (Event[T], bool) {
	id := t.id(v)
	old, ok := t.rows[id]
	if ok && old.seq > seq {
		return Event[T]{}, false
	}
	t.rows[id] = row[T]{v: v, seq: seq}
	switch {
	case !ok:
		return Event[T]{Kind: Added, New: v}, true
	case !t.equal(old.v, v):
		return Event[T]{Kind: Changed, Old: old.v, New: v}, true
	}
	return Event[T]{}, false
}

// snapshot applies a full table taken at seq. Rows set by newer events keep
// their value; rows missing from the snapshot are removed unless newer.
// An authoritative snapshot (after the source restarted or reset) replaces
// everything.
func (t *table[T]) snapshot(vs []T, seq uint64, authoritative bool) []Event[T] {
	var events []Event[T]
	t.gen++
	for _, v := range vs {
		id := t.id(v)
		old, ok := t.rows[id]
		if ok && old.seq > seq && !authoritative {
			old.gen = t.gen
			t.rows[id] = old
			continue
		}
		t.rows[id] = row[T]{v: v, seq: seq, gen: t.gen}
		switch {
		case !ok:
			events = append(events, Event[T]{Kind: Added, New: v})
		case !t.equal(old.v, v):
			events = append(events, Event[T]{Kind: Changed, Old: old.v, New: v})
		}
	}
	var gone []string
	for id, r := range t.rows {
		if r.gen != t.gen && (r.seq <= seq || authoritative) {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	for _, id := range gone {
		events = append(events, Event[T]{Kind: Removed, Old: t.rows[id].v})
		delete(t.rows, id)
	}
	return events
}

func (t *table[T]) get(id string) (T, bool) {
	r, ok := t.rows[id]
	return r.v, ok
}

// all returns the rows sorted by id.
func (t *table[T]) all() []T {
	out := make([]T, 0, len(t.rows))
	for _, id := range slices.Sorted(maps.Keys(t.rows)) {
		out = append(out, t.rows[id].v)
	}
	return out
}

// Diff is the events that turn the snapshot old into new: additions and
// changes in the order of new, then removals in the order of old. Snapshots
// sorted by id (as sources list them) are merged in one pass without a map.
func Diff[T any](old, new []T, id func(T) string, equal func(a, b T) bool) []Event[T] {
	if sortedByID(old, id) && sortedByID(new, id) {
		return diffSorted(old, new, id, equal)
	}
	idx := make(map[string]int, len(old))
	for i, v := range old {
		idx[id(v)] = i
	}
	events := make([]Event[T], 0, len(new)/8)
	for _, v := range new {
		i, ok := idx[id(v)]
		switch {
		case !ok:
			events = append(events, Event[T]{Kind: Added, New: v})
			continue
		case !equal(old[i], v):
			events = append(events, Event[T]{Kind: Changed, Old: old[i], New: v})
		}
		idx[id(v)] = -1
	}
	for _, v := range old {
		if idx[id(v)] >= 0 {
			events = append(events, Event[T]{Kind: Removed, Old: v})
		}
	}
	return events
}

func sortedByID[T any](vs []T, id func(T) string) bool {
	for i := 1; i < len(vs); i++ {
		if id(vs[i-1]) >= id(vs[i]) {
			return false
		}
	}
	return true
}

func diffSorted[T any](old, new []T, id func(T) string, equal func(a, b T) bool) []Event[T] {
	// Two passes: the first counts, so that the events (large values) are
	// allocated once.
	n := 0
	mergeSorted(old, new, id, equal, func(Event[T]) { n++ }, true)
	events := make([]Event[T], 0, n)
	mergeSorted(old, new, id, equal, func(e Event[T]) { events = append(events, e) }, false)
	return events
}

// mergeSorted walks two id-sorted snapshots and calls emit for each event:
// additions and changes first, in the order of new, then removals.
func mergeSorted[T any](old, new []T, id func(T) string, equal func(a, b T) bool, emit func(Event[T]), counting bool) {
	var removed []int
	i, j := 0, 0
	for i < len(old) || j < len(new) {
		switch {
		case j == len(new) || i < len(old) && id(old[i]) < id(new[j]):
			removed = append(removed, i)
			i++
		case i == len(old) || id(new[j]) < id(old[i]):
			emit(Event[T]{Kind: Added, New: new[j]})
			j++
		default:
			if !equal(old[i], new[j]) {
				if counting {
					emit(Event[T]{})
				} else {
					emit(Event[T]{Kind: Changed, Old: old[i], New: new[j]})
				}
			}
			i++
			j++
		}
	}
	for _, i := range removed {
		emit(Event[T]{Kind: Removed, Old: old[i]})
	}
}

// Freshness tracks when data last arrived and whether it has gone stale.
type Freshness struct {
	After time.Duration // stale when nothing fresh arrived for this long
	last  time.Time
	stale bool
}

// Touch records that fresh data arrived at now. It returns true when this
// ends a stale period.
func (f *Freshness) Touch(now time.Time) bool {
	f.last = now
	if f.stale {
		f.stale = false
		return true
	}
	return false
}

// Check tells whether the data is stale at now, and whether that is news.
func (f *Freshness) Check(now time.Time) (stale, changed bool) {
	s := f.last.IsZero() || now.Sub(f.last) > f.After
	changed = s != f.stale
	f.stale = s
	return s, changed
}

// Stale is the state as of the last Check or Touch.
func (f *Freshness) Stale() bool { return f.stale }

// LastFresh is when fresh data last arrived.
func (f *Freshness) LastFresh() time.Time { return f.last }
