// Package keyring holds the HMAC keys that rotate (the link-signing key and
// the pagination key): the current key, which signs, and the previous one,
// which still verifies what was signed before the last rotation. Each key is
// named by its ID (the Secrets Manager version ID), and what it signs names
// it, so a verifier knows which key to check against.
//
// A Cache reads the keys from their source (secrets.go: a secret's
// AWSCURRENT and AWSPREVIOUS versions) and keeps them for a while: a
// rotation is picked up when the cache is older than its TTL, or at once
// when something names a key the cache does not hold (at most once per
// MinRefresh, so forged key IDs cannot turn into one secret read per call).
package keyring

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MinKeySize is the shortest key accepted: HMAC-SHA256's block of security.
const MinKeySize = 32

// Key is one HMAC key and the ID it is named by ("" for a key given
// without one, e.g. from an environment variable).
type Key struct {
	ID     string
	Secret []byte
}

// Ring is the key that signs and, after a rotation, the one before it.
type Ring struct {
	Current  Key
	Previous *Key
}

// Check reports a ring whose keys are too short or share an ID.
func (r Ring) Check() error {
	if len(r.Current.Secret) < MinKeySize {
		return fmt.Errorf("the current key must be at least %d bytes", MinKeySize)
	}
	if p := r.Previous; p != nil && (len(p.Secret) < MinKeySize || p.ID == r.Current.ID) {
		return fmt.Errorf("the previous key must be at least %d bytes and have its own ID", MinKeySize)
	}
	return nil
}

// Lookup returns the secret of the key named id, current or previous.
func (r Ring) Lookup(id string) ([]byte, bool) {
	switch {
	case id == r.Current.ID:
		return r.Current.Secret, true
	case r.Previous != nil && id == r.Previous.ID:
		return r.Previous.Secret, true
	}
	return nil, false
}

func (r Ring) clone() Ring {
	out := Ring{Current: Key{ID: r.Current.ID, Secret: append([]byte(nil), r.Current.Secret...)}}
	if r.Previous != nil {
		out.Previous = &Key{ID: r.Previous.ID, Secret: append([]byte(nil), r.Previous.Secret...)}
	}
	return out
}

// Fetch reads the keys from where they are kept.
type Fetch func(ctx context.Context) (Ring, error)

// Errors of a Cache.
var (
	// ErrUnknownKey: the ID names neither the current nor the previous key,
	// even after a refresh. What it signed must be refused.
	ErrUnknownKey = errors.New("keyring: the key named is neither the current nor the previous one")
	// ErrUnavailable: the keys could not be read and none are cached.
	ErrUnavailable = errors.New("keyring: the keys cannot be read")
)

// Defaults of a Cache reading from Secrets Manager: a Lambda instance rereads
// its keys every 5 minutes (a key two rotations old is refused at most that
// long after the second rotation), and forced refreshes are a second apart
// at least.
const (
	DefaultTTL        = 5 * time.Minute
	DefaultMinRefresh = time.Second
)

// Cache keeps the keys read from a Fetch. It is safe for concurrent use.
type Cache struct {
	fetch      Fetch
	ttl        time.Duration
	minRefresh time.Duration
	now        func() time.Time

	mu      sync.Mutex
	ring    *Ring
	readAt  time.Time
	forceAt time.Time
}

// Static is a cache that holds r for good (a key given in the environment,
// tests). It does not Check r: its callers hold their own rules.
func Static(r Ring) *Cache {
	rc := r.clone()
	return &Cache{ring: &rc}
}

// New returns a cache that reads its keys with fetch when they are older
// than ttl, or when a key it does not hold is asked for, no more often than
// minRefresh. now is its clock (time.Now when nil).
func New(fetch Fetch, ttl, minRefresh time.Duration, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{fetch: fetch, ttl: ttl, minRefresh: minRefresh, now: now}
}

// Load reads the keys now, so a function fails at start when it cannot.
func (c *Cache) Load(ctx context.Context) error {
	_, err := c.Ring(ctx)
	return err
}

// Ring returns the keys, reading them again when the cached ones are older
// than the TTL. A failed reread keeps the cached keys (a rotation is then
// picked up later); with none cached it is ErrUnavailable.
func (c *Cache) Ring(ctx context.Context) (Ring, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ring != nil && (c.fetch == nil || c.now().Sub(c.readAt) < c.ttl) {
		return *c.ring, nil
	}
	return c.refreshLocked(ctx)
}

func (c *Cache) refreshLocked(ctx context.Context) (Ring, error) {
	r, err := c.fetch(ctx)
	if err == nil {
		err = r.Check()
	}
	if err != nil {
		if c.ring != nil {
			return *c.ring, nil
		}
		return Ring{}, errors.Join(ErrUnavailable, err)
	}
	rc := r.clone()
	c.ring, c.readAt = &rc, c.now()
	return rc, nil
}

// Current is the key that signs.
func (c *Cache) Current(ctx context.Context) (Key, error) {
	r, err := c.Ring(ctx)
	return r.Current, err
}

// Lookup returns the secret of the key named id. A name the cache does not
// hold rereads the keys first (a key rotated in since they were read), at
// most once per minRefresh.
func (c *Cache) Lookup(ctx context.Context, id string) ([]byte, error) {
	r, err := c.Ring(ctx)
	if err != nil {
		return nil, err
	}
	if k, ok := r.Lookup(id); ok {
		return k, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fetch == nil || (!c.forceAt.IsZero() && c.now().Sub(c.forceAt) < c.minRefresh) {
		return nil, ErrUnknownKey
	}
	c.forceAt = c.now()
	r, err = c.refreshLocked(ctx)
	if err != nil {
		return nil, err
	}
	if k, ok := r.Lookup(id); ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// Invalidate makes the next call reread the keys (the local stack after it
// rotates them; in AWS the TTL does it).
func (c *Cache) Invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fetch != nil {
		c.readAt = time.Time{}
	}
}
