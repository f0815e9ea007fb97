package s2s

import (
	"testing"

	"go.uber.org/goleak"
)

// Every stream, dialer and verification the tests start must have ended
// with them (TestNoGoroutineLeak checks one shutdown in detail).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
