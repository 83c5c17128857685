//go:build race

package messenger

// raceEnabled: the race detector slows importing about tenfold.
const raceEnabled = true
