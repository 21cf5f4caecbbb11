//go:build race

package engine

// raceBuild: the race detector's shadow memory does not fit a compiling
// child's cap, so a race build (tests only) compiles without one.
const raceBuild = true

// raceFactor stretches the compile timeout of a race build, whose
// compiler runs ≈ 7x slower (15 s for an example plugin, alone).
const raceFactor = 10
