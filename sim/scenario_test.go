package sim

import (
	"reflect"
	"testing"
	"time"
)

func sessions(sc Scenario, seed uint64, charger, connector, n int) []Session {
	p := NewPlanner(sc, seed, charger, connector, "TAG")
	var out []Session
	after := t0
	for range n {
		s, ok := p.Next(after)
		if !ok {
			break
		}
		out = append(out, s)
		after = s.Depart
	}
	return out
}

func TestPlannerDeterministic(t *testing.T) {
	for _, sc := range []Scenario{Home, Office, Random} {
		a := sessions(sc, 42, 3, 1, 50)
		b := sessions(sc, 42, 3, 1, 50)
		if len(a) != 50 || !reflect.DeepEqual(a, b) {
			t.Errorf("%s: same seed, different sessions", sc)
		}
		if reflect.DeepEqual(a, sessions(sc, 43, 3, 1, 50)) || reflect.DeepEqual(a, sessions(sc, 42, 4, 1, 50)) ||
			reflect.DeepEqual(a, sessions(sc, 42, 3, 2, 50)) {
			t.Errorf("%s: another seed, charger or connector gives the same sessions", sc)
		}
	}
	if s := sessions(Idle, 1, 1, 1, 5); len(s) != 0 {
		t.Errorf("idle: %v", s)
	}
}

func TestPlannerPatterns(t *testing.T) {
	hour := func(t time.Time) float64 { return float64(t.Hour()) + float64(t.Minute())/60 }
	prev := t0
	for _, s := range sessions(Home, 1, 1, 1, 200) {
		if h := hour(s.Arrive); h < 16 || h > 22.5 {
			t.Errorf("home arrival at %v", s.Arrive)
		}
		if h := hour(s.Depart); h < 5.5 || h > 9 || s.Depart.Sub(s.Arrive) > 18*time.Hour {
			t.Errorf("home departure at %v after arrival %v", s.Depart, s.Arrive)
		}
		if s.Arrive.Before(prev) {
			t.Errorf("session at %v before the previous one ended (%v)", s.Arrive, prev)
		}
		prev = s.Depart
	}
	for _, s := range sessions(Office, 1, 1, 1, 200) {
		if wd := s.Arrive.Weekday(); wd == time.Saturday || wd == time.Sunday {
			t.Errorf("office visit on %v", s.Arrive)
		}
		if h := hour(s.Arrive); h < 7 || h > 10.5 {
			t.Errorf("office arrival at %v", s.Arrive)
		}
		if !s.Depart.After(s.Arrive) || s.Arrive.YearDay() != s.Depart.YearDay() || s.Tag != "TAG" {
			t.Errorf("office session %+v", s)
		}
	}
	for _, s := range sessions(Random, 1, 1, 1, 200) {
		if !s.Depart.After(s.Arrive) || s.EV.SoC < 0.1 || s.EV.SoC > 0.8 {
			t.Errorf("random session %+v", s)
		}
	}
}

func TestFaultPlanner(t *testing.T) {
	list := func(seed uint64, charger int) []Fault {
		p := NewFaultPlanner(seed, charger, 2, 3)
		var out []Fault
		after := t0
		for range 100 {
			f, ok := p.Next(after)
			if !ok {
				t.Fatal("no fault")
			}
			out = append(out, f)
			after = f.At.Add(f.For)
		}
		return out
	}
	a := list(5, 1)
	if !reflect.DeepEqual(a, list(5, 1)) || reflect.DeepEqual(a, list(5, 2)) {
		t.Error("fault plans not deterministic per seed and charger")
	}
	kinds := map[FaultKind]int{}
	for _, f := range a {
		kinds[f.Kind]++
		if f.Kind == FaultConnector && (f.Connector < 1 || f.Connector > 2) {
			t.Errorf("fault on connector %d", f.Connector)
		}
	}
	if len(kinds) != 3 {
		t.Errorf("fault kinds %v", kinds)
	}
	if _, ok := NewFaultPlanner(1, 1, 2, 0).Next(t0); ok {
		t.Error("faults at a rate of 0")
	}
}

func TestParseScenario(t *testing.T) {
	for _, s := range []string{"home", "office", "random", "idle"} {
		if _, err := ParseScenario(s); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseScenario("beach"); err == nil {
		t.Error("beach accepted")
	}
}
