package smartcharging

import (
	"testing"
	"time"
)

func hourly(start time.Time, prices ...float64) []PriceSlot {
	out := make([]PriceSlot, len(prices))
	for i, p := range prices {
		s := start.Add(time.Duration(i) * time.Hour)
		out[i] = PriceSlot{Start: s, End: s.Add(time.Hour), Price: p}
	}
	return out
}

func TestPlanCheapest(t *testing.T) {
	day := time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC)
	//                    18  19  20  21  22  23  00  01  02  03  04  05
	slots := hourly(day, 40, 35, 30, 25, 20, 18, 15, 12, 12, 14, 22, 30)
	at := func(h int) time.Time { return day.Add(time.Duration(h) * time.Hour) }
	tests := []struct {
		name     string
		from     time.Time
		deadline time.Time
		kWh, kW  float64
		starts   []int // hours after 18:00
		enough   bool
	}{
		{"three cheapest hours", at(0), at(12), 30, 11, []int{7, 8, 9}, true},
		{"ties go to the earlier hour", at(0), at(12), 11, 11, []int{7}, true},
		{"deadline cuts the night", at(0), at(7), 22, 11, []int{5, 6}, true},
		{"not enough time", at(0), at(2), 40, 11, []int{0, 1}, false},
		{"started mid-slot counts the rest only", at(7).Add(30 * time.Minute), at(12), 11, 11, []int{7, 8}, true},
		{"nothing needed", at(0), at(12), 0, 11, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, enough := PlanCheapest(slots, tc.from, tc.deadline, tc.kWh, tc.kW)
			if enough != tc.enough {
				t.Errorf("enough = %v", enough)
			}
			if len(plan) != len(tc.starts) {
				t.Fatalf("plan %v, want hours %v", plan, tc.starts)
			}
			for i, h := range tc.starts {
				if want := at(h); !plan[i].Start.Equal(want) && !(i == 0 && plan[i].Start.Equal(tc.from)) {
					t.Errorf("slot %d starts %v, want %v", i, plan[i].Start, want)
				}
			}
		})
	}
	plan, _ := PlanCheapest(slots, at(0), at(12), 30, 11)
	for h, want := range map[int]bool{6: false, 7: true, 8: true, 9: true, 10: false} {
		if got := plan.Contains(at(h).Add(10 * time.Minute)); got != want {
			t.Errorf("Contains(%d:10) = %v", 18+h, got)
		}
	}
	if !plan.Contains(at(7)) || plan.Contains(at(10)) {
		t.Error("slot boundaries: start included, end excluded")
	}
}

func TestPlanBelow(t *testing.T) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	slots := hourly(day, 30, 10, 20, 10, 40)
	plan := PlanBelow(slots, day, time.Time{}, 20)
	if len(plan) != 3 || plan[0].Price != 10 || plan[1].Price != 20 || plan[2].Price != 10 {
		t.Fatalf("%v", plan)
	}
	if plan.Contains(day) || !plan.Contains(day.Add(90*time.Minute)) {
		t.Error("Contains")
	}
}
