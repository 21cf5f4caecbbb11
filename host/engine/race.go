//go:build race

package engine

// raceBuild: the race detector's shadow memory does not fit a compiling
// child's cap, so a race build (tests only) compiles without one.
const raceBuild = true
