package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// GetSettings returns the defaults (Version 0) when none are stored.
func (s *Store) GetSettings(ctx context.Context) (elevate.Settings, error) {
	item, err := s.getItem(ctx, "get settings", settingsKey())
	if err != nil {
		return elevate.Settings{}, err
	}
	if item == nil {
		return elevate.DefaultSettings(), nil
	}
	return decodeAs[settingsItem]("decode settings", item)
}

// SaveSettings writes next if the stored version is still prev.Version, and
// moves group reference counts in the same transaction: +1 (the group must
// exist) for groups next starts using, -1 for groups it stops using. The
// item is stamped with ev (stamp.go); the stream makes the audit record.
func (s *Store) SaveSettings(ctx context.Context, prev, next elevate.Settings, ev app.Event) error {
	it := toSettingsItem(next)
	it.UpdatedBy, it.ChangeID = ev.Actor, ev.ID
	item, err := marshal(it)
	if err != nil {
		return err
	}
	cond, values := "attribute_not_exists(PK)", map[string]types.AttributeValue(nil)
	names := map[string]string(nil)
	if prev.Version > 0 {
		cond = "#v = :prev"
		names = map[string]string{"#v": attrVersion}
		values = map[string]types.AttributeValue{":prev": num(int64(prev.Version))}
	}
	var t tx
	t.add(s.put(item, cond, names, values), is(elevate.ErrConcurrentUpdate))
	s.moveRefs(&t, prev.ReferencedGroups(), next.ReferencedGroups(), ev)
	return s.commit(ctx, "save settings", &t)
}
