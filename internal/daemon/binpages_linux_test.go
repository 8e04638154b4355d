//go:build linux

package daemon

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// written at run time: in the binary's writable data, which a release must
// leave alone
var binPagesCanary = map[string]int{}

// exeResident is how many bytes of the test binary's read-only mappings are
// resident.
func exeResident(t *testing.T) int64 {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sum int64
	ours := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		switch {
		case len(fs) == 0:
		case !strings.HasSuffix(fs[0], ":"):
			ours = len(fs) >= 6 && fs[1][1] != 'w' && strings.Join(fs[5:], " ") == exe
		case ours && fs[0] == "Rss:":
			n, _ := strconv.ParseInt(fs[1], 10, 64)
			sum += n << 10
		}
	}
	return sum
}

// The trim after a burst also unmaps the binary's read-only pages the
// burst mapped (13–15 MiB of a daemon's RSS otherwise); what runs next maps
// back only what it needs, and the binary's data keeps what was written.
func TestTrimReleasesBinaryPages(t *testing.T) {
	binPagesCanary["kept"] = 9351
	before := exeResident(t)
	if before < 1<<20 {
		t.Skipf("only %d KiB of the test binary are resident: nothing to measure", before>>10)
	}
	freeMemory()
	after := exeResident(t)
	t.Logf("binary pages resident: %d KiB before the trim, %d KiB after", before>>10, after>>10)
	// What runs between the trim and the count (the collector walking the
	// runtime's tables, this reading of smaps) maps ~2–3 MB back in 64 KiB
	// steps: without the release nearly all of before stays resident.
	if after > before/2 {
		t.Errorf("%d KiB of the binary still resident after the trim (%d KiB before)", after>>10, before>>10)
	}
	if binPagesCanary["kept"] != 9351 {
		t.Errorf("data written at run time lost: %v", binPagesCanary)
	}
}
