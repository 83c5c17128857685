package kmsfake

import (
	"regexp"
	"strings"
)

// resolve finds the key keyID names: a key id, a key ARN, an alias name
// ("alias/x") or an alias ARN. The caller holds the lock.
func (f *Fake) resolve(keyID string) (*key, error) {
	switch {
	case strings.HasPrefix(keyID, "alias/"):
		return f.resolveAlias(keyID)
	case strings.HasPrefix(keyID, arnPrefix+"alias/"):
		return f.resolveAlias(strings.TrimPrefix(keyID, arnPrefix))
	}
	return f.keyOnly(keyID)
}

func (f *Fake) resolveAlias(name string) (*key, error) {
	id, ok := f.aliases[name]
	if !ok {
		return nil, notFoundAlias(arnPrefix + name)
	}
	k, ok := f.keys[id]
	if !ok {
		return nil, notFoundAlias(arnPrefix + name)
	}
	return k, nil
}

// keyOnly finds the key a key id or key ARN names (no alias). The caller holds
// the lock.
func (f *Fake) keyOnly(keyID string) (*key, error) {
	id := strings.TrimPrefix(keyID, arnPrefix+"key/")
	if strings.HasPrefix(keyID, "arn:") && id == keyID {
		return nil, notFoundKey(keyID) // another region, account or resource type
	}
	k, ok := f.keys[id]
	if !ok {
		return nil, notFoundKey(arnPrefix + "key/" + id)
	}
	return k, nil
}

// usable reports why k cannot encrypt or decrypt, as AWS does.
func usable(k *key) error {
	switch {
	case !k.deletionDate.IsZero():
		return pendingDeletion(k.arn())
	case !k.enabled:
		return disabled(k.arn())
	}
	return nil
}

var aliasName = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)
