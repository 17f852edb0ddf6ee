package feeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wattson-csms/wattson/smartcharging"
)

// FetchTimeout bounds one HTTP fetch of a price schedule.
const FetchTimeout = 30 * time.Second

// PriceSource is where a price schedule is read from.
type PriceSource struct {
	Location string       // http://, https://, file://, or a plain file path
	Format   string       // "json", "csv", "" = by Content-Type or file extension, else by content
	Client   *http.Client // nil = http.DefaultClient, within FetchTimeout
}

// Fetch reads and parses the schedule. Errors name the location, without
// its query (which often holds an API token).
func (s *PriceSource) Fetch(ctx context.Context) ([]smartcharging.PriceSlot, error) {
	loc := strings.TrimSpace(s.Location)
	slots, err := s.fetch(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("prices from %s: %w", redact(loc), err)
	}
	return slots, nil
}

func (s *PriceSource) fetch(ctx context.Context, loc string) ([]smartcharging.PriceSlot, error) {
	var data []byte
	format := s.Format
	var err error
	switch {
	case loc == "":
		return nil, errors.New("no location")
	case hasScheme(loc, "http"), hasScheme(loc, "https"):
		data, format, err = s.get(ctx, loc)
	case hasScheme(loc, "file"):
		u, perr := url.Parse(loc)
		if perr != nil {
			return nil, unwrapURL(perr)
		}
		if u.Host != "" && u.Host != "localhost" {
			return nil, errors.New("file URL on another host")
		}
		data, format, err = readFile(u.Path, format)
	case strings.Contains(loc, "://"):
		return nil, errors.New("unsupported scheme (want http, https, file or a path)")
	default:
		data, format, err = readFile(loc, format)
	}
	if err != nil {
		return nil, err
	}
	return ParsePrices(data, format)
}

func hasScheme(loc, scheme string) bool {
	return len(loc) >= len(scheme)+3 && strings.EqualFold(loc[:len(scheme)+3], scheme+"://")
}

func (s *PriceSource) get(ctx context.Context, loc string) (data []byte, format string, err error) {
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, "", unwrapURL(err)
	}
	req.Header.Set("Accept", "application/json, text/csv;q=0.9, */*;q=0.5")
	req.Header.Set("User-Agent", "wattson")
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", unwrapURL(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		msg := strings.Join(strings.Fields(strings.ToValidUTF8(string(snippet), "?")), " ")
		if msg != "" {
			msg = ": " + clip(msg)
		}
		return nil, "", fmt.Errorf("HTTP %s%s", resp.Status, msg)
	}
	data, err = io.ReadAll(io.LimitReader(resp.Body, MaxPriceBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("reading the body: %w", unwrapURL(err))
	}
	if len(data) > MaxPriceBytes {
		return nil, "", fmt.Errorf("body over the limit of %d bytes", MaxPriceBytes)
	}
	format = s.Format
	if format == "" {
		format = formatOfType(resp.Header.Get("Content-Type"))
	}
	return data, format, nil
}

// formatOfType is the format a Content-Type names, or "" to tell by content.
func formatOfType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	switch {
	case mt == "application/json", mt == "text/json", strings.HasSuffix(mt, "+json"):
		return "json"
	case mt == "text/csv", mt == "application/csv", mt == "text/comma-separated-values":
		return "csv"
	}
	return ""
}

func readFile(path, format string) ([]byte, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxPriceBytes+1))
	if err != nil {
		return nil, "", err
	}
	if len(data) > MaxPriceBytes {
		return nil, "", fmt.Errorf("file over the limit of %d bytes", MaxPriceBytes)
	}
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".json":
			format = "json"
		case ".csv":
			format = "csv"
		}
	}
	return data, format, nil
}

// redact drops a URL's query, fragment and password: they may hold secrets.
func redact(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.Scheme == "" {
		if i := strings.IndexAny(loc, "?#"); i >= 0 {
			return loc[:i] + "?…"
		}
		return loc
	}
	q := u.RawQuery != "" || u.Fragment != ""
	u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = "", "", "", false
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	s := u.String()
	if q {
		s += "?…"
	}
	return s
}

// unwrapURL drops the *url.Error wrapper, whose message repeats the URL
// with its query.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// PriceFeed keeps a price schedule fresh.
type PriceFeed struct {
	Source PriceSource
	Every  time.Duration // between refreshes; default 1 h
	// Apply takes each new schedule; an error counts as a failed refresh.
	Apply  func(ctx context.Context, slots []smartcharging.PriceSlot) error
	Logger *slog.Logger

	mu      sync.Mutex
	lastOK  time.Time
	lastErr error
}

// Status tells when a schedule was last applied and the error of the last
// attempt if it failed (nil once one succeeds).
func (f *PriceFeed) Status() (lastOK time.Time, lastErr error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastOK, f.lastErr
}

// Run fetches and applies the schedule at once and then every Every until
// ctx ends. After a failure it logs and tries again sooner: after a
// quarter of Every but at most a minute, doubling while it fails, up to
// Every. It never gives up.
func (f *PriceFeed) Run(ctx context.Context) {
	every := f.Every
	if every <= 0 {
		every = time.Hour
	}
	minRetry := min(every/4, time.Minute)
	log := f.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("source", redact(f.Source.Location))

	retry := minRetry
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		n, err := f.refresh(ctx)
		if ctx.Err() != nil {
			return
		}
		f.mu.Lock()
		f.lastErr = err
		if err == nil {
			f.lastOK = time.Now()
		}
		f.mu.Unlock()
		if err == nil {
			log.Info("prices updated", "slots", n)
			retry = minRetry
			timer.Reset(every)
			continue
		}
		log.Warn("prices not updated", "err", err, "retry_in", retry)
		timer.Reset(retry)
		retry = min(2*retry, every)
	}
}

func (f *PriceFeed) refresh(ctx context.Context) (int, error) {
	slots, err := f.Source.Fetch(ctx)
	if err != nil {
		return 0, err
	}
	if f.Apply != nil {
		if err := f.Apply(ctx, slots); err != nil {
			return 0, fmt.Errorf("applying prices: %w", err)
		}
	}
	return len(slots), nil
}
