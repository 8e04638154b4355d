package cgroup

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A list reads a group's usage at most once per UsageAge; the memory
// limit's check (Memory) always reads it.
func TestMemoryRecentReadsUsageOncePerAge(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("memory.current", "1000\n")
	write("memory.stat", "anon 5\ninactive_file 100\n")
	g := &Group{m: &Manager{version: V2}, dir: dir}
	if n, err := g.MemoryRecent(10 * time.Second); err != nil || n != 900 {
		t.Fatalf("first list: %d, %v; want 900", n, err)
	}
	write("memory.current", "2000\n")
	if n, _ := g.MemoryRecent(10 * time.Second); n != 900 {
		t.Fatalf("a list within UsageAge read the file again: %d", n)
	}
	if n, _ := g.Memory(); n != 1900 {
		t.Fatalf("Memory: %d, want the fresh 1900", n)
	}
	g.usageAt = time.Now().Add(-2 * UsageAge)
	if n, _ := g.MemoryRecent(10 * time.Second); n != 1900 {
		t.Fatalf("a list after UsageAge: %d, want 1900", n)
	}
}
