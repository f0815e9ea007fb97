package router

import (
	"testing"

	"go.uber.org/goleak"
)

// Held stanzas are let go from other goroutines and time out on timers:
// none of that may outlive the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
