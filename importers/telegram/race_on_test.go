//go:build race

package telegram

// raceEnabled: the race detector slows parsing about tenfold.
const raceEnabled = true
