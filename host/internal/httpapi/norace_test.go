//go:build !race

package httpapi_test

const raceSlowdown = 1
