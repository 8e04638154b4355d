// Command app is the workload the benchmark harness (go run ./bench) gives to
// every process manager: one small compiled program with a mode per scenario,
// so that what is measured is the manager's cost, not the app's.
//
// Every mode first tells the harness it is up by sending a datagram
// "up <pid> <unix ns>" to the unix socket given with -notify (if any).
//
//	app [-notify sock] idle              wait for SIGINT/SIGTERM, then exit 0
//	app [-notify sock] log N TRIGGER     wait for file TRIGGER, write N lines of 92 bytes to stdout, exit 0
//	app [-notify sock] crash MS          run MS ms, send "exit <pid> <ns>", exit 1
//	app [-notify sock] mem MB [LIMIT]    start a child that holds MB MiB; the child sends "mem <pid> <ns>"
//	                                     when the tree is within 2 MiB of LIMIT MiB (or once it holds MB)
//	app [-notify sock] http ADDR         HTTP server on ADDR (SO_REUSEPORT, or fd 3 with LISTEN_FDS=1);
//	                                     SIGINT/SIGTERM: graceful shutdown
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var notifyConn *net.UnixConn

func notify(kind string) {
	if notifyConn == nil {
		return
	}
	fmt.Fprintf(notifyConn, "%s %d %d", kind, os.Getpid(), time.Now().UnixNano())
}

func main() {
	sock := flag.String("notify", "", "unix datagram socket of the harness")
	flag.Parse()
	if *sock != "" {
		c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: *sock, Net: "unixgram"})
		if err == nil {
			notifyConn = c
		}
	}
	args := flag.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: app [-notify sock] idle|log|crash|mem|http ...")
		os.Exit(2)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	switch args[0] {
	case "idle":
		notify("up")
		<-sigs
		os.Exit(0)
	case "log":
		n, _ := strconv.Atoi(args[1])
		notify("up")
		logLines(n, args[2])
	case "crash":
		ms, _ := strconv.Atoi(args[1])
		notify("up")
		time.Sleep(time.Duration(ms) * time.Millisecond)
		notify("exit")
		os.Exit(1)
	case "mem":
		notify("up")
		cmd := exec.Command("/proc/self/exe", append(os.Args[1:len(os.Args)-len(args)], append([]string{"memchild"}, args[1:]...)...)...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		<-sigs
		cmd.Process.Kill()
		os.Exit(0)
	case "memchild":
		// memchild MB [LIMIT_MB]: touch MB MiB; send "mem" when the process
		// tree (this child and its parent, by RSS) comes within 2 MiB of
		// LIMIT_MB — a manager that acts at once may stop the tree before
		// it crosses — or, without a limit, when all MB are touched.
		mb, _ := strconv.Atoi(args[1])
		limit := int64(-1)
		if len(args) > 2 {
			l, _ := strconv.Atoi(args[2])
			limit = int64(l-2) << 20
		}
		buf := make([]byte, mb<<20)
		sent := false
		for i := 0; i < len(buf); i += 4096 {
			buf[i] = 1
			if !sent && limit > 0 && i%(1<<20) == 0 && rss(os.Getpid())+rss(os.Getppid()) >= limit {
				notify("mem")
				sent = true
			}
		}
		if !sent {
			notify("mem")
		}
		<-sigs
		_ = buf[len(buf)-1]
		os.Exit(0)
	case "http":
		serve(args[1], sigs)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", args[0])
		os.Exit(2)
	}
}

// rss is a process's resident memory in bytes (0 if it cannot be read).
func rss(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(f[1], 10, 64)
	return n * int64(os.Getpagesize())
}

// logLines writes n lines of exactly 92 bytes: "L" + 10-digit sequence + " " +
// 79 'x' + "\n", in 64 KiB writes, once trigger exists.
func logLines(n int, trigger string) {
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(trigger); err == nil {
			break
		}
	}
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	line := []byte("L0000000000 " + strings.Repeat("x", 79) + "\n")
	if len(line) != 92 {
		panic("line is not 92 bytes")
	}
	for i := 0; i < n; i++ {
		v := i
		for j := 10; j >= 1; j-- {
			line[j] = byte('0' + v%10)
			v /= 10
		}
		w.Write(line)
	}
	w.Flush()
	notify("done")
}

func serve(addr string, sigs chan os.Signal) {
	var ln net.Listener
	var err error
	if os.Getenv("LISTEN_FDS") == "1" {
		ln, err = net.FileListener(os.NewFile(3, "listener"))
	} else {
		lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
			var serr error
			c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
			})
			return serr
		}}
		ln, err = lc.Listen(context.Background(), "tcp", addr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pid := strconv.Itoa(os.Getpid())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pid", pid)
		w.Write([]byte("ok\n"))
	})}
	go srv.Serve(ln)
	notify("up")
	<-sigs
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	os.Exit(0)
}

// soReusePort is SO_REUSEPORT on Linux (the syscall package does not name it).
const soReusePort = 0xf
