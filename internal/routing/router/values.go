package router

import "sync/atomic"

// Per-session and per-stanza state of features lives in typed slots they
// declare, not in router fields: a feature declares a package-level
//
//	var enabled = router.NewKey[bool]("carbons")
//
// and reads or writes it on a resource (enabled.Of(res), enabled.Set(res,
// true)) or on a stanza as it is routed (OfStanza, SetStanza). A resource
// carries only the slots that were set.

// Key is one typed slot; the zero value is not usable (use NewKey).
type Key[T any] struct {
	i    int
	name string
}

var keys atomic.Int32

// NewKey declares a slot; name is for debugging. Call it at package level.
func NewKey[T any](name string) Key[T] { return Key[T]{int(keys.Add(1)), name} }

// values is a sparse set of slots, indexed by key number.
type values []any

func (v values) get(i int) any {
	if i < len(v) {
		return v[i]
	}
	return nil
}

func (v *values) set(i int, x any) {
	if i >= len(*v) && i < cap(*v) {
		*v = (*v)[:i+1] // (never shrunk nor shared, Readdress clones: the slots past len are nil)
	}
	if i >= len(*v) {
		// Room for every slot declared: one allocation per stanza or
		// resource, however many features set theirs.
		nv := make(values, i+1, max(i+1, int(keys.Load())+1))
		copy(nv, *v)
		*v = nv
	}
	(*v)[i] = x
}

// Of returns the value of the slot on res, or T's zero value.
func (k Key[T]) Of(res *Resource) T {
	res.mu.Lock()
	x := res.vals.get(k.i)
	res.mu.Unlock()
	t, _ := x.(T)
	return t
}

// Set sets the slot on res.
func (k Key[T]) Set(res *Resource, v T) {
	res.mu.Lock()
	res.vals.set(k.i, v)
	res.mu.Unlock()
}

// Update replaces the slot's value on res by fn(old) atomically, and
// returns the new value (fn runs under the resource's lock: keep it short).
func (k Key[T]) Update(res *Resource, fn func(T) T) T {
	res.mu.Lock()
	defer res.mu.Unlock()
	old, _ := res.vals.get(k.i).(T)
	v := fn(old)
	res.vals.set(k.i, v)
	return v
}

// OfStanza returns the slot's value on a stanza being routed.
func (k Key[T]) OfStanza(st *Stanza) T {
	t, _ := st.vals.get(k.i).(T)
	return t
}

// SetStanza sets the slot on a stanza being routed (it follows the stanza
// through Readdress). A stanza is routed by one goroutine at a time.
func (k Key[T]) SetStanza(st *Stanza, v T) { st.vals.set(k.i, v) }
