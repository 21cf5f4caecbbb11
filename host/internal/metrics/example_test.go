package metrics_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/metrics"
)

func Example() {
	m := metrics.New(func() []engine.PoolStats {
		return []engine.PoolStats{{Module: "stock@1", Instances: 2, Idle: 1}}
	})
	// The engine reports calls; a plugin version that is deleted is
	// forgotten.
	m.Called("stock@1", engine.RunSandboxed, "", 40*time.Microsecond)
	m.Called("stock@1", engine.RunSandboxed, engine.KindTimeout, time.Second)
	m.Called("old@1", engine.RunSandboxed, "", time.Millisecond)
	m.Forget("old@1")

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "syncrules_rule_calls_total") ||
			strings.HasPrefix(line, "syncrules_rule_errors_total") ||
			strings.HasPrefix(line, "syncrules_rule_instances") {
			fmt.Println(line)
		}
	}
	// Output:
	// syncrules_rule_calls_total{module="stock@1",result="ok",where="sandboxed"} 1
	// syncrules_rule_calls_total{module="stock@1",result="timeout",where="sandboxed"} 1
	// syncrules_rule_errors_total{kind="timeout",module="stock@1"} 1
	// syncrules_rule_instances{module="stock@1"} 2
	// syncrules_rule_instances_idle{module="stock@1"} 1
}
