package logs

import "testing"

// instanceSuffix compiles on first use; a bad expression fails here.
func TestRegexpsCompile(t *testing.T) {
	instanceSuffix()
}
