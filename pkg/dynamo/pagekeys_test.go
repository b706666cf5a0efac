package dynamo_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/keyring"
)

// rotatingKeys is a key source a test rotates by hand, as Secrets Manager's
// rotation moves AWSCURRENT and AWSPREVIOUS.
type rotatingKeys struct {
	mu   sync.Mutex
	ring keyring.Ring
	n    int
}

func (k *rotatingKeys) rotate() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.n++
	next := keyring.Key{ID: "v" + strings.Repeat("x", k.n), Secret: []byte(strings.Repeat(string(rune('a'+k.n)), 32))}
	if k.ring.Current.ID != "" || k.n > 1 {
		prev := k.ring.Current
		k.ring.Previous = &prev
	}
	k.ring.Current = next
}

func (k *rotatingKeys) fetch(context.Context) (keyring.Ring, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ring, nil
}

// TestPageTokenSurvivesOneRotation: a page token names its key; after one
// rotation it still resumes the listing, after two it is refused as retired
// (a 400 saying to list again), and a token naming a key it was not signed
// by is refused as any bad token.
func TestPageTokenSurvivesOneRotation(t *testing.T) {
	e := newEnv(t)
	e.group(t, "ops", "bob@example.com")
	e.enable(t, "ops")
	for i := range 3 {
		e.policy(t, "R"+string(rune('0'+i)), "Manual", "", 1)
		e.clock.Advance(time.Second)
		submit(t, e, "alice@example.com", "R"+string(rune('0'+i)))
	}
	src := &rotatingKeys{}
	src.rotate()
	keys := keyring.New(src.fetch, time.Hour, 0, nil)
	st := e.store.WithPageKeys(keys)
	q := app.RequestQuery{Index: app.AllRequests, Limit: 1, Now: e.clock.Now()}
	first, err := st.ListRequests(ctx, q)
	if err != nil || first.Next == "" {
		t.Fatalf("first page: %v, next %q", err, first.Next)
	}
	if !strings.HasSuffix(first.Next, ".vx") {
		t.Fatalf("the token %q does not name its key", first.Next)
	}

	src.rotate()
	keys.Invalidate()
	q.Next = first.Next
	second, err := st.ListRequests(ctx, q)
	if err != nil || len(second.Items) != 1 || second.Items[0].ID == first.Items[0].ID {
		t.Fatalf("after one rotation the token no longer resumes: %v %+v", err, second.Items)
	}
	if !strings.HasSuffix(second.Next, ".vxx") {
		t.Fatalf("after the rotation tokens are not signed by the new key: %q", second.Next)
	}
	// The key named, swapped for the other held key: the MAC must refuse it.
	_, err = st.ListRequests(ctx, app.RequestQuery{Index: app.AllRequests, Limit: 1, Now: e.clock.Now(), Next: strings.TrimSuffix(first.Next, ".vx") + ".vxx"})
	if !errors.Is(err, elevate.ErrInvalid) || strings.Contains(err.Error(), "rotated") {
		t.Fatalf("a token naming the wrong key: %v", err)
	}

	src.rotate()
	keys.Invalidate()
	_, err = st.ListRequests(ctx, q)
	if !errors.Is(err, elevate.ErrInvalid) || !strings.Contains(err.Error(), "rotated out") {
		t.Fatalf("after two rotations the token was not refused as retired: %v", err)
	}
	// The newer token still works: it was signed by what is now the previous key.
	q.Next = second.Next
	if _, err := st.ListRequests(ctx, q); err != nil {
		t.Fatalf("a token of the previous key: %v", err)
	}
}
