package slack

import (
	"errors"
	"io"
	"io/fs"
	"strings"
)

// Conversation kinds, from the metadata file that names them.
const (
	kindChannel = "channel" // channels.json
	kindGroup   = "group"   // groups.json: private channel
	kindMPIM    = "mpim"    // mpims.json: group DM
	kindDM      = "dm"      // dms.json
)

type conv struct {
	id, name, kind string
	members        []string
}

type meta struct {
	users    map[string]string // user id → display name
	byFolder map[string]*conv
	byID     map[string]*conv
}

type userRec struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	RealName string `json:"real_name"`
	Profile  *struct {
		RealName    string `json:"real_name"`
		DisplayName string `json:"display_name"`
	} `json:"profile"`
}

func (u *userRec) displayName() string {
	var pr, pd string
	if u.Profile != nil {
		pr, pd = u.Profile.RealName, u.Profile.DisplayName
	}
	return firstNonEmpty(pr, u.RealName, pd, u.Name)
}

type convRec struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// loadMeta reads the metadata files present at the root. report handles a
// malformed record or file: it returns nil to go on (SkipInvalid) or the
// error to stop.
func (s *source) loadMeta(root []entry) error {
	s.meta = meta{users: map[string]string{}, byFolder: map[string]*conv{}, byID: map[string]*conv{}}
	present := map[string]bool{}
	for _, e := range root {
		if isMetaFile(e.name) {
			if e.symlink {
				return malformedf("%s: refusing a symlink inside the export", s.fsys.display(e.name))
			}
			present[e.name] = e.regular
		}
	}
	for _, name := range []string{"users.json", "org_users.json"} {
		if !present[name] {
			continue
		}
		var u userRec
		err := eachRecord(s, name, &u, func(off int64, a *arrayReader) error {
			if u.ID != "" {
				if _, dup := s.meta.users[u.ID]; !dup {
					s.meta.users[u.ID] = u.displayName()
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, f := range []struct{ file, kind string }{
		{"channels.json", kindChannel}, {"groups.json", kindGroup}, {"mpims.json", kindMPIM}, {"dms.json", kindDM},
	} {
		if !present[f.file] {
			continue
		}
		var c convRec
		err := eachRecord(s, f.file, &c, func(off int64, a *arrayReader) error {
			if c.ID == "" {
				return a.errAt(off, errors.New(`conversation without an "id"`))
			}
			cv := &conv{id: c.ID, name: c.Name, kind: f.kind, members: c.Members}
			folder := c.Name
			if f.kind == kindDM || folder == "" {
				folder = c.ID
			}
			if _, dup := s.meta.byFolder[folder]; dup {
				s.warnOnce("dupfolder:"+folder, "slack: %s names folder %q again (id %s); the first entry is used", f.file, folder, c.ID)
			} else {
				s.meta.byFolder[folder] = cv
			}
			if _, dup := s.meta.byID[c.ID]; !dup {
				s.meta.byID[c.ID] = cv
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// eachRecord streams the array of objects in name, decoding each into v
// (reset to its zero value first) and calling fn; it applies SkipInvalid to
// malformed records and files.
func eachRecord[T any](s *source, name string, v *T, fn func(int64, *arrayReader) error) error {
	a, err := openArray(s.fsys, name, false)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return s.skipOr(err)
	}
	defer a.close()
	for {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		var zero T
		*v = zero
		raw, off, err := a.next(v)
		if err == io.EOF {
			return nil
		}
		var re *recordErr
		switch {
		case errors.As(err, &re) || (err == nil && raw[0] != '{'):
			what := "element is not an object"
			if re != nil && raw[0] == '{' {
				what = re.Error()
			}
			err = a.errAt(off, errors.New(what))
		case err != nil:
			return s.skipOr(err) // the rest of the file is lost
		default:
			err = fn(off, a)
		}
		if err != nil {
			if err := s.skipOr(err); err != nil {
				return err
			}
		}
	}
}

// skipOr reports err through Skipped and returns nil when SkipInvalid
// allows skipping it; otherwise it returns err.
func (s *source) skipOr(err error) error {
	if s.o.SkipInvalid && errors.Is(err, errMalformed) {
		if s.o.Skipped != nil {
			s.o.Skipped(err)
		}
		return nil
	}
	return err
}

// userName is the display name of a user id, "" when unknown.
func (m *meta) userName(id string) string { return m.users[id] }

// memberNames joins the members' names, the id standing for an unknown user.
func (m *meta) memberNames(ids []string) string {
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		names = append(names, firstNonEmpty(m.users[id], id))
	}
	return strings.Join(names, ", ")
}
