// Package pm2wire serves PM2's own protocol beside tend.sock, so that the
// unmodified pm2 npm package (require('pm2') and PM2's CLI) drives tend's
// daemon when PM2_HOME is TEND_HOME:
//
//   - rpc.sock: axon's req/rep sockets carrying pm2-axon-rpc call/reply
//     messages (the method table is in rpc.go);
//   - pub.sock: axon's pub socket read by PM2's sub-emitter, the event bus
//     behind pm2.launchBus (bus.go).
//
// Both carry amp frames (this file). The package talks to the supervisor only
// through Backend, the same operations the HTTP API serves.
package pm2wire

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// An amp frame is one byte of meta (the protocol version in the high nibble,
// the number of arguments, at most 15, in the low one), then each argument as
// a 32-bit big-endian length and that many bytes. amp-message tags each
// argument: "s:" a string, "j:" JSON, anything else a blob.

// ampVersion is the only version amp has.
const ampVersion = 1

// MaxFrame bounds one frame read from a peer (all its arguments and their
// lengths). PM2's largest requests are ecosystem apps with their
// environment; 64 MiB is far beyond any, and a peer that announces more is
// cut off.
const MaxFrame = 64 << 20

// Errors of frame decoding: the connection is closed on any of them.
var (
	ErrFrameTooLarge = errors.New("amp frame larger than the limit")
	ErrBadFrame      = errors.New("not an amp frame")
)

// ReadFrame reads one frame and returns its arguments as sent (tags
// included). It reads no more than max bytes of arguments; a frame that
// announces more fails with ErrFrameTooLarge before anything is allocated.
func ReadFrame(r *bufio.Reader, max int) ([][]byte, error) {
	meta, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	if meta>>4 != ampVersion {
		return nil, fmt.Errorf("%w: version %d", ErrBadFrame, meta>>4)
	}
	argc := int(meta & 0xf)
	args := make([][]byte, argc)
	total := 1
	var lenbuf [4]byte
	for i := range args {
		if _, err := io.ReadFull(r, lenbuf[:]); err != nil {
			return nil, unexpected(err)
		}
		n := binary.BigEndian.Uint32(lenbuf[:])
		total += 4 + int(n)
		if uint64(n) > uint64(max) || total > max {
			return nil, fmt.Errorf("%w: %d bytes announced (limit %d)", ErrFrameTooLarge, total, max)
		}
		args[i] = make([]byte, n)
		if _, err := io.ReadFull(r, args[i]); err != nil {
			return nil, unexpected(err)
		}
	}
	return args, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// AppendFrame appends the frame of args (already tagged) to b.
func AppendFrame(b []byte, args ...[]byte) []byte {
	if len(args) > 15 {
		panic("amp: more than 15 arguments")
	}
	b = append(b, ampVersion<<4|byte(len(args)))
	for _, a := range args {
		b = binary.BigEndian.AppendUint32(b, uint32(len(a)))
		b = append(b, a...)
	}
	return b
}

// Pack tags one argument as amp-message does: a string as "s:", a byte
// slice as a blob, anything else as "j:" and its JSON (nil is null).
func Pack(v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return append([]byte("s:"), x...), nil
	case []byte:
		return x, nil
	case json.RawMessage:
		return append([]byte("j:"), x...), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append([]byte("j:"), j...), nil
}

// Encode packs each value and frames them.
func Encode(vs ...any) ([]byte, error) {
	args := make([][]byte, len(vs))
	for i, v := range vs {
		a, err := Pack(v)
		if err != nil {
			return nil, err
		}
		args[i] = a
	}
	return AppendFrame(nil, args...), nil
}

// Arg kinds.
const (
	KindBlob = iota
	KindString
	KindJSON
)

// Unpack splits an argument into its kind and payload.
func Unpack(a []byte) (kind int, payload []byte) {
	if len(a) >= 2 && a[1] == ':' {
		switch a[0] {
		case 's':
			return KindString, a[2:]
		case 'j':
			return KindJSON, a[2:]
		}
	}
	return KindBlob, a
}
