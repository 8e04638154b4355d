//go:build linux && !race

package main

// raceDetector: this test binary runs under the race detector, where every
// tend the tests start is several times slower.
const raceDetector = false
