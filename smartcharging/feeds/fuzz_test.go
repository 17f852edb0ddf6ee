package feeds

import (
	"fmt"
	"math"
	"testing"
)

var formats = []string{"", "json", "csv"}

func FuzzParsePrices(f *testing.F) {
	for _, s := range []string{
		fmt.Sprintf(`{"data":[{"start_timestamp":%d,"end_timestamp":%d,"marketprice":85.5,"unit":"Eur/MWh"}]}`, ms(0), ms(60)),
		`[{"total":0.25,"startsAt":"2026-03-01T19:00:00.000+01:00"},{"total":0.2,"startsAt":"2026-03-01T19:15:00+01:00"}]`,
		`{"prices":[{"start":"2026-03-01T18:00:00Z","end":"2026-03-01T19:00:00Z","price":"0.30"}]}`,
		fmt.Sprintf(`{"slots":[{"from":%d,"to":%d,"value":0.1}]}`, sec(0), sec(15)),
		"start,end,price\n2026-03-01T18:00:00Z,2026-03-01T19:00:00Z,0.25\n",
		"2026-03-01T18:00:00Z;0,25\n2026-03-01T19:00:00Z;0,2\n",
		"time;Price (EUR/MWh)\n2026-03-01 19:00:00+01:00;85,5\n",
		fmt.Sprintf("# c\r\n%d;%d;0,1;\r\n", sec(0), sec(60)),
		"\"start\"\t\"price\"\n\"2026-03-01T18:00:00Z\"\t\"0,3\"\n",
		`[{"start":1e300,"price":1}]`,
		"2026-03-01T18:00:00Z,2026-03-01T20:00:00Z,1\n2026-03-01T19:00:00Z,2026-03-01T21:00:00Z,1\n",
	} {
		for i := range formats {
			f.Add([]byte(s), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		slots, err := ParsePrices(data, formats[int(format)%len(formats)])
		if err != nil {
			if slots != nil {
				t.Fatalf("slots and an error: %v", err)
			}
			return
		}
		checkSchedule(t, slots)
	})
}

func FuzzParseReading(f *testing.F) {
	for _, c := range []struct{ payload, field string }{
		{"1500", ""},
		{`"42"`, ""},
		{`{"grid":{"power_w":-1234.5}}`, "grid.power_w"},
		{`{"phases":[{"p":100},{"p":200}]}`, "phases.1.p"},
		{`{"power":"NaN"}`, "power"},
		{`{"power":1e400}`, "power"},
		{`{"a":{"b":null}}`, "a.b"},
	} {
		f.Add([]byte(c.payload), c.field, false)
		f.Add([]byte(c.payload), c.field, true)
	}
	f.Fuzz(func(t *testing.T, payload []byte, field string, negate bool) {
		w, err := ParseReading(payload, field, negate)
		if err != nil {
			if w != 0 {
				t.Fatalf("%v with an error: %v", w, err)
			}
			return
		}
		if math.IsNaN(w) || math.IsInf(w, 0) || math.Abs(w) > MaxReadingW || math.Signbit(w) && w == 0 {
			t.Fatalf("reading %v", w)
		}
		// negate flips the sign, nothing else.
		if v, err := ParseReading(payload, field, !negate); err != nil || v != -w {
			t.Fatalf("negated: %v, %v; want %v", v, err, -w)
		}
	})
}
