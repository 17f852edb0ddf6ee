package store

// Wakeups is how many times the batcher's timer has fired.
func (b *MeterBatcher) Wakeups() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.wakeups
}
