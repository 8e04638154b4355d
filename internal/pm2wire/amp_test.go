package pm2wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// Frames of amp-message as PM2's client writes them, round trip.
func TestFrameRoundTrip(t *testing.T) {
	frame, err := Encode(map[string]any{"type": "call", "method": "ping", "args": []any{map[string]any{}}}, "host:1:0")
	if err != nil {
		t.Fatal(err)
	}
	// meta: version 1, two arguments.
	if frame[0] != 0x12 {
		t.Fatalf("meta byte %#x, want 0x12", frame[0])
	}
	args, err := ReadFrame(bufio.NewReader(bytes.NewReader(frame)), MaxFrame)
	if err != nil {
		t.Fatal(err)
	}
	if len(args) != 2 {
		t.Fatalf("%d args", len(args))
	}
	if k, p := Unpack(args[0]); k != KindJSON || string(p) != `{"args":[{}],"method":"ping","type":"call"}` {
		t.Fatalf("arg 0: %d %s", k, p)
	}
	if k, p := Unpack(args[1]); k != KindString || string(p) != "host:1:0" {
		t.Fatalf("arg 1: %d %s", k, p)
	}
	if k, _ := Unpack([]byte{0, 1, 2}); k != KindBlob {
		t.Fatalf("a blob is kind %d", k)
	}
}

// Frames cut anywhere, of another version, or announcing more than the
// limit are errors, never a panic or a big allocation.
func TestFrameBadInput(t *testing.T) {
	good, _ := Encode("topic", map[string]int{"a": 1})
	for i := 1; i < len(good); i++ {
		_, err := ReadFrame(bufio.NewReader(bytes.NewReader(good[:i])), MaxFrame)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("frame cut at %d: %v, want unexpected EOF", i, err)
		}
	}
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader([]byte{0x21, 0, 0, 0, 0})), MaxFrame); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("version 2: %v", err)
	}
	huge := []byte{0x11}
	huge = binary.BigEndian.AppendUint32(huge, 0xffffffff)
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(huge)), MaxFrame); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("4 GiB argument: %v", err)
	}
	// Many arguments that together pass the limit.
	many := []byte{0x1f}
	for i := 0; i < 15; i++ {
		many = binary.BigEndian.AppendUint32(many, 1<<20)
		many = append(many, make([]byte, 1<<20)...)
	}
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(many)), 4<<20); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("15 MiB in 1 MiB arguments with a 4 MiB limit: %v", err)
	}
}

func FuzzReadFrame(f *testing.F) {
	good, _ := Encode(map[string]any{"type": "call", "method": "getMonitorData", "args": []any{map[string]any{}}}, "id:0")
	f.Add(good)
	f.Add([]byte{0x10})
	f.Add([]byte{0x11, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		for {
			args, err := ReadFrame(br, 1<<16)
			if err != nil {
				return
			}
			total := 1
			for _, a := range args {
				total += 4 + len(a)
			}
			if total > 1<<16 {
				t.Fatalf("a frame of %d bytes passed a limit of %d", total, 1<<16)
			}
			// What was read encodes back to the same bytes.
			re := AppendFrame(nil, args...)
			again, err := ReadFrame(bufio.NewReader(bytes.NewReader(re)), 1<<16)
			if err != nil || len(again) != len(args) {
				t.Fatalf("re-encoded frame: %v", err)
			}
		}
	})
}
