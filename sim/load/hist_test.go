package load

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<22; v += 1 + v/300 {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucketOf(%d) = %d < %d: not monotonic", v, i, prev)
		}
		prev = i
		high := bucketHigh(i)
		if high < v {
			t.Fatalf("bucketHigh(%d) = %d < value %d", i, high, v)
		}
		if v >= 128 && float64(high-v) > float64(v)/128 {
			t.Fatalf("value %d: bucket top %d is more than 1/128 away", v, high)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Fatalf("value %d also fits bucket %d", v, i-1)
		}
	}
}

func TestPercentiles(t *testing.T) {
	tests := []struct {
		name   string
		values func(r *rand.Rand) time.Duration
	}{
		{"uniform 0-100ms", func(r *rand.Rand) time.Duration { return time.Duration(r.Int64N(int64(100 * time.Millisecond))) }},
		{"exponential mean 2ms", func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * float64(2*time.Millisecond)) }},
		{"bimodal", func(r *rand.Rand) time.Duration {
			if r.IntN(100) == 0 {
				return 2*time.Second + time.Duration(r.Int64N(int64(time.Second)))
			}
			return 300*time.Microsecond + time.Duration(r.Int64N(int64(time.Millisecond)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var h Histogram
			vals := make([]time.Duration, 100000)
			for i := range vals {
				vals[i] = tt.values(r).Truncate(time.Microsecond)
				h.Record(vals[i])
			}
			slices.Sort(vals)
			for _, p := range []float64{50, 90, 99, 99.9, 100} {
				idx := int(p/100*float64(len(vals))+0.999999) - 1
				want := vals[idx]
				got := h.Percentile(p)
				if got < want || float64(got-want) > float64(want)/100+float64(time.Microsecond) {
					t.Errorf("p%g = %v, exact %v", p, got, want)
				}
			}
			if h.Max() != vals[len(vals)-1] {
				t.Errorf("max %v, want %v", h.Max(), vals[len(vals)-1])
			}
			if h.Count() != uint64(len(vals)) {
				t.Errorf("count %d", h.Count())
			}
		})
	}
}

func TestMerge(t *testing.T) {
	var a, b Histogram
	for i := range 1000 {
		a.Record(time.Duration(i) * time.Millisecond)
		b.Record(time.Duration(i+1000) * time.Millisecond)
	}
	a.Merge(&b)
	if a.Count() != 2000 || a.Max() != 1999*time.Millisecond {
		t.Fatalf("count %d max %v", a.Count(), a.Max())
	}
	if p := a.Percentile(50); p < 999*time.Millisecond || p > 1008*time.Millisecond {
		t.Fatalf("p50 %v", p)
	}
}

func TestHistogramEmptyAndHuge(t *testing.T) {
	var h Histogram
	if h.Percentile(99) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram not zero")
	}
	h.Record(-time.Second)
	h.Record(100 * 24 * time.Hour)
	if h.Percentile(100) != 100*24*time.Hour {
		t.Fatalf("p100 %v", h.Percentile(100))
	}
}
