package sim

import (
	"math"
	"testing"
)

func TestCurveCurrent(t *testing.T) {
	ev := NewEV(60, 0, 16, 3)
	tests := []struct {
		soc, want float64
	}{
		{0, 16}, {0.5, 16}, {0.8, 16},
		{0.9, 8.5}, // halfway from 16 A to 1 A
		{0.99, 1.75},
		{1, 0},
	}
	for _, tt := range tests {
		if got := ev.CurveCurrent(tt.soc); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("CurveCurrent(%v) = %v, want %v", tt.soc, got, tt.want)
		}
	}
	prev := math.Inf(1)
	for soc := 0.0; soc <= 1; soc += 0.001 {
		c := ev.CurveCurrent(soc)
		if c > prev {
			t.Fatalf("curve rises at %v", soc)
		}
		prev = c
	}
}

func TestDraw(t *testing.T) {
	ev := NewEV(60, 0.5, 16, 3)
	tests := []struct {
		name      string
		offered   float64
		contactor bool
		want      float64
	}{
		{"offer above the car's limit", 32, true, 16},
		{"offer below the car's limit", 10, true, 10},
		{"minimum offer", 6, true, 6},
		{"below 6 A", 5.9, true, 0},
		{"paused", 0, true, 0},
		{"contactor open", 32, false, 0},
	}
	for _, tt := range tests {
		if got := ev.Draw(tt.offered, tt.contactor); got != tt.want {
			t.Errorf("%s: Draw = %v, want %v", tt.name, got, tt.want)
		}
	}
	ev.EnergyWh = 0.9 * ev.CapacityWh
	if got := ev.Draw(32, true); math.Abs(got-8.5) > 1e-9 {
		t.Errorf("tapering: Draw = %v, want 8.5", got)
	}
	ev.Charge(1e9)
	if !ev.Full() || ev.Draw(32, true) != 0 || ev.EnergyWh != ev.CapacityWh {
		t.Errorf("full car: %+v draws %v", ev, ev.Draw(32, true))
	}
}

func TestNewEVClamps(t *testing.T) {
	ev := NewEV(50, 1.5, 16, 2)
	if ev.Phases != 3 || ev.SoC() != 1 {
		t.Errorf("%+v", ev)
	}
}
