//go:build !race

package compute

const raceSlowdown = 1
