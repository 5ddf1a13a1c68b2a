package plasma

// lruList is an intrusive doubly linked list of the evictable copies (sealed,
// no reader pins, no primary pin, not being deleted), least recently used at
// the head. A copy is appended when it becomes evictable, at which moment it
// is stamped with the next LastUse, so the list is always sorted by LastUse
// and eviction never has to search or skip held copies.
type lruList struct {
	head, tail *entry
	// n and bytes count the copies in the list and their sizes: what
	// eviction could free at most.
	n     int
	bytes int64
}

// pushBack appends e, which must not be in the list.
func (l *lruList) pushBack(e *entry) {
	if e.inLRU {
		panic("plasma: lru: pushBack of a listed entry")
	}
	e.prev, e.next = l.tail, nil
	if l.tail == nil {
		l.head = e
	} else {
		l.tail.next = e
	}
	l.tail = e
	e.inLRU = true
	l.n++
	l.bytes += e.size()
}

// remove unlinks e, which must be in the list.
func (l *lruList) remove(e *entry) {
	if !e.inLRU {
		panic("plasma: lru: remove of an unlisted entry")
	}
	if e.prev == nil {
		l.head = e.next
	} else {
		e.prev.next = e.next
	}
	if e.next == nil {
		l.tail = e.prev
	} else {
		e.next.prev = e.prev
	}
	e.prev, e.next = nil, nil
	e.inLRU = false
	l.n--
	l.bytes -= e.size()
}
