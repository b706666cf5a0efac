package httpapi

import (
	"context"
	"time"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Extensions (F14) in the in-memory store: the same version conditions as
// the real store, without the transaction.

func (m *memStore) CreateExtension(_ context.Context, ext elevate.Request, orig app.Change, _ time.Time) error {
	defer m.lock()()
	if m.fail != nil {
		return m.fail
	}
	if m.requests[orig.Prev.ID].Version != orig.Prev.Version {
		return elevate.ErrConcurrentUpdate
	}
	m.requests[ext.ID] = ext
	m.requests[orig.Next.ID] = orig.Next
	return nil
}

func (m *memStore) SaveLinkedDecision(ctx context.Context, prev, next elevate.Request, linked app.Change, read elevate.Group, linkID string, now time.Time) error {
	m.mu.Lock()
	stale := m.requests[linked.Prev.ID].Version != linked.Prev.Version
	m.mu.Unlock()
	if stale {
		return elevate.ErrConcurrentUpdate
	}
	if err := m.SaveDecision(ctx, prev, next, read, linkID, now); err != nil {
		return err
	}
	defer m.lock()()
	m.requests[linked.Next.ID] = linked.Next
	return nil
}
