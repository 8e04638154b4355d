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

// A group's usage and memory.stat files stay open between reads (a list of
// 1,000 apps opened 1,000 v1 cgroup files, ~0.2 ms each); each read sees
// the file as it is now, and Remove closes them.
func TestMemoryKeepsFilesOpen(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	openHere := func() int {
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip(err)
		}
		n := 0
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && filepath.Dir(l) == dir {
				n++
			}
		}
		return n
	}
	write("memory.usage_in_bytes", "1000\n")
	write("memory.stat", "cache 7\ntotal_inactive_file 100\n")
	g := &Group{m: &Manager{version: V1}, dir: dir}
	if n, err := g.Memory(); err != nil || n != 900 {
		t.Fatalf("Memory: %d, %v; want 900", n, err)
	}
	if n := openHere(); n != 2 {
		t.Fatalf("%d of the group's files open after a read, want 2 (usage and memory.stat)", n)
	}
	write("memory.usage_in_bytes", "3000\n")
	write("memory.stat", "cache 7\ntotal_inactive_file 200\n")
	if n, err := g.Memory(); err != nil || n != 2800 {
		t.Fatalf("Memory after a change: %d, %v; want 2800", n, err)
	}
	if n := openHere(); n != 2 {
		t.Fatalf("%d of the group's files open after two reads, want 2", n)
	}
	g.Remove()
	if n := openHere(); n != 0 {
		t.Fatalf("%d of the group's files still open after Remove", n)
	}
	if _, err := g.Memory(); err == nil {
		t.Fatal("Memory of a removed group read a file")
	}
}
