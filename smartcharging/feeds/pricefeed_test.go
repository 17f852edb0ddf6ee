package feeds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/smartcharging"
)

const oneSlotJSON = `[{"start":"2026-03-01T18:00:00Z","price":%v}]`

func TestPriceSourceHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprintf(w, oneSlotJSON, 0.25)
	})
	mux.HandleFunc("/csv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		// Starts with a letter either way; the header says CSV.
		fmt.Fprint(w, "start;price\n2026-03-01T18:00:00Z;0,3\n")
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, oneSlotJSON, 0.4)
	})
	mux.HandleFunc("/csv-as-json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "2026-03-01T18:00:00Z,0.5\n")
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance until 19:00", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("["))
		w.Write(bytes.Repeat([]byte(" "), MaxPriceBytes))
		w.Write([]byte("]"))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ok := []struct {
		path, format string
		price        float64
	}{
		{"/json", "", 0.25},
		{"/csv", "", 0.3},
		{"/plain", "", 0.4},                  // told by content
		{"/csv-as-json?token=x", "csv", 0.5}, // Format wins
	}
	for _, tc := range ok {
		src := PriceSource{Location: srv.URL + tc.path, Format: tc.format}
		got, err := src.Fetch(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if len(got) != 1 || got[0].Price != tc.price || !got[0].Start.Equal(t0) {
			t.Fatalf("%s: got %v, want one slot at %v for %v", tc.path, got, t0, tc.price)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	bad := []struct {
		ctx  context.Context
		loc  string
		want string
	}{
		{context.Background(), srv.URL + "/down", "HTTP 503 Service Unavailable: maintenance until 19:00"},
		{context.Background(), srv.URL + "/huge", "body over the limit"},
		{context.Background(), srv.URL + "/csv-as-json?apikey=secret", "json:"},
		{context.Background(), srv.URL + "/nothing?apikey=secret", "404"},
		{ctx, srv.URL + "/slow?apikey=secret", "context deadline exceeded"},
		{context.Background(), "ftp://example.invalid/prices", "unsupported scheme"},
		{context.Background(), "", "no location"},
	}
	for _, tc := range bad {
		src := PriceSource{Location: tc.loc}
		_, err := src.Fetch(tc.ctx)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: error %v, want %q", tc.loc, err, tc.want)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Fatalf("%s: error %q shows the query", tc.loc, err)
		}
	}
}

func TestPriceSourceFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jsonFile := write("prices.json", fmt.Sprintf(oneSlotJSON, 0.1))
	csvFile := write("prices.csv", "2026-03-01T18:00:00Z,0.2\n")
	anyFile := write("prices.txt", "2026-03-01T18:00:00Z;0,3\n")
	for _, tc := range []struct {
		loc   string
		price float64
	}{
		{jsonFile, 0.1},
		{"file://" + jsonFile, 0.1},
		{"file://localhost" + csvFile, 0.2},
		{csvFile, 0.2},
		{anyFile, 0.3},
	} {
		src := PriceSource{Location: tc.loc}
		got, err := src.Fetch(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", tc.loc, err)
		}
		if len(got) != 1 || got[0].Price != tc.price {
			t.Fatalf("%s: got %v, want price %v", tc.loc, got, tc.price)
		}
	}

	for _, tc := range []struct{ loc, want string }{
		{filepath.Join(dir, "missing.json"), "no such file"},
		{write("broken.json", `[{"start":"2026-03-01T18:00:00Z","price":"x"}]`), "broken.json: slot 0: price: not a number"},
		{write("big.csv", strings.Repeat("#\n", MaxPriceBytes/2+1)), "over the limit"},
		{"file://elsewhere/etc/prices.json", "another host"},
	} {
		src := PriceSource{Location: tc.loc}
		if _, err := src.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: error %v, want %q", tc.loc, err, tc.want)
		}
	}
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startFeed runs f until the test ends and checks that Run returns.
func startFeed(t *testing.T, f *PriceFeed) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after ctx ended")
		}
	})
}

func TestPriceFeedPicksUpChanges(t *testing.T) {
	var price atomic.Value
	price.Store("0.25")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, oneSlotJSON, price.Load())
	}))
	defer srv.Close()

	applied := make(chan []smartcharging.PriceSlot, 100)
	var logs logBuffer
	f := &PriceFeed{
		Source: PriceSource{Location: srv.URL},
		Every:  50 * time.Millisecond,
		Apply: func(ctx context.Context, slots []smartcharging.PriceSlot) error {
			applied <- slots
			return nil
		},
		Logger: logs.logger(),
	}
	before := time.Now()
	startFeed(t, f)

	wait := func(want float64) {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case slots := <-applied:
				if len(slots) == 1 && slots[0].Price == want {
					return
				}
			case <-timeout:
				t.Fatalf("price %v never applied; log:\n%s", want, logs.String())
			}
		}
	}
	wait(0.25)
	lastOK, lastErr := f.Status()
	if lastErr != nil || lastOK.Before(before) {
		t.Fatalf("Status() = %v, %v; want a success since %v", lastOK, lastErr, before)
	}
	price.Store("0.31")
	wait(0.31)
	if !strings.Contains(logs.String(), "prices updated") {
		t.Errorf("log has no update:\n%s", logs.String())
	}
}

func TestPriceFeedRetries(t *testing.T) {
	var healthy atomic.Bool
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !healthy.Load() {
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, oneSlotJSON, 0.2)
	}))
	defer srv.Close()

	var applyCalls atomic.Int32
	var good atomic.Int32
	var logs logBuffer
	f := &PriceFeed{
		Source: PriceSource{Location: srv.URL},
		// Retries start after Every/4 and double: 100, 200, 400 ms, ...
		// while a success waits a whole Every.
		Every: 400 * time.Millisecond,
		Apply: func(ctx context.Context, slots []smartcharging.PriceSlot) error {
			// The first schedule is refused: that too is retried.
			if applyCalls.Add(1) == 1 {
				return errors.New("store unavailable")
			}
			good.Add(1)
			return nil
		},
		Logger: logs.logger(),
	}
	startFeed(t, f)

	eventually(t, 5*time.Second, "no retry of a failing source", func() bool {
		_, err := f.Status()
		return hits.Load() >= 3 && err != nil
	})
	lastOK, lastErr := f.Status()
	if !lastOK.IsZero() || !strings.Contains(lastErr.Error(), "HTTP 500 Internal Server Error: try later") {
		t.Fatalf("Status() = %v, %v; want no success and the HTTP error", lastOK, lastErr)
	}
	if !strings.Contains(logs.String(), "prices not updated") {
		t.Fatalf("failure not logged:\n%s", logs.String())
	}

	healthy.Store(true)
	eventually(t, 5*time.Second, "the schedule was never applied after the source recovered", func() bool {
		return good.Load() >= 1
	})
	if n := applyCalls.Load(); n < 2 {
		t.Fatalf("Apply called %d times, want the refused schedule retried", n)
	}
	if !strings.Contains(logs.String(), "store unavailable") {
		t.Fatalf("Apply's error not logged:\n%s", logs.String())
	}
	eventually(t, time.Second, "Status keeps an error after a success", func() bool {
		lastOK, lastErr := f.Status()
		return !lastOK.IsZero() && lastErr == nil
	})
}
