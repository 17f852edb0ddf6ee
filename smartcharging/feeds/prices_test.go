package feeds

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/smartcharging"
)

var t0 = time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC)

// sl is a slot starting min minutes after t0, lasting dur minutes.
func sl(min, dur int, price float64) smartcharging.PriceSlot {
	s := t0.Add(time.Duration(min) * time.Minute)
	return smartcharging.PriceSlot{Start: s, End: s.Add(time.Duration(dur) * time.Minute), Price: price}
}

func ms(min int) int64  { return t0.Add(time.Duration(min) * time.Minute).UnixMilli() }
func sec(min int) int64 { return t0.Add(time.Duration(min) * time.Minute).Unix() }

func TestParsePrices(t *testing.T) {
	tests := []struct {
		name   string
		format string
		in     string
		want   []smartcharging.PriceSlot
	}{
		{"aWATTar", "", fmt.Sprintf(`{"object":"list","data":[
			{"start_timestamp":%d,"end_timestamp":%d,"marketprice":85.5,"unit":"Eur/MWh"},
			{"start_timestamp":%d,"end_timestamp":%d,"marketprice":-3.2,"unit":"Eur/MWh"}],
			"url":"/at/v1/marketdata"}`, ms(0), ms(60), ms(60), ms(120)),
			[]smartcharging.PriceSlot{sl(0, 60, 0.0855), sl(60, 60, -0.0032)}},
		{"Tibber-like, no ends, local offsets", "json", `[
			{"total":0.2512,"energy":0.2,"startsAt":"2026-03-01T19:00:00.000+01:00","level":"NORMAL"},
			{"total":0.2,"startsAt":"2026-03-01T20:00:00.000+01:00"},
			{"total":0.1,"startsAt":"2026-03-01T23:00:00.000+01:00"}]`,
			[]smartcharging.PriceSlot{sl(0, 60, 0.2512), sl(60, 60, 0.2), sl(240, 60, 0.1)}},
		{"prices key, string price and times", "", `{"prices":[{"start":"2026-03-01T18:00:00Z","end":"2026-03-01T19:00:00Z","price":"0.30"}]}`,
			[]smartcharging.PriceSlot{sl(0, 60, 0.3)}},
		{"slots key, Unix seconds, quarter hours", "", fmt.Sprintf(`{"slots":[{"from":%d,"to":%d,"value":0.1},{"from":%d,"to":%d,"value":0.12}]}`,
			sec(0), sec(15), sec(15), sec(30)),
			[]smartcharging.PriceSlot{sl(0, 15, 0.1), sl(15, 15, 0.12)}},
		{"quarter hours without ends", "", fmt.Sprintf(`[{"start":%d,"price":1},{"start":%d,"price":2},{"start":%d,"price":3}]`,
			sec(0), sec(15), sec(30)),
			[]smartcharging.PriceSlot{sl(0, 15, 1), sl(15, 15, 2), sl(30, 15, 3)}},
		{"unsorted in, sorted out", "", `[
			{"start":"2026-03-01T20:00:00Z","price":3},
			{"start":"2026-03-01T18:00:00Z","price":1},
			{"start":"2026-03-01T19:00:00Z","price":2}]`,
			[]smartcharging.PriceSlot{sl(0, 60, 1), sl(60, 60, 2), sl(120, 60, 3)}},
		{"unit beside the array", "", `{"unit":"EUR/MWh","data":[{"start":"2026-03-01T18:00:00Z","price":100}]}`,
			[]smartcharging.PriceSlot{sl(0, 60, 0.1)}},
		{"unit per kWh unchanged", "", `[{"start":"2026-03-01T18:00:00Z","price":25,"unit":"ct/kWh"}]`,
			[]smartcharging.PriceSlot{sl(0, 60, 25)}},
		{"nested list, keys in other case", "", `{"data":{"Prices":[{"StartsAt":"2026-03-01T18:00:00Z","Price":0.5}]}}`,
			[]smartcharging.PriceSlot{sl(0, 60, 0.5)}},
		{"null end is no end", "", `[{"start":"2026-03-01T18:00:00Z","end":null,"price":0.5}]`,
			[]smartcharging.PriceSlot{sl(0, 60, 0.5)}},
		{"Unix millis as string, float seconds", "", fmt.Sprintf(`[{"start":"%d","price":1},{"start":%d.0,"price":2}]`, ms(0), sec(60)),
			[]smartcharging.PriceSlot{sl(0, 60, 1), sl(60, 60, 2)}},
		{"BOM and spaces", "", "\ufeff \n [{\"start\":\"2026-03-01T18:00:00Z\",\"price\":1}]\n",
			[]smartcharging.PriceSlot{sl(0, 60, 1)}},

		{"CSV header, comma", "", "start,end,price\n2026-03-01T18:00:00Z,2026-03-01T19:00:00Z,0.25\n2026-03-01T19:00:00Z,2026-03-01T20:00:00Z,0.2\n",
			[]smartcharging.PriceSlot{sl(0, 60, 0.25), sl(60, 60, 0.2)}},
		{"CSV headerless start;price with decimal comma", "csv", "2026-03-01T18:00:00Z;0,25\n2026-03-01T19:00:00Z;0,2\n",
			[]smartcharging.PriceSlot{sl(0, 60, 0.25), sl(60, 60, 0.2)}},
		{"CSV headerless start,end,price", "", "2026-03-01T18:00:00Z,2026-03-01T18:15:00Z,0.25\n2026-03-01T18:15:00Z,2026-03-01T18:30:00Z,0.3",
			[]smartcharging.PriceSlot{sl(0, 15, 0.25), sl(15, 15, 0.3)}},
		{"CSV unit in the header, thousands dots", "", "time;Price (EUR/MWh)\n2026-03-01 19:00:00+01:00;85,5\n2026-03-01 20:00:00+01:00;1.234,5\n",
			[]smartcharging.PriceSlot{sl(0, 60, 0.0855), sl(60, 60, 1.2345)}},
		{"CSV Unix times, comments, CRLF, blank lines, trailing separators", "", fmt.Sprintf("# day-ahead\r\n%d;%d;0,1;\r\n\r\n%d;%d;0,2;\r\n", sec(0), sec(60), sec(60), sec(120)),
			[]smartcharging.PriceSlot{sl(0, 60, 0.1), sl(60, 60, 0.2)}},
		{"CSV columns in any order, extra ones, unit column", "", "region,marketprice,unit,start_timestamp\nAT,50,EUR/MWh," + fmt.Sprint(ms(0)) + "\nAT,0.06,EUR/kWh," + fmt.Sprint(ms(60)) + "\n",
			[]smartcharging.PriceSlot{sl(0, 60, 0.05), sl(60, 60, 0.06)}},
		{"CSV quoted, tab separated", "", "\"start\"\t\"price\"\n\"2026-03-01T18:00:00Z\"\t\"0,3\"\n",
			[]smartcharging.PriceSlot{sl(0, 60, 0.3)}},
		{"CSV gap: an hour", "", "2026-03-01T18:00:00Z,1\n2026-03-01T21:00:00Z,2\n",
			[]smartcharging.PriceSlot{sl(0, 60, 1), sl(180, 60, 2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePrices([]byte(tc.in), tc.format)
			if err != nil {
				t.Fatalf("ParsePrices: %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d slots %v, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if !g.Start.Equal(w.Start) || !g.End.Equal(w.End) || math.Abs(g.Price-w.Price) > 1e-12 {
					t.Errorf("slot %d = %v–%v %v, want %v–%v %v", i, g.Start, g.End, g.Price, w.Start, w.End, w.Price)
				}
				if g.Start.Location() != time.UTC || g.End.Location() != time.UTC {
					t.Errorf("slot %d not in UTC: %v", i, g.Start)
				}
			}
			checkSchedule(t, got)
		})
	}
}

func TestParsePricesErrors(t *testing.T) {
	many := func(n int, format string) string {
		var b strings.Builder
		if format == "json" {
			b.WriteString("[")
		}
		for i := range n {
			s := t0.Add(time.Duration(i) * time.Hour).Unix()
			if format == "json" {
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{"start":%d,"price":1}`, s)
			} else {
				fmt.Fprintf(&b, "%d,1\n", s)
			}
		}
		if format == "json" {
			b.WriteString("]")
		}
		return b.String()
	}
	tests := []struct {
		name, format, in string
		want             string // in the error
	}{
		{"empty", "", " \n", "empty input"},
		{"no slots", "", `[]`, "no price slots"},
		{"CSV header only", "", "start,price\n", "no price slots"},
		{"unknown format", "xml", `<a/>`, `unknown format "xml"`},
		{"bad JSON", "", `[{"start":`, "json:"},
		{"data after JSON", "", `[] []`, "data after"},
		{"no list", "", `{"foo":[]}`, "no slot array"},
		{"list not an array", "", `{"data":3}`, "got a number"},
		{"not an object", "", `[{"start":"2026-03-01T18:00:00Z","price":1}, 3]`, "slot 1: want an object, got a number"},
		{"price not a number", "", `[{"start":"2026-03-01T18:00:00Z","price":1},{"start":"2026-03-01T19:00:00Z","price":2},
			{"start":"2026-03-01T20:00:00Z","price":3},{"start":"2026-03-01T21:00:00Z","price":"abc"}]`, `slot 3: price: not a number: "abc"`},
		{"price a boolean", "", `[{"start":"2026-03-01T18:00:00Z","value":true}]`, "slot 0: value: want a number, got a boolean"},
		{"no price", "", `[{"start":"2026-03-01T18:00:00Z"}]`, "slot 0: price: missing"},
		{"no start", "", `[{"price":1}]`, "slot 0: start: missing"},
		{"bad time", "", `[{"start":"yesterday","price":1}]`, `slot 0: start: not an RFC 3339 time`},
		{"time without zone", "", `[{"start":"2026-03-01T18:00:00","price":1}]`, `slot 0: start: not an RFC 3339 time`},
		{"negative Unix time", "", `[{"start":-5,"price":1}]`, "slot 0: start: negative Unix time"},
		{"Unix time before 2000", "", `[{"start":1000,"price":1}]`, "slot 0: start: Unix time 1000 is before 2000"},
		{"Unix millis before 2000", "", `[{"start":200000000000,"price":1}]`, "before 2000"},
		{"Unix time too far", "", `[{"start":1e300,"price":1}]`, "out of range"},
		{"end before start", "", `[{"start":"2026-03-01T18:00:00Z","end":"2026-03-01T17:00:00Z","price":1}]`, "slot 0: end 2026-03-01T17:00:00Z is not after start"},
		{"end at start", "", `[{"start":"2026-03-01T18:00:00Z","end":"2026-03-01T18:00:00Z","price":1}]`, "is not after start"},
		{"overlap", "", `[{"start":"2026-03-01T18:00:00Z","end":"2026-03-01T19:00:00Z","price":1},
			{"start":"2026-03-01T18:30:00Z","end":"2026-03-01T19:30:00Z","price":2}]`, "slot 1 (from 2026-03-01T18:30:00Z) overlaps slot 0"},
		{"same start twice", "", `[{"start":"2026-03-01T18:00:00Z","price":1},{"start":"2026-03-01T18:00:00Z","price":2}]`, "overlaps"},
		{"NaN", "csv", "2026-03-01T18:00:00Z,NaN\n", `line 1: price: not finite: "NaN"`},
		{"Inf", "", `[{"start":"2026-03-01T18:00:00Z","price":"-Inf"}]`, `slot 0: price: not finite`},
		{"huge", "", `[{"start":"2026-03-01T18:00:00Z","price":1e999}]`, `slot 0: price: out of range`},
		{"unit not a string", "", `[{"start":"2026-03-01T18:00:00Z","price":1,"unit":5}]`, "slot 0: unit: want a string"},
		{"CSV column count", "", "2026-03-01T18:00:00Z,1\n2026-03-01T19:00:00Z,1,2,3\n", "line 2: want 2 or 3 columns"},
		{"CSV no price column", "", "start,cost\n2026-03-01T18:00:00Z,1\n", "line 1: header: no price column"},
		{"CSV no start column", "", "when,price\n2026-03-01T18:00:00Z,1\n", "line 1: header: no start column"},
		{"CSV neither", "", "hello,world\n", "line 1: not a time, nor a header"},
		{"CSV bad price", "", "start;price\n2026-03-01T18:00:00Z;0,1\n2026-03-01T19:00:00Z;zero\n", `line 3: price: not a number: "zero"`},
		{"CSV decimal comma with comma separator", "", "2026-03-01T18:00:00Z,0,25\n", "line 1: end: Unix time 0 is before 2000"},
		{"CSV missing price", "", "start,end,price\n2026-03-01T18:00:00Z,,\n", "line 2: price: missing"},
		{"CSV bad end", "", "start,end,price\n2026-03-01T18:00:00Z,soon,1\n", "line 2: end: not an RFC 3339"},
		{"CSV bad quotes", "", "start,price\n\"2026-03-01T18:00:00Z,1\n", "csv:"},
		{"CSV overlap", "", "2026-03-01T18:00:00Z,2026-03-01T20:00:00Z,1\n2026-03-01T19:00:00Z,2026-03-01T21:00:00Z,1\n", "line 2 (from 2026-03-01T19:00:00Z) overlaps line 1"},
		{"too many JSON slots", "", many(MaxPriceSlots+1, "json"), "10001 slots, over the limit of 10000"},
		{"too many CSV slots", "", many(MaxPriceSlots+1, "csv"), "more than 10000 slots"},
		{"too large", "", "[" + strings.Repeat(" ", MaxPriceBytes) + "]", "over the limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePrices([]byte(tc.in), tc.format)
			if err == nil {
				t.Fatalf("no error; got %v", got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
	// The limit itself is fine.
	if got, err := ParsePrices([]byte(many(MaxPriceSlots, "json")), ""); err != nil || len(got) != MaxPriceSlots {
		t.Fatalf("%d slots: %d, %v", MaxPriceSlots, len(got), err)
	}
	if got, err := ParsePrices([]byte(many(MaxPriceSlots, "csv")), ""); err != nil || len(got) != MaxPriceSlots {
		t.Fatalf("%d CSV slots: %d, %v", MaxPriceSlots, len(got), err)
	}
}

// checkSchedule checks what every parsed schedule promises.
func checkSchedule(t testing.TB, slots []smartcharging.PriceSlot) {
	t.Helper()
	if len(slots) == 0 || len(slots) > MaxPriceSlots {
		t.Fatalf("%d slots", len(slots))
	}
	for i, s := range slots {
		if !s.End.After(s.Start) {
			t.Fatalf("slot %d: end %v not after start %v", i, s.End, s.Start)
		}
		if math.IsNaN(s.Price) || math.IsInf(s.Price, 0) {
			t.Fatalf("slot %d: price %v", i, s.Price)
		}
		if s.Start.Location() != time.UTC || s.End.Location() != time.UTC {
			t.Fatalf("slot %d: not UTC", i)
		}
		if i > 0 && s.Start.Before(slots[i-1].End) {
			t.Fatalf("slot %d starts %v before slot %d ends %v", i, s.Start, i-1, slots[i-1].End)
		}
	}
}
