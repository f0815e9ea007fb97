//go:build race

package e2e

// raceEnabled builds the server under test with -race too, so its data races fail the test.
const raceEnabled = true
