package feeds

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/smartcharging"
)

// Limits on a price schedule.
const (
	MaxPriceBytes = 4 << 20 // input size
	MaxPriceSlots = 10000   // slots in one schedule
)

// Field names a schedule may use, case-insensitive, the first present wins.
var (
	startNames = []string{"start", "startsAt", "from", "start_timestamp", "start_time", "startTime", "time", "timestamp", "begin"}
	endNames   = []string{"end", "endsAt", "to", "end_timestamp", "end_time", "endTime"}
	priceNames = []string{"price", "value", "total", "marketprice", "market_price"}
	unitNames  = []string{"unit"}
	listNames  = []string{"prices", "data", "slots"}
)

// Unix times from 2000-01-01 to 9999-12-31T23:59:59Z, the last second
// RFC 3339 can write.
const minUnix, maxUnix = 946684800, 253402300799

// rawSlot is a slot as read, before ends are filled in and checked.
type rawSlot struct {
	start, end time.Time
	hasEnd     bool
	price      float64
	where      string // "slot 3", "line 4": for errors
}

// ParsePrices parses a price schedule. format is "json", "csv" or "" to
// tell by the first byte that is not a space: '[' or '{' is JSON.
//
// JSON is an array of objects, or an object holding that array under
// "prices", "data" or "slots". Each object has its start under start,
// startsAt, from or start_timestamp, optionally its end under end, endsAt,
// to or end_timestamp, and its price under price, value, total or
// marketprice. Times are RFC 3339 strings or Unix seconds or milliseconds
// (numbers or numeric strings; from 1e11 up they are milliseconds; from
// 2000 on). A
// "unit" naming MWh, in the object or beside the array, divides the price
// by 1000: aWATTar's {"data":[{"start_timestamp":ms, "end_timestamp":ms,
// "marketprice":x, "unit":"Eur/MWh"}]} reads as is.
//
// CSV has columns start[,end],price, or a header row naming them with the
// same names (and optionally a unit column, or a unit in the price
// header: "price (EUR/MWh)"); other columns are ignored. The separator is
// a comma, a semicolon or a tab; with the latter two a decimal comma is
// fine. Lines starting with # are comments.
//
// A slot without an end ends where the next one starts if that is within
// an hour, else after an hour (after a quarter hour if it ends a run of
// quarter hours). The result is sorted by start, in UTC,
// without overlaps and with finite prices; an empty schedule is an error.
// Errors name the slot (JSON: its index) or line (CSV) and the field.
func ParsePrices(data []byte, format string) ([]smartcharging.PriceSlot, error) {
	if len(data) > MaxPriceBytes {
		return nil, fmt.Errorf("%d bytes, over the limit of %d", len(data), MaxPriceBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM, as spreadsheets write it
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("empty input")
	}
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "":
		if trimmed[0] == '[' || trimmed[0] == '{' {
			format = "json"
		} else {
			format = "csv"
		}
	case "json":
		format = "json"
	case "csv":
		format = "csv"
	default:
		return nil, fmt.Errorf("unknown format %q (want json or csv)", format)
	}
	var raw []rawSlot
	var err error
	if format == "json" {
		raw, err = parseJSONPrices(trimmed)
	} else {
		raw, err = parseCSVPrices(data)
	}
	if err != nil {
		return nil, err
	}
	return finishSlots(raw)
}

// finishSlots sorts, fills in missing ends and checks the schedule.
func finishSlots(raw []rawSlot) ([]smartcharging.PriceSlot, error) {
	if len(raw) == 0 {
		return nil, errors.New("no price slots")
	}
	if len(raw) > MaxPriceSlots {
		return nil, fmt.Errorf("%d slots, over the limit of %d", len(raw), MaxPriceSlots)
	}
	sort.SliceStable(raw, func(i, j int) bool { return raw[i].start.Before(raw[j].start) })
	out := make([]smartcharging.PriceSlot, len(raw))
	for i := range raw {
		r := &raw[i]
		if !r.hasEnd {
			r.end = r.start.Add(slotLength(raw, i))
		}
		if !r.end.After(r.start) {
			return nil, fmt.Errorf("%s: end %s is not after start %s", r.where, stamp(r.end), stamp(r.start))
		}
		if i > 0 && r.start.Before(raw[i-1].end) {
			p := raw[i-1]
			return nil, fmt.Errorf("%s (from %s) overlaps %s (%s to %s)", r.where, stamp(r.start), p.where, stamp(p.start), stamp(p.end))
		}
		out[i] = smartcharging.PriceSlot{Start: r.start.UTC(), End: r.end.UTC(), Price: r.price}
	}
	return out, nil
}

// slotLength is how long raw[i], which has no end, lasts: until the next
// slot if that starts within the hour, else as long as the slot before if
// that ends where this one starts (the last of a run of quarter hours is a
// quarter hour too), else an hour.
func slotLength(raw []rawSlot, i int) time.Duration {
	start := raw[i].start
	if i+1 < len(raw) {
		if d := raw[i+1].start.Sub(start); d > 0 && d <= time.Hour {
			return d
		}
	}
	if i > 0 && raw[i-1].end.Equal(start) {
		if d := start.Sub(raw[i-1].start); d > 0 && d < time.Hour {
			return d
		}
	}
	return time.Hour
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ---- JSON ----

func parseJSONPrices(data []byte) ([]rawSlot, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("json: data after the schedule")
	}
	list, unit, err := findList(doc, 0)
	if err != nil {
		return nil, err
	}
	if len(list) > MaxPriceSlots {
		return nil, fmt.Errorf("%d slots, over the limit of %d", len(list), MaxPriceSlots)
	}
	raw := make([]rawSlot, 0, len(list))
	for i, v := range list {
		where := "slot " + strconv.Itoa(i)
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: want an object, got %s", where, jsonKind(v))
		}
		r := rawSlot{where: where}
		sv, sk, ok := lookup(obj, startNames)
		if !ok {
			return nil, fmt.Errorf("%s: start: missing (want one of %s)", where, strings.Join(startNames[:4], ", "))
		}
		if r.start, err = jsonTime(sv); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", where, sk, err)
		}
		if ev, ek, ok := lookup(obj, endNames); ok && ev != nil {
			if r.end, err = jsonTime(ev); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", where, ek, err)
			}
			r.hasEnd = true
		}
		pv, pk, ok := lookup(obj, priceNames)
		if !ok {
			return nil, fmt.Errorf("%s: price: missing (want one of %s)", where, strings.Join(priceNames[:4], ", "))
		}
		if r.price, err = jsonNumber(pv); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", where, pk, err)
		}
		u := unit
		if uv, _, ok := lookup(obj, unitNames); ok {
			s, ok := uv.(string)
			if !ok {
				return nil, fmt.Errorf("%s: unit: want a string, got %s", where, jsonKind(uv))
			}
			u = s
		}
		r.price = perKWh(r.price, u)
		raw = append(raw, r)
	}
	return raw, nil
}

// findList finds the slot array: doc itself, or under one of listNames,
// a few objects deep. unit is a "unit" given beside the array.
func findList(doc any, depth int) (list []any, unit string, err error) {
	switch d := doc.(type) {
	case []any:
		return d, "", nil
	case map[string]any:
		if depth < 3 {
			if v, _, ok := lookup(d, listNames); ok {
				list, unit, err = findList(v, depth+1)
				if err == nil && unit == "" {
					if u, _, ok := lookup(d, unitNames); ok {
						unit, _ = u.(string)
					}
				}
				return list, unit, err
			}
		}
		return nil, "", fmt.Errorf("json: no slot array (want an array, or an object with it under %s)", strings.Join(listNames, ", "))
	default:
		return nil, "", fmt.Errorf("json: want an array or an object, got %s", jsonKind(doc))
	}
}

// lookup finds the first of names in obj: an exact key first, then one
// that differs in case (the first in sorted order, so it is deterministic).
func lookup(obj map[string]any, names []string) (v any, key string, ok bool) {
	for _, n := range names {
		if v, ok := obj[n]; ok {
			return v, n, true
		}
	}
	var keys []string
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, n := range names {
		for _, k := range keys {
			if strings.EqualFold(k, n) {
				return obj[k], k, true
			}
		}
	}
	return nil, "", false
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func jsonTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case json.Number:
		return unixTime(string(x))
	case string:
		return parseTime(x)
	}
	return time.Time{}, fmt.Errorf("want a time, got %s", jsonKind(v))
}

func jsonNumber(v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		return parseNumber(string(x), false)
	case string:
		return parseNumber(x, false)
	}
	return 0, fmt.Errorf("want a number, got %s", jsonKind(v))
}

// ---- CSV ----

func parseCSVPrices(data []byte) ([]rawSlot, error) {
	sep := csvSeparator(data)
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = sep
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	decimalComma := sep != ','

	start, end, price, unit := 0, -1, -1, -1 // columns; price -1 until known
	header, first := false, true
	var headerUnit string
	var raw []rawSlot
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		where := "line " + strconv.Itoa(line)
		for len(rec) > 0 && strings.TrimSpace(rec[len(rec)-1]) == "" {
			rec = rec[:len(rec)-1] // a trailing separator
		}
		if len(rec) == 0 {
			continue
		}
		if first {
			first = false
			if _, err := parseTime(rec[0]); err != nil {
				if _, nerr := parseNumber(rec[0], false); nerr != nil {
					// Not a time: a header.
					header = true
					if start, end, price, unit, headerUnit, err = csvHeader(rec); err != nil {
						return nil, fmt.Errorf("%s: %w", where, err)
					}
					continue
				}
			}
		}
		if len(raw) == MaxPriceSlots {
			return nil, fmt.Errorf("more than %d slots", MaxPriceSlots)
		}
		if !header {
			switch len(rec) {
			case 2:
				end, price = -1, 1
			case 3:
				end, price = 1, 2
			default:
				return nil, fmt.Errorf("%s: want 2 or 3 columns (start[,end],price) or a header row, got %d", where, len(rec))
			}
		}
		cell := func(col int) (string, bool) {
			if col < 0 || col >= len(rec) {
				return "", false
			}
			s := strings.TrimSpace(rec[col])
			return s, s != ""
		}
		r := rawSlot{where: where}
		s, ok := cell(start)
		if !ok {
			return nil, fmt.Errorf("%s: start: missing", where)
		}
		if r.start, err = parseTime(s); err != nil {
			return nil, fmt.Errorf("%s: start: %w", where, err)
		}
		if s, ok := cell(end); ok {
			if r.end, err = parseTime(s); err != nil {
				return nil, fmt.Errorf("%s: end: %w", where, err)
			}
			r.hasEnd = true
		}
		if s, ok = cell(price); !ok {
			return nil, fmt.Errorf("%s: price: missing", where)
		}
		if r.price, err = parseNumber(s, decimalComma); err != nil {
			return nil, fmt.Errorf("%s: price: %w", where, err)
		}
		u := headerUnit
		if s, ok := cell(unit); ok {
			u = s
		}
		r.price = perKWh(r.price, u)
		raw = append(raw, r)
	}
	return raw, nil
}

// csvSeparator is ';' or a tab if the first line that is not a comment has
// one, else ','.
func csvSeparator(data []byte) rune {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		switch {
		case bytes.IndexByte(line, ';') >= 0:
			return ';'
		case bytes.IndexByte(line, '\t') >= 0:
			return '\t'
		}
		return ','
	}
	return ','
}

// csvHeader finds the columns a header row names. A name may carry its
// unit in brackets: "price (EUR/MWh)".
func csvHeader(rec []string) (start, end, price, unit int, priceUnit string, err error) {
	names := make([]string, len(rec))
	units := make([]string, len(rec))
	for i, h := range rec {
		h = strings.TrimSpace(h)
		if j := strings.IndexAny(h, "(["); j >= 0 {
			units[i] = strings.Trim(h[j:], "()[] ")
			h = strings.TrimSpace(h[:j])
		}
		names[i] = h
	}
	find := func(aliases []string) int {
		for _, a := range aliases {
			for i, n := range names {
				if strings.EqualFold(n, a) {
					return i
				}
			}
		}
		return -1
	}
	start, end, price, unit = find(startNames), find(endNames), find(priceNames), find(unitNames)
	switch {
	case start < 0 && price < 0:
		return 0, 0, 0, 0, "", fmt.Errorf("not a time, nor a header naming start and price columns: %q", clip(rec[0]))
	case start < 0:
		return 0, 0, 0, 0, "", fmt.Errorf("header: no start column (want one of %s)", strings.Join(startNames[:4], ", "))
	case price < 0:
		return 0, 0, 0, 0, "", fmt.Errorf("header: no price column (want one of %s)", strings.Join(priceNames[:4], ", "))
	}
	return start, end, price, unit, units[price], nil
}

// ---- values ----

// parseTime reads an RFC 3339 time (a space instead of the T is fine) or
// a Unix time in seconds or milliseconds.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty input")
	}
	if c := s[0]; c >= '0' && c <= '9' && len(s) <= 20 && !strings.ContainsAny(s, "-:") {
		return unixTime(s)
	}
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("not an RFC 3339 time (with a zone) or Unix time: %q", clip(s))
	}
	return t, nil
}

// unixTime reads Unix seconds, or milliseconds from 1e11 on (1e11 s is
// the year 5138, 1e11 ms is 1973). Times before 2000 are mistakes: a
// price in the time column, say.
func unixTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case n < 0:
			return time.Time{}, fmt.Errorf("negative Unix time %d", n)
		case n < minUnix:
			return time.Time{}, fmt.Errorf("Unix time %d is before 2000", n)
		case n < 1e11:
			return time.Unix(n, 0).UTC(), nil
		case n < minUnix*1000:
			return time.Time{}, fmt.Errorf("Unix time %d ms is before 2000", n)
		case n <= maxUnix*1000+999:
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Time{}, fmt.Errorf("Unix time %d out of range", n)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, fmt.Errorf("not a Unix time: %q", clip(s))
	}
	if f < 0 {
		return time.Time{}, fmt.Errorf("negative Unix time %v", f)
	}
	if f >= 1e11 {
		f /= 1000
	}
	if f < minUnix {
		return time.Time{}, fmt.Errorf("Unix time %s is before 2000", clip(s))
	}
	if f > maxUnix {
		return time.Time{}, fmt.Errorf("Unix time %s out of range", clip(s))
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64(math.Round((f-sec)*1e9))).UTC(), nil
}

// parseNumber reads a finite number; decimalComma also takes "0,25" and
// "1.234,5".
func parseNumber(s string, decimalComma bool) (float64, error) {
	s = strings.TrimSpace(s)
	if decimalComma && strings.Count(s, ",") == 1 && strings.LastIndexByte(s, '.') < strings.IndexByte(s, ',') {
		// "0,25", and "1.234,5" with dots between thousands.
		s = strings.Replace(strings.ReplaceAll(s, ".", ""), ",", ".", 1)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("out of range: %q", clip(s))
		}
		return 0, fmt.Errorf("not a number: %q", clip(s))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("not finite: %q", clip(s))
	}
	return f, nil
}

// perKWh converts a price in unit to per kWh: only per MWh needs it.
func perKWh(price float64, unit string) float64 {
	if strings.Contains(strings.ToLower(unit), "mwh") {
		return price / 1000
	}
	return price
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
