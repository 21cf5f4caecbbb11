module github.com/syncrules/syncrules

go 1.26.8

require (
	github.com/go-json-experiment/json v1.27.2
	github.com/tetratelabs/wazero v1.12.0
)

require golang.org/x/sys v0.44.0 // indirect
