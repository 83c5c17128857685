//go:build race

package slack

// raceEnabled: the race detector slows the import about tenfold, so the
// large-export test uses half the volume.
const raceEnabled = true
