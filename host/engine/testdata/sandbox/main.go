// Command sandbox reports what a guest can see of its host: it fails every
// item with a description of its arguments, environment, filesystem and
// clock, which the engine tests read back.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/syncrules/syncrules/sdk"
)

func init() {
	sdk.Register(sdk.RuleFunc(func(b *sdk.Batch) error {
		_, fileErr := os.ReadFile("/etc/hostname")
		_, dirErr := os.ReadDir("/")
		report := fmt.Errorf("args=%d env=%d file_error=%t dir_error=%t year=%d",
			len(os.Args), len(os.Environ()), fileErr != nil, dirErr != nil, time.Now().Year())
		for _, it := range b.Items() {
			it.Fail(report)
		}
		return nil
	}))
}

func main() {}
