package telegram

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/chatvault/chatvault/importers"
)

// maxExporterOffset bounds the offset derived from "date" − "date_unixtime":
// real zones lie within −12:00…+14:00 and, since 1979, on quarter hours;
// anything else means the two fields disagree (hand-edited files, imported
// chats), and the time is written in UTC.
const (
	maxExporterOffset  = 14 * 3600
	exporterOffsetUnit = 15 * 60
)

// naiveLayouts are the forms of "date" accepted: Qt's ISODate (what
// Telegram Desktop writes), with optional fraction, and a space separator.
var naiveLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
}

// parseNaive reads a wall-clock "date" as if it were UTC (its fields, not
// an instant). ok is false if the text is not a date. hasOffset reports a
// date that carried its own offset (not written by Telegram, but accepted):
// then t is the instant.
func parseNaive(s string) (t time.Time, hasOffset bool, ok bool) {
	for _, l := range naiveLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, false, true
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true, true
	}
	return time.Time{}, false, false
}

// parseUnix reads "date_unixtime" (digits, in a string or a bare number).
func parseUnix(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a number of seconds", s)
	}
	// Keep within years 0001–9999, which RFC 3339 can write.
	if n < -62135596800 || n > 253402300799 {
		return time.Time{}, fmt.Errorf("%q is out of range", s)
	}
	return time.Unix(n, 0), nil
}

// stamp is one point in time as the export gave it.
type stamp struct {
	local    string // "date" / "edited": exporter-local wall time
	hasLocal bool
	unix     string // "date_unixtime" / "edited_unixtime"
	hasUnix  bool
}

// errNoDate: a message with neither "date" nor "date_unixtime".
var errNoDate = errors.New("no date")

// resolve turns a stamp into the canonical time text and its basis.
// mismatch is set when both fields were given but their difference is not a
// plausible zone offset (then the time is written in UTC).
func (st stamp) resolve(tz *time.Location) (text, basis string, mismatch bool, err error) {
	switch {
	case st.hasUnix:
		u, err := parseUnix(st.unix)
		if err != nil {
			return "", "", false, err
		}
		t := u.UTC()
		if st.hasLocal {
			if n, withOffset, ok := parseNaive(st.local); ok && !withOffset {
				off := n.Unix() - u.Unix()
				if off%exporterOffsetUnit == 0 && off >= -maxExporterOffset && off <= maxExporterOffset {
					t = u.In(time.FixedZone("", int(off)))
				} else {
					mismatch = true
				}
			} else if ok && withOffset {
				_, o := n.Zone()
				t = u.In(time.FixedZone("", o))
			} else {
				mismatch = true
			}
		}
		return importers.RFC3339(t), "exact", mismatch, nil
	case st.hasLocal:
		n, withOffset, ok := parseNaive(st.local)
		if !ok {
			return "", "", false, fmt.Errorf("%q is not a date", st.local)
		}
		if withOffset {
			return importers.RFC3339(n), "exact", false, nil
		}
		loc, basis := tz, ""
		if loc == nil {
			loc, basis = time.Local, "exporter_local"
		} else {
			basis = "assumed_tz:" + loc.String()
		}
		t := time.Date(n.Year(), n.Month(), n.Day(), n.Hour(), n.Minute(), n.Second(), n.Nanosecond(), loc)
		return importers.RFC3339(t), basis, false, nil
	}
	return "", "", false, errNoDate
}
