package locallist

import "context"

// SweepNow runs one sweep at once, for tests that must know one happened.
func (s *Syncer) SweepNow(ctx context.Context) { s.sweep(ctx) }
