// Command memconn measures the memory an idle OCPP connection costs a
// server: it serves on loopback, starts a child process that opens N
// websocket connections (each sends one Heartbeat CALL and then stays
// silent), and reports the server's resident memory, Go heap and goroutine
// stacks per connection once all are idle.
//
//	go run ./internal/cmd/memconn -n 10000                 # Wattson's ocpp.Server
//	go run ./internal/cmd/memconn -n 10000 -server coder   # bare github.com/coder/websocket, for comparison
//
// Both processes stay under the 20,000 open files of one process here.
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
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wattson-csms/wattson/ocpp"
)

func main() {
	n := flag.Int("n", 10000, "connections")
	server := flag.String("server", "wattson", "server under test: wattson or coder")
	client := flag.String("client", "", "internal: run as the client fleet against this URL")
	flag.Parse()
	if *client != "" {
		conns, err := runClients(*client, *n)
		if err != nil {
			fmt.Fprintln(os.Stderr, "clients:", err)
			os.Exit(1)
		}
		fmt.Println("ready")
		holdForever(conns)
	}
	if err := runServer(*server, *n); err != nil {
		fmt.Fprintln(os.Stderr, "memconn:", err)
		os.Exit(1)
	}
}

type sample struct {
	rss, heap, stack, sys uint64
	goroutines            int
}

func measure() sample {
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return sample{rss: rss(), heap: ms.HeapInuse, stack: ms.StackInuse, sys: ms.Sys, goroutines: runtime.NumGoroutine()}
}

// rss reads VmRSS from /proc/self/status, in bytes.
func rss() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func runServer(kind string, n int) error {
	var open atomic.Int64
	var h http.Handler
	switch kind {
	case "wattson":
		srv := &ocpp.Server{
			Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6", Handler: ocpp.HandlerFunc(func(ctx context.Context, req *ocpp.Request) (ocpp.Payload, error) {
				return ocpp.RawJSON(`{"currentTime":"2026-11-22T00:00:00Z"}`), nil
			})}},
			OnConnect: func(*ocpp.Conn) { open.Add(1) },
		}
		mux := http.NewServeMux()
		mux.Handle("/ocpp/", srv)
		h = mux
	case "coder":
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"ocpp1.6"}})
			if err != nil {
				return
			}
			open.Add(1)
			ctx := context.Background()
			for {
				_, msg, err := c.Read(ctx)
				if err != nil {
					return
				}
				var id string
				if parts := strings.SplitN(string(msg), `"`, 3); len(parts) == 3 {
					id = parts[1]
				}
				if err := c.Write(ctx, websocket.MessageText, []byte(`[3,"`+id+`",{"currentTime":"2026-11-22T00:00:00Z"}]`)); err != nil {
					return
				}
			}
		})
	default:
		return fmt.Errorf("unknown -server %q", kind)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(ln) }()

	before := measure()
	url := "ws://" + ln.Addr().String() + "/ocpp/"
	cmd := exec.Command(os.Args[0], "-client", url, "-n", strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// The client prints "ready" once every connection got its answer.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		return fmt.Errorf("client fleet failed: %q %v", line, err)
	}
	if got := open.Load(); got != int64(n) {
		return fmt.Errorf("%d connections open, want %d", got, n)
	}
	time.Sleep(2 * time.Second) // idle: let handler goroutines end and stacks settle
	after := measure()

	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) / 1024 }
	fmt.Printf("server %s, %d idle connections, %s %s/%s, GOMAXPROCS=%d\n", kind, n, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
	fmt.Printf("%-28s %10s %10s %12s\n", "", "before", "after", "per conn")
	fmt.Printf("%-28s %8.1f MiB %8.1f MiB %9.2f KiB\n", "resident set (VmRSS)", mib(before.rss), mib(after.rss), per(after.rss, before.rss))
	fmt.Printf("%-28s %8.1f MiB %8.1f MiB %9.2f KiB\n", "Go heap in use", mib(before.heap), mib(after.heap), per(after.heap, before.heap))
	fmt.Printf("%-28s %8.1f MiB %8.1f MiB %9.2f KiB\n", "goroutine stacks", mib(before.stack), mib(after.stack), per(after.stack, before.stack))
	fmt.Printf("%-28s %8.1f MiB %8.1f MiB %9.2f KiB\n", "Go runtime total (Sys)", mib(before.sys), mib(after.sys), per(after.sys, before.sys))
	fmt.Printf("%-28s %10d %10d %12.2f\n", "goroutines", before.goroutines, after.goroutines, float64(after.goroutines-before.goroutines)/float64(n))
	return nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// runClients opens n connections, sends one Heartbeat on each and waits for
// every answer; the caller then holds the connections silently.
func runClients(url string, n int) ([]net.Conn, error) {
	conns := make([]net.Conn, 0, n)
	var mu sync.Mutex
	sem := make(chan struct{}, 200)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			nc, _, _, err := ws.Dialer{Protocols: []string{"ocpp1.6"}}.Dial(ctx, fmt.Sprintf("%sCP%06d", url, i))
			if err == nil {
				err = wsutil.WriteClientText(nc, []byte(`[2,"1","Heartbeat",{}]`))
			}
			if err == nil {
				_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, err = wsutil.ReadServerText(nc)
				_ = nc.SetReadDeadline(time.Time{})
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	return conns, nil
}

// holdForever keeps the connections open (and referenced) until the parent
// kills the process.
func holdForever(conns []net.Conn) {
	select {}
}
