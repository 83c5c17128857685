//go:build race

package signal

// raceEnabled: the race detector slows importing about tenfold.
const raceEnabled = true
