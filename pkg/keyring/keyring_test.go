package keyring

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

type source struct {
	mu    sync.Mutex
	ring  Ring
	err   error
	reads int
}

func (s *source) fetch(context.Context) (Ring, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return s.ring, s.err
}

func key(id string) Key { return Key{ID: id, Secret: []byte(strings.Repeat(id, 32))} }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// TestCacheRereadsAfterTTLAndForUnknownKeys: a rotation is picked up when
// the cache is older than its TTL, or at once when a key it does not hold is
// named, but no more often than minRefresh; a key two rotations old is
// refused once the cache knows of the second rotation.
func TestCacheRereadsAfterTTLAndForUnknownKeys(t *testing.T) {
	ctx := context.Background()
	src := &source{ring: Ring{Current: key("a")}}
	c := &clock{t: time.Unix(1000, 0)}
	cache := New(src.fetch, time.Minute, 10*time.Second, c.now)
	if k, err := cache.Current(ctx); err != nil || k.ID != "a" {
		t.Fatalf("current %v %v", k.ID, err)
	}
	a := key("a")
	src.ring = Ring{Current: key("b"), Previous: &a} // rotated
	if k, _ := cache.Current(ctx); k.ID != "a" {
		t.Fatal("reread before the TTL")
	}
	// Something signed by the new key: reread at once.
	if s, err := cache.Lookup(ctx, "b"); err != nil || string(s) != string(key("b").Secret) {
		t.Fatalf("lookup of the new key: %v", err)
	}
	if k, _ := cache.Current(ctx); k.ID != "b" {
		t.Fatal("the reread did not take the new current key")
	}
	if _, err := cache.Lookup(ctx, "a"); err != nil {
		t.Fatalf("the previous key: %v", err)
	}
	// Unknown names reread at most once per minRefresh.
	if _, err := cache.Lookup(ctx, "forged"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("forged key: %v", err)
	}
	reads := src.reads
	if reads != 2 {
		t.Fatalf("%d reads, want 2: a forged name right after a reread rereads nothing", reads)
	}
	c.t = c.t.Add(10 * time.Second)
	for range 5 {
		if _, err := cache.Lookup(ctx, "forged"); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("forged key: %v", err)
		}
	}
	if src.reads-reads != 1 {
		t.Fatalf("%d rereads for five unknown names within minRefresh, want 1", src.reads-reads)
	}
	b := key("b")
	src.ring = Ring{Current: key("c"), Previous: &b} // rotated again
	c.t = c.t.Add(time.Minute)
	if _, err := cache.Lookup(ctx, "a"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("a key two rotations old after the TTL: %v", err)
	}
	// A failed reread keeps the cached keys; with none cached it is an error.
	src.err = errors.New("throttled")
	c.t = c.t.Add(time.Hour)
	if k, err := cache.Current(ctx); err != nil || k.ID != "c" {
		t.Fatalf("a failed reread: %v %v", k.ID, err)
	}
	if _, err := New(src.fetch, time.Minute, 0, c.now).Current(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("no keys at all: %v", err)
	}
	// A short key is refused, as a fetch error.
	src.err = nil
	src.ring = Ring{Current: Key{ID: "d", Secret: []byte("short")}}
	if _, err := New(src.fetch, time.Minute, 0, c.now).Current(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a short key: %v", err)
	}
	// Invalidate makes the next call reread.
	src.ring = Ring{Current: key("e")}
	cache.Invalidate()
	if k, _ := cache.Current(ctx); k.ID != "e" {
		t.Fatal("Invalidate did not reread")
	}
}

func TestStaticNeverRereads(t *testing.T) {
	s := Static(Ring{Current: key("a")})
	if _, err := s.Lookup(context.Background(), "b"); !errors.Is(err, ErrUnknownKey) {
		t.Fatal(err)
	}
	s.Invalidate()
	if k, err := s.Current(context.Background()); err != nil || k.ID != "a" {
		t.Fatal(k, err)
	}
}
