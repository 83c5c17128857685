package archive

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/chatvault/chatvault/remote"
)

// Summary is what a store shows of an archive without any key.
type Summary struct {
	ID          ID
	Commits     uint64
	StoredBytes int64
}

// ListArchives lists the archives in a store with their commit counts and
// stored sizes; it needs no key.
func ListArchives(ctx context.Context, st remote.Store) ([]Summary, error) {
	byID := map[ID]*Summary{}
	err := st.List(ctx, "archives/", func(info remote.Info) error {
		rest := strings.TrimPrefix(info.Name, "archives/")
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return nil
		}
		id, err := ParseID(rest[:i])
		if err != nil {
			return nil // not ours
		}
		s := byID[id]
		if s == nil {
			s = &Summary{ID: id}
			byID[id] = s
		}
		s.StoredBytes += info.Size
		if _, ok := parseCommitName(info.Name); ok && strings.HasPrefix(rest[i+1:], "commits/") {
			s.Commits++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(byID))
	for _, s := range byID {
		if s.Commits > 0 {
			out = append(out, *s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID.String() < out[j].ID.String() })
	return out, nil
}

// Resolve turns what a user typed into an archive id: an exact id, a unique id
// prefix of at least 6 hex digits, or a label this device has cached.
func Resolve(ctx context.Context, st remote.Store, name string, state State) (ID, error) {
	if id, err := ParseID(name); err == nil {
		return id, nil
	}
	all, err := ListArchives(ctx, st)
	if err != nil {
		return ID{}, err
	}
	var matches []ID
	if len(name) >= 6 && isHex(name) {
		for _, s := range all {
			if strings.HasPrefix(s.ID.String(), strings.ToLower(name)) {
				matches = append(matches, s.ID)
			}
		}
	}
	if len(matches) == 0 {
		labels, err := state.Labels()
		if err != nil {
			return ID{}, err
		}
		for _, s := range all {
			if labels[s.ID] == name {
				matches = append(matches, s.ID)
			}
		}
	}
	switch len(matches) {
	case 0:
		return ID{}, fmt.Errorf("%w: no archive %q in %s", ErrNotFound, name, st)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = m.String()
	}
	return ID{}, fmt.Errorf("%w: %q matches archives %s", ErrAmbiguous, name, strings.Join(names, ", "))
}

func isHex(s string) bool {
	for _, c := range strings.ToLower(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Label returns the archive's label.
func (a *Archive) Label(ctx context.Context) (string, error) {
	if err := a.loadVersions(ctx); err != nil {
		return "", err
	}
	return a.versions[len(a.versions)-1].Label, nil
}

// CommitInfo describes one version. When the archive is locked only N and Kind
// are known.
type CommitInfo struct {
	N     uint64
	Kind  string
	Time  time.Time
	Added int64 // messages new in this version
	Total int64 // messages in the archive at this version
}

// Commits lists every version, oldest first.
func (a *Archive) Commits(ctx context.Context) ([]CommitInfo, error) {
	out := make([]CommitInfo, len(a.commits))
	for i, c := range a.commits {
		out[i] = CommitInfo{N: c.body.N, Kind: c.body.Kind}
	}
	if a.Locked() {
		return out, nil
	}
	if err := a.loadVersions(ctx); err != nil {
		return nil, err
	}
	for i, vm := range a.versions {
		out[i].Time, out[i].Added, out[i].Total = vm.Time, vm.MessagesAdded, vm.MessagesTotal
	}
	return out, nil
}

// ConversationInfo describes one conversation at some version.
type ConversationInfo struct {
	ID        ID
	Label     string
	SourceKey string
	Messages  int64
	First     time.Time
	Last      time.Time
	// Blobs is how many attachment files the conversation's manifests list
	// (all versions up to this one), or -1 when not known. Restore knows it,
	// having read each conversation's whole manifest chain, and sets it in
	// what it passes to its callback; Conversations reads only the newest
	// manifest and sets -1.
	Blobs int
}

// Conversations lists the conversations present at a version (0: the newest),
// ordered by label then id.
func (a *Archive) Conversations(ctx context.Context, version uint64) ([]ConversationInfo, error) {
	if version == 0 {
		version = a.Head()
	}
	heads, err := a.conversationsAt(ctx, version)
	if err != nil {
		return nil, err
	}
	out := make([]ConversationInfo, 0, len(heads))
	for id, ref := range heads {
		key, err := a.convKey(id)
		if err != nil {
			return nil, err
		}
		m, err := a.readConvManifest(ctx, id, key, ref)
		if err != nil {
			return nil, err
		}
		out = append(out, ConversationInfo{ID: id, Label: m.Label, SourceKey: m.SourceKey, Messages: m.Messages, First: m.First, Last: m.Last, Blobs: -1})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Label != out[j].Label {
			return out[i].Label < out[j].Label
		}
		return out[i].ID.String() < out[j].ID.String()
	})
	return out, nil
}

// ResolveConversation finds a conversation by id, unique id prefix or exact
// label (or source key).
func ResolveConversation(convs []ConversationInfo, name string) (ID, error) {
	var matches []ConversationInfo
	for _, c := range convs {
		if c.ID.String() == strings.ToLower(name) {
			return c.ID, nil
		}
	}
	if len(name) >= 6 && isHex(name) {
		for _, c := range convs {
			if strings.HasPrefix(c.ID.String(), strings.ToLower(name)) {
				matches = append(matches, c)
			}
		}
	}
	if len(matches) == 0 {
		for _, c := range convs {
			if c.Label == name || c.SourceKey == name {
				matches = append(matches, c)
			}
		}
	}
	switch len(matches) {
	case 0:
		return ID{}, fmt.Errorf("%w: no conversation %q", ErrNotFound, name)
	case 1:
		return matches[0].ID, nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = fmt.Sprintf("%s (%s)", m.ID.Short(), m.Label)
	}
	return ID{}, fmt.Errorf("%w: conversation %q matches %s", ErrAmbiguous, name, strings.Join(names, ", "))
}
