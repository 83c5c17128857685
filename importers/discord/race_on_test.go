//go:build race

package discord

// raceEnabled: the race detector roughly doubles heap use, so absolute memory
// bounds in tests are looser under it (relative ones stay the same).
const raceEnabled = true
