// Command scalebench measures one Wattson node at the scale the machine
// allows and writes the figures as a Markdown table (docs/performance.md,
// "Scale on one node"):
//
//   - connections: N chargers connected, booted and heartbeating to one
//     `wattson serve` on SQLite, and its resident memory per charger;
//   - throughput: the highest rate of the default message mix that holds
//     p99 under 100 ms with every message answered and stored, on SQLite
//     and on PostgreSQL;
//   - commands: TriggerMessage through the REST API to a connected
//     charger and back, under background load;
//   - reconnect storms: every connection cut at once, and the server
//     killed and started again: time until 99 % and 100 % have booted
//     again, failed reconnects, transaction messages lost;
//   - the same rate search against a bare echo server on the same
//     websocket layer (ocpp.Server), to show what the central system costs.
//
// The load comes from `wattson sim --load --control` processes (each holds
// at most -per-worker connections: one process may open 20,000 files
// here), pinned with taskset to CPU 0 and the server to CPU 1 when the
// machine has two or more. Run from the repository root:
//
//	go run ./internal/cmd/scalebench -out /tmp/scale.md
//
// It builds wattson, uses fresh databases (a SQLite file in a temporary
// directory; a PostgreSQL database it creates and drops, given -pg), and
// stops everything it started.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/sim/load"
)

type options struct {
	chargers, perWorker      int
	rates                    []float64
	step                     time.Duration
	pg                       string
	out                      string
	phases                   map[string]bool
	triggerCalls, triggerPar int
	stormLoad                float64
	echoRates                []float64
	heartbeat                time.Duration
	warmup                   time.Duration
	maxP99                   time.Duration
	keep                     bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "echo-server" {
		if err := echoServer(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "scalebench echo-server:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	fs := flag.NewFlagSet("scalebench", flag.ExitOnError)
	fs.IntVar(&o.chargers, "chargers", 19000, "chargers to connect")
	fs.IntVar(&o.perWorker, "per-worker", 9500, "connections per load process (each process may open at most `ulimit -n` files)")
	rates := fs.String("rates", "500,750,1000,1500,2000,2500,3000,4000,5000,6000", "rates of the mix to try, ascending; the search stops at the first that fails")
	echoRates := fs.String("echo-rates", "2000,4000,6000,8000,10000,12000,15000,20000,25000,30000", "rates to try against the bare echo server")
	fs.DurationVar(&o.heartbeat, "heartbeat-phase", time.Minute, "how long the fleet heartbeats (one Heartbeat a minute each) before the memory is read")
	fs.DurationVar(&o.warmup, "warmup", 20*time.Second, "the mix at the first rate before the rate steps, not measured: the database settles after 19,000 boots (a PostgreSQL checkpoint, SQLite's first checkpoints)")
	fs.DurationVar(&o.maxP99, "max-p99", 100*time.Millisecond, "the p99 latency a rate step must stay under to count as sustained")
	fs.DurationVar(&o.step, "step", 30*time.Second, "duration of each rate step")
	fs.StringVar(&o.pg, "pg", "", "PostgreSQL server URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) for the PostgreSQL run; a database is created and dropped")
	fs.StringVar(&o.out, "out", "", "write the Markdown table here (and always to stdout)")
	phases := fs.String("phases", "connect,rate,trigger,drop,kill,echo", "what to measure")
	fs.IntVar(&o.triggerCalls, "trigger-calls", 2000, "TriggerMessage calls through the API")
	fs.IntVar(&o.triggerPar, "trigger-concurrency", 8, "API clients sending TriggerMessage at once")
	fs.Float64Var(&o.stormLoad, "storm-load", 500, "msgs/s of the mix sent during the storms and the TriggerMessage run (0: none)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (databases, logs)")
	_ = fs.Parse(os.Args[1:])
	var err error
	if o.rates, err = parseRates(*rates); err != nil {
		fatalf("-rates: %v", err)
	}
	if o.echoRates, err = parseRates(*echoRates); err != nil {
		fatalf("-echo-rates: %v", err)
	}
	o.phases = map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		o.phases[strings.TrimSpace(p)] = true
	}
	if err := run(o); err != nil {
		fatalf("%v", err)
	}
}

func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, r := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", r)
		}
		out = append(out, v)
	}
	return out, nil
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "scalebench: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// bench is one run's shared state.
type bench struct {
	o       options
	dir     string
	wattson string
	self    string
	token   string
	rows    []row
	cpuSrv  []string // taskset prefix for servers
	cpuLoad []string // and for load processes
	bestSQL float64  // the SQLite throughput, for the fraction of the echo server's
}

type row struct{ what, figure, how string }

func (b *bench) add(what, figure, how string) {
	logf("RESULT %s: %s (%s)", what, figure, how)
	b.rows = append(b.rows, row{what, figure, how})
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "wattson-scalebench-")
	if err != nil {
		return err
	}
	b := &bench{o: o, dir: dir, token: fmt.Sprintf("scalebench-%d", rand.Uint64())}
	if !o.keep {
		defer os.RemoveAll(dir)
	} else {
		logf("keeping %s", dir)
	}
	b.wattson = filepath.Join(dir, "wattson")
	logf("building wattson")
	build := exec.Command("go", "build", "-o", b.wattson, "./cmd/wattson")
	if build.Dir, err = moduleRoot(); err != nil {
		return err
	}
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	if _, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() >= 2 {
		b.cpuSrv, b.cpuLoad = []string{"taskset", "-c", "1"}, []string{"taskset", "-c", "0"}
	}
	machine := machineInfo()
	logf("machine: %s", machine)

	if o.phases["connect"] || o.phases["rate"] || o.phases["trigger"] || o.phases["drop"] || o.phases["kill"] {
		if err := b.wattsonRun("SQLite", "sqlite:"+filepath.Join(dir, "scale.db"), true); err != nil {
			return err
		}
	}
	if o.pg != "" && o.phases["rate"] {
		dsn, drop, err := freshPostgres(o.pg)
		if err != nil {
			return err
		}
		err = b.wattsonRun("PostgreSQL", dsn, false)
		drop()
		if err != nil {
			return err
		}
	}
	if o.phases["echo"] {
		if err := b.echoRun(); err != nil {
			return err
		}
	}
	table := b.table(machine)
	fmt.Print(table)
	if o.out != "" {
		return os.WriteFile(o.out, []byte(table), 0o644)
	}
	return nil
}

// moduleRoot is the directory of the go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the Go module: run from the repository")
		}
		dir = parent
	}
}

func (b *bench) table(machine string) string {
	var s strings.Builder
	fmt.Fprintf(&s, "Measured %s with `go run ./internal/cmd/scalebench` (chargers %d, %d per load process, rate steps of %s).\n",
		time.Now().UTC().Format("2006-01-02"), b.o.chargers, b.o.perWorker, b.o.step)
	fmt.Fprintf(&s, "Machine: %s.\n\n", machine)
	s.WriteString("| what | figure | how |\n| --- | --- | --- |\n")
	for _, r := range b.rows {
		fmt.Fprintf(&s, "| %s | %s | %s |\n", r.what, r.figure, r.how)
	}
	return s.String()
}

func machineInfo() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	var mem string
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 1 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			mem = fmt.Sprintf(", %.0f GiB", kb/(1<<20))
		}
	}
	var lim syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return fmt.Sprintf("%s, %d CPUs%s, %s, ulimit -n %d", cpu, runtime.NumCPU(), mem, runtime.Version(), lim.Cur)
}

// server is a running wattson serve (or echo server).
type server struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (b *bench) startServer(name string, addr string, args ...string) (*server, error) {
	argv := append(append([]string(nil), b.cpuSrv...), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	logFile, err := os.OpenFile(filepath.Join(b.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, addr: addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logFile.Close(); close(s.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("%s exited at start; see %s", name, logFile.Name())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("%s did not listen on %s", name, addr)
		}
	}
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.kill()
	}
}

// rss is the server process's resident memory in bytes.
func (s *server) rss() uint64 {
	pid := s.cmd.Process.Pid
	// With taskset in front, the server is taskset's exec'd image: the
	// same pid.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpu is the server's CPU time so far.
func (s *server) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ 100
}

func (b *bench) serveArgs(addr, dsn string) []string {
	return []string{b.wattson, "serve", "-listen", addr, "-db", dsn, "-unknown-chargers", "accept",
		"-admin-token", b.token, "-log-level", "warn"}
}

// wattsonRun measures wattson serve on one database.
func (b *bench) wattsonRun(label, dsn string, all bool) error {
	addr, err := freePort()
	if err != nil {
		return err
	}
	srv, err := b.startServer("wattson-"+strings.ToLower(label), addr, b.serveArgs(addr, dsn)...)
	if err != nil {
		return err
	}
	defer func() { srv.stop() }()
	time.Sleep(time.Second)
	base := srv.rss()
	fl, err := b.startFleet("ws://"+addr+"/ocpp/", "SC")
	if err != nil {
		return err
	}
	defer fl.close()
	st := fl.status()
	if st.Online != int64(b.o.chargers) {
		return fmt.Errorf("%s: only %d of %d chargers online after connecting: %v", label, st.Online, b.o.chargers, fl.errors)
	}
	db, err := openDB(dsn)
	if err != nil {
		return err
	}
	defer db.Close()

	if all && b.o.phases["connect"] {
		// Heartbeating: a Heartbeat a minute from every charger, for a
		// minute, then the memory.
		hb := float64(b.o.chargers) / 60
		res := fl.send(hb, b.o.heartbeat, "heartbeat=1")
		time.Sleep(2 * time.Second)
		rss := srv.rss()
		b.add(fmt.Sprintf("connections (%s)", label),
			fmt.Sprintf("**%d** connected and booted in %.1f s (%.0f boots/s), none failed: %d", st.Online, fl.bootTime.Seconds(),
				float64(st.Online)/fl.bootTime.Seconds(), st.Failed),
			"all dial at once (256 handshakes in flight per load process)")
		b.add(fmt.Sprintf("memory per charger (%s)", label),
			fmt.Sprintf("**%.1f KiB** resident (%.0f MiB for %d; %.1f KiB above the idle server's %.0f MiB)",
				float64(rss)/float64(st.Online)/1024, float64(rss)/(1<<20), st.Online, float64(rss-base)/float64(st.Online)/1024, float64(base)/(1<<20)),
			fmt.Sprintf("VmRSS after %s of a Heartbeat a minute from each (%.0f/s, %d answered, p99 %s)", b.o.heartbeat, hb, res.Answered, ms(res.Latency.Percentile(99))))
	}
	if b.o.phases["rate"] {
		if b.o.warmup > 0 && len(b.o.rates) > 0 {
			logf("%s: warming up at %g msgs/s for %s", label, b.o.rates[0], b.o.warmup)
			fl.send(b.o.rates[0], b.o.warmup, "")
		}
		best := 0.0
		var bestRes *load.Result
		var bestCPU float64
		for _, rate := range b.o.rates {
			before := fl.status()
			samples0, err := countSamples(db)
			if err != nil {
				return err
			}
			cpu0, t0 := srv.cpu(), time.Now()
			res := fl.send(rate, b.o.step, "")
			cpu := float64(srv.cpu()-cpu0) / float64(time.Since(t0))
			after := fl.status()
			lost, err := checkStored(db, after.FleetStatus)
			if err != nil {
				return err
			}
			samples1, err := countSamples(db)
			if err != nil {
				return err
			}
			if meters := res.PerKind[load.Meter]; meters != nil && samples1-samples0 != 10*int64(meters.Count()) {
				lost = strings.TrimPrefix(lost+fmt.Sprintf("; %d meter samples stored for %d MeterValues answered (10 each)", samples1-samples0, meters.Count()), "; ")
			}
			p99 := res.Latency.Percentile(99)
			ok := p99 < b.o.maxP99 && res.Answered == res.Sent && res.Skipped == 0 && lost == "" && res.Sent > 0
			logf("%s %.0f msgs/s: sent %d answered %d errors %d timeouts %d skipped %d, %.0f/s, p50 %s p99 %s max %s, server CPU %.2f; stored: %s; dropped %d",
				label, rate, res.Sent, res.Answered, res.Errors, res.Timeouts, res.Skipped, float64(res.Answered)/res.Elapsed.Seconds(),
				ms(res.Latency.Percentile(50)), ms(p99), ms(res.Latency.Max()), cpu, orOK(lost), after.Dropped-before.Dropped)
			if !ok {
				break
			}
			best, bestRes, bestCPU = rate, res, cpu
		}
		if label == "SQLite" {
			b.bestSQL = best
		}
		if bestRes == nil {
			b.add(fmt.Sprintf("throughput (%s)", label), fmt.Sprintf("below %.0f msgs/s", b.o.rates[0]), "no rate step held p99 < "+ms(b.o.maxP99))
		} else {
			b.add(fmt.Sprintf("throughput (%s, %d connected)", label, st.Online),
				fmt.Sprintf("**%.0f msgs/s** sustained: p50 %s, p99 %s, max %s; server CPU %.2f core", best,
					ms(bestRes.Latency.Percentile(50)), ms(bestRes.Latency.Percentile(99)), ms(bestRes.Latency.Max()), bestCPU),
				fmt.Sprintf("highest of %s msgs/s for %s each with p99 < %s, every message answered, a transaction stored for every StartTransaction answered and a stop for every StopTransaction, 10 meter samples for every MeterValues; mix heartbeat=1,status=2,meter=8,tx=1", joinRates(b.o.rates), b.o.step, ms(b.o.maxP99)))
		}
	}
	if !all {
		return nil
	}
	if b.o.phases["trigger"] {
		if err := b.triggers(addr, fl); err != nil {
			return err
		}
	}
	if b.o.phases["drop"] {
		if err := b.storm("all connections cut at once", fl, db, func() (time.Time, error) { return fl.drop(), nil }); err != nil {
			return err
		}
	}
	if b.o.phases["kill"] {
		err := b.storm("server killed (SIGKILL) and started again", fl, db, func() (time.Time, error) {
			at := time.Now()
			srv.kill()
			s2, err := b.startServer("wattson-"+strings.ToLower(label), addr, b.serveArgs(addr, dsn)...)
			if err != nil {
				return at, err
			}
			srv = s2
			logf("server up again %s after the kill", time.Since(at).Round(time.Millisecond))
			return at, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func orOK(s string) string {
	if s == "" {
		return "all"
	}
	return s
}

func joinRates(r []float64) string {
	var s []string
	for _, v := range r {
		s = append(s, strconv.FormatFloat(v, 'f', -1, 64))
	}
	return strings.Join(s, ", ")
}

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.2f s", v/1000)
	case v >= 10:
		return fmt.Sprintf("%.0f ms", v)
	default:
		return fmt.Sprintf("%.1f ms", v)
	}
}

// checkStored compares what the chargers had answered with what the
// database holds: every answered StartTransaction a transaction, every
// answered StopTransaction a stopped one. It returns "" when they match.
func checkStored(db *sql.DB, st load.FleetStatus) (string, error) {
	var txs, stopped int64
	if err := db.QueryRow(`SELECT count(*), count(stopped_at) FROM transactions`).Scan(&txs, &stopped); err != nil {
		return "", fmt.Errorf("counting transactions: %w", err)
	}
	if txs == st.Starts && stopped == st.Stops {
		return "", nil
	}
	return fmt.Sprintf("%d transactions stored (%d stopped) for %d starts and %d stops answered", txs, stopped, st.Starts, st.Stops), nil
}

// countSamples counts the stored meter samples.
func countSamples(db *sql.DB) (int64, error) {
	var n int64
	if err := db.QueryRow(`SELECT count(*) FROM meter_values`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting meter samples: %w", err)
	}
	return n, nil
}

func openDB(dsn string) (*sql.DB, error) {
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		return sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	}
	return sql.Open("pgx", dsn)
}

// freshPostgres creates an empty database on the server at url and
// returns its URL and a function that drops it.
func freshPostgres(url string) (string, func(), error) {
	admin, err := sql.Open("pgx", url)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("wattson_scalebench_%d", time.Now().Unix())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("creating the PostgreSQL database: %w", err)
	}
	dsn := replaceDBName(url, name)
	return dsn, func() {
		if _, err := admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			logf("dropping %s: %v", name, err)
		}
		admin.Close()
	}, nil
}

// replaceDBName swaps the database in a postgres:// URL.
func replaceDBName(url, name string) string {
	q := ""
	if i := strings.IndexByte(url, '?'); i >= 0 {
		url, q = url[:i], url[i:]
	}
	if i := strings.LastIndexByte(url, '/'); i > len("postgres://") {
		url = url[:i]
	}
	return url + "/" + name + q
}

// triggers sends TriggerMessage(Heartbeat) through the API to random
// connected chargers while the mix runs in the background.
func (b *bench) triggers(addr string, fl *fleet) error {
	n, par := b.o.triggerCalls, b.o.triggerPar
	var bg chan *load.Result
	dur := 5 * time.Minute
	if b.o.stormLoad > 0 {
		bg = fl.sendAsync(b.o.stormLoad, dur, "")
	}
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs []string
		wg   sync.WaitGroup
	)
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: par}}
	next := make(chan int)
	t0 := time.Now()
	for range par {
		wg.Go(func() {
			for i := range next {
				id := load.ID("SC", 1+(i*7919)%b.o.chargers)
				req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/chargers/"+id+"/ocpp/TriggerMessage",
					strings.NewReader(`{"requestedMessage":"Heartbeat"}`))
				req.Header.Set("Authorization", "Bearer "+b.token)
				req.Header.Set("Content-Type", "application/json")
				start := time.Now()
				resp, err := client.Do(req)
				d := time.Since(start)
				var body []byte
				if err == nil {
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, err.Error())
				case resp.StatusCode != 200 || !strings.Contains(string(body), "Accepted"):
					errs = append(errs, fmt.Sprintf("%s: %d %s", id, resp.StatusCode, body))
				default:
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	took := time.Since(t0)
	if bg != nil {
		fl.cancelSend()
		<-bg
	}
	slices.Sort(lat)
	if len(lat) == 0 {
		return fmt.Errorf("no TriggerMessage answered: %v", first(errs))
	}
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(math.Ceil(p/100*float64(len(lat))))-1)] }
	b.add(fmt.Sprintf("TriggerMessage API round trip (%d connected)", b.o.chargers),
		fmt.Sprintf("p50 **%s**, p99 **%s**, max %s; %d of %d Accepted, %d failed", ms(pct(50)), ms(pct(99)), ms(lat[len(lat)-1]), len(lat), n, len(errs)),
		fmt.Sprintf("POST /api/v1/chargers/{id}/ocpp/TriggerMessage to random chargers, %d clients at once (%.0f calls/s), with %.0f msgs/s of the mix in the background", par, float64(n)/took.Seconds(), b.o.stormLoad))
	if len(errs) > 0 {
		logf("trigger errors: %v", first(errs))
	}
	return nil
}

func first(s []string) []string { return s[:min(len(s), 3)] }

// storm cuts the fleet off with cut, under background load, and measures
// how long the chargers take to be booted again.
func (b *bench) storm(what string, fl *fleet, db *sql.DB, cut func() (time.Time, error)) error {
	before := fl.status()
	var bg chan *load.Result
	if b.o.stormLoad > 0 {
		bg = fl.sendAsync(b.o.stormLoad, 10*time.Minute, "")
		time.Sleep(3 * time.Second)
	}
	mark, err := cut()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Minute)
	var boots []time.Duration
	for {
		time.Sleep(250 * time.Millisecond)
		boots = fl.bootsAfter(mark)
		missing := 0
		for _, d := range boots {
			if d < 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
	}
	// Let the background load run a little with everyone back, so that
	// transaction messages left unanswered by the cut are sent again.
	time.Sleep(3 * time.Second)
	var res *load.Result
	if bg != nil {
		fl.cancelSend()
		res = <-bg
	}
	waitUntil := time.Now().Add(time.Minute)
	var after status
	for {
		after = fl.status()
		if after.TxPendingNow == 0 || time.Now().After(waitUntil) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	lost, err := checkStored(db, after.FleetStatus)
	if err != nil {
		return err
	}
	var okBoots []time.Duration
	for _, d := range boots {
		if d >= 0 {
			okBoots = append(okBoots, d)
		}
	}
	slices.Sort(okBoots)
	p := func(q float64) string {
		need := int(math.Ceil(q / 100 * float64(len(boots))))
		if need < 1 || len(okBoots) < need {
			return "not reached"
		}
		return fmt.Sprintf("%.1f s", okBoots[need-1].Seconds())
	}
	txNote := "no transaction message lost"
	if lost != "" {
		txNote = "LOST: " + lost
	}
	pendingNote := ""
	if after.TxPendingNow > 0 {
		pendingNote = fmt.Sprintf(", %d still unanswered", after.TxPendingNow)
	}
	bgNote := ""
	if res != nil {
		bgNote = fmt.Sprintf("; background %.0f msgs/s: %d answered, %d errors (calls cut), %d skipped while offline", b.o.stormLoad, res.Answered, res.Errors+res.Timeouts, res.Skipped)
	}
	b.add("reconnect storm: "+what,
		fmt.Sprintf("99 %% booted again in **%s**, 100 %% in **%s** (%d of %d); failed reconnects %d, boots answered Pending %d; %d transaction messages sent again%s, %s",
			p(99), p(100), len(okBoots), len(boots), after.ReconnectErrors-before.ReconnectErrors, after.BootsPending-before.BootsPending,
			after.TxResent-before.TxResent, pendingNote, txNote),
		fmt.Sprintf("clients wait a random 0–1 s, then back off 1 s doubling to 30 s with jitter; times from the cut%s", bgNote))
	return nil
}

// echoRun is the rate search against the bare echo server.
func (b *bench) echoRun() error {
	addr, err := freePort()
	if err != nil {
		return err
	}
	srv, err := b.startServer("echo", addr, b.self, "echo-server", "-listen", addr)
	if err != nil {
		return err
	}
	defer srv.stop()
	fl, err := b.startFleet("ws://"+addr+"/ocpp/", "EC")
	if err != nil {
		return err
	}
	defer fl.close()
	rates := b.o.echoRates
	best := 0.0
	var bestRes *load.Result
	for _, rate := range rates {
		cpu0, t0 := srv.cpu(), time.Now()
		res := fl.send(rate, b.o.step, "")
		cpu := float64(srv.cpu()-cpu0) / float64(time.Since(t0))
		p99 := res.Latency.Percentile(99)
		ach := float64(res.Answered) / res.Elapsed.Seconds()
		logf("echo %.0f msgs/s: sent %d answered %d, %.0f/s, p50 %s p99 %s, server CPU %.2f", rate, res.Sent, res.Answered, ach,
			ms(res.Latency.Percentile(50)), ms(p99), cpu)
		if p99 >= b.o.maxP99 || res.Answered != res.Sent || res.Sent == 0 {
			break
		}
		best, bestRes = rate, res
	}
	if bestRes == nil {
		b.add("bare echo server", fmt.Sprintf("below %.0f msgs/s", rates[0]), "")
		return nil
	}
	b.add(fmt.Sprintf("bare echo server (%d connected)", fl.status().Online),
		fmt.Sprintf("**%.0f msgs/s** with p99 %s", best, ms(bestRes.Latency.Percentile(99))),
		"ocpp.Server answering every CALL with a fixed payload, no validation or storage; same mix, same load processes — the bound here is the load generator's one CPU as much as the server's")
	if b.bestSQL > 0 {
		b.add("Wattson on SQLite as a fraction of the echo server", fmt.Sprintf("**%.0f %%** (%.0f of %.0f msgs/s)", 100*b.bestSQL/best, b.bestSQL, best),
			"the two throughput figures above")
	}
	return nil
}

// echoServer is the bare server: the websocket and OCPP-J framing layer
// of Wattson (ocpp.Server) answering each CALL with a fixed, valid answer.
func echoServer(args []string) error {
	fs := flag.NewFlagSet("echo-server", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:8190", "address")
	_ = fs.Parse(args)
	answers := map[string]ocpp.RawJSON{
		"BootNotification":   ocpp.RawJSON(`{"status":"Accepted","currentTime":"2026-12-03T00:00:00Z","interval":300}`),
		"Heartbeat":          ocpp.RawJSON(`{"currentTime":"2026-12-03T00:00:00Z"}`),
		"StatusNotification": ocpp.RawJSON(`{}`),
		"MeterValues":        ocpp.RawJSON(`{}`),
		"StopTransaction":    ocpp.RawJSON(`{"idTagInfo":{"status":"Accepted"}}`),
	}
	var txMu sync.Mutex
	tx := 0
	srv := &ocpp.Server{Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6", Handler: ocpp.HandlerFunc(func(ctx context.Context, req *ocpp.Request) (ocpp.Payload, error) {
		if req.Action == "StartTransaction" {
			txMu.Lock()
			tx++
			n := tx
			txMu.Unlock()
			return ocpp.RawJSON(`{"transactionId":` + strconv.Itoa(n) + `,"idTagInfo":{"status":"Accepted"}}`), nil
		}
		if a, ok := answers[req.Action]; ok {
			return a, nil
		}
		return nil, ocpp.Errorf(ocpp.NotImplemented, "echo server: %s", req.Action)
	})}}}
	mux := http.NewServeMux()
	mux.Handle("/ocpp/", srv)
	return http.ListenAndServe(*listen, mux)
}

// fleet is the set of load processes.
type fleet struct {
	workers  []*worker
	bootTime time.Duration
	errors   []string
}

type worker struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	mu     sync.Mutex
	nextID int64
	wait   map[int64]chan load.Reply
	events chan load.Reply
	done   chan struct{}
}

type status struct {
	load.FleetStatus
	TxPendingNow int
}

func (b *bench) startFleet(url, prefix string) (*fleet, error) {
	fl := &fleet{}
	n := b.o.chargers
	for k := 0; n > 0; k++ {
		count := min(n, b.o.perWorker)
		n -= count
		// Eight source addresses per process: 127.0.0.2–9, 10–17, …
		lo, hi := 2+8*k, 9+8*k
		args := append(append([]string(nil), b.cpuLoad...), b.wattson, "sim", "--load", "--control", "--csms", url,
			"--chargers", strconv.Itoa(count), "--id-offset", strconv.Itoa(k*b.o.perWorker), "--prefix", prefix,
			"--ramp", "0", "--source-ips", fmt.Sprintf("127.0.0.%d-127.0.0.%d", lo, hi), "--seed", strconv.Itoa(k+1))
		w, err := startWorker(args, filepath.Join(b.dir, fmt.Sprintf("load-%s-%d.log", prefix, k)))
		if err != nil {
			fl.close()
			return nil, err
		}
		fl.workers = append(fl.workers, w)
	}
	logf("connecting %d chargers from %d load processes", b.o.chargers, len(fl.workers))
	for _, w := range fl.workers {
		select {
		case ev := <-w.events:
			if ev.Event != "connected" {
				return nil, fmt.Errorf("load process: %+v", ev)
			}
			fl.bootTime = max(fl.bootTime, time.Duration(ev.BootTimeNs))
			fl.errors = append(fl.errors, ev.Errors...)
		case <-w.done:
			fl.close()
			return nil, errors.New("a load process exited while connecting")
		case <-time.After(10 * time.Minute):
			fl.close()
			return nil, errors.New("connecting took over 10 minutes")
		}
	}
	st := fl.status()
	logf("connected: %+v in %s", st.FleetStatus, fl.bootTime)
	return fl, nil
}

func startWorker(argv []string, logPath string) (*worker, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logFile
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w := &worker{cmd: cmd, in: in, wait: map[int64]chan load.Reply{}, events: make(chan load.Reply, 4), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer logFile.Close()
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var r load.Reply
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				fmt.Fprintf(logFile, "bad reply %q: %v\n", sc.Bytes(), err)
				continue
			}
			if r.Event != "" {
				w.events <- r
				continue
			}
			w.mu.Lock()
			ch := w.wait[r.ID]
			delete(w.wait, r.ID)
			w.mu.Unlock()
			if ch != nil {
				ch <- r
			} else {
				fmt.Fprintf(logFile, "unasked reply %s\n", sc.Bytes())
			}
		}
		_ = cmd.Wait()
	}()
	return w, nil
}

// ask sends a command and returns a channel for its reply.
func (w *worker) ask(c load.Command) chan load.Reply {
	ch := make(chan load.Reply, 1)
	w.mu.Lock()
	w.nextID++
	c.ID = w.nextID
	w.wait[c.ID] = ch
	b, _ := json.Marshal(c)
	_, err := w.in.Write(append(b, '\n'))
	w.mu.Unlock()
	if err != nil {
		ch <- load.Reply{ID: c.ID, Error: err.Error()}
	}
	return ch
}

func (w *worker) call(c load.Command) load.Reply {
	select {
	case r := <-w.ask(c):
		return r
	case <-w.done:
		return load.Reply{Error: "load process exited"}
	}
}

func (fl *fleet) status() status {
	var s status
	for _, w := range fl.workers {
		r := w.call(load.Command{Cmd: "status"})
		if r.Status == nil {
			continue
		}
		x := r.Status
		s.Chargers += x.Chargers
		s.Connected += x.Connected
		s.Online += x.Online
		s.Failed += x.Failed
		s.Dropped += x.Dropped
		s.Boots += x.Boots
		s.Reconnected += x.Reconnected
		s.ReconnectErrors += x.ReconnectErrors
		s.BootsPending += x.BootsPending
		s.TxResent += x.TxResent
		s.Starts += x.Starts
		s.Stops += x.Stops
		s.Triggered += x.Triggered
		s.TxPendingNow += r.TxPending
	}
	return s
}

// send runs the mix at rate, shared equally by the load processes, and
// merges what they measured.
func (fl *fleet) send(rate float64, d time.Duration, mix string) *load.Result {
	return <-fl.sendAsync(rate, d, mix)
}

func (fl *fleet) sendAsync(rate float64, d time.Duration, mix string) chan *load.Result {
	out := make(chan *load.Result, 1)
	var chans []chan load.Reply
	for _, w := range fl.workers {
		chans = append(chans, w.ask(load.Command{Cmd: "send", Rate: rate / float64(len(fl.workers)), DurationMs: d.Milliseconds(), Mix: mix}))
	}
	go func() {
		m := &load.Result{Latency: &load.Histogram{}}
		for i, ch := range chans {
			var r load.Reply
			select {
			case r = <-ch:
			case <-fl.workers[i].done:
				r.Error = "load process exited"
			}
			if r.Result == nil {
				logf("send: %s", r.Error)
				continue
			}
			x := r.Result
			m.Sent += x.Sent
			m.Answered += x.Answered
			m.Errors += x.Errors
			m.Timeouts += x.Timeouts
			m.Skipped += x.Skipped
			m.Elapsed = max(m.Elapsed, x.Elapsed)
			m.Latency.Merge(x.Latency)
			for k := range m.SentKind {
				m.SentKind[k] += x.SentKind[k]
				if x.PerKind[k] != nil {
					if m.PerKind[k] == nil {
						m.PerKind[k] = &load.Histogram{}
					}
					m.PerKind[k].Merge(x.PerKind[k])
				}
			}
			m.FirstErrors = append(m.FirstErrors, x.FirstErrors...)
		}
		if len(m.FirstErrors) > 0 {
			logf("first errors: %v", first(m.FirstErrors))
		}
		out <- m
	}()
	return out
}

// cancelSend ends the sends in progress early.
func (fl *fleet) cancelSend() {
	for _, w := range fl.workers {
		w.call(load.Command{Cmd: "cancel"})
	}
}

func (fl *fleet) drop() time.Time {
	var mark time.Time
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, w := range fl.workers {
		wg.Go(func() {
			r := w.call(load.Command{Cmd: "drop"})
			t := time.Unix(0, r.MarkNs)
			mu.Lock()
			if mark.IsZero() || t.Before(mark) {
				mark = t
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return mark
}

func (fl *fleet) bootsAfter(mark time.Time) []time.Duration {
	var out []time.Duration
	for _, w := range fl.workers {
		r := w.call(load.Command{Cmd: "boots", MarkNs: mark.UnixNano()})
		for _, ns := range r.BootsAfter {
			out = append(out, time.Duration(ns))
		}
	}
	return out
}

func (fl *fleet) close() {
	for _, w := range fl.workers {
		w.ask(load.Command{Cmd: "quit"})
		w.in.Close()
	}
	for _, w := range fl.workers {
		select {
		case <-w.done:
		case <-time.After(time.Minute):
			_ = w.cmd.Process.Kill()
			<-w.done
		}
	}
}
