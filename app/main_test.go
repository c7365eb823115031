package app

import (
	"testing"

	"github.com/llmgw/llmgw/analytics/chtest"
)

// TestMain lets the test binary serve ClickHouse for the analytics tests (chtest re-executes
// it as the server); otherwise it runs the tests.
func TestMain(m *testing.M) { chtest.Main(m) }
