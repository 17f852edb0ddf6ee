package load

import (
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records durations with a relative error under 1 %, in the
// manner of HdrHistogram: log-linear buckets, 128 linear sub-buckets per
// power of two of microseconds, counted without locks. Values from 1 µs to
// about 10 days are kept; larger ones count as the largest bucket.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Int64 // µs
	max    atomic.Int64 // µs
}

const (
	subBits    = 7
	subCount   = 1 << subBits // linear sub-buckets per power of two
	maxShift   = 33           // 128<<33 µs ≈ 12.7 days
	numBuckets = subCount + (maxShift+1)*subCount
)

// bucketOf returns the bucket index of v µs.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - 1 - subBits
	if shift > maxShift {
		return numBuckets - 1
	}
	return subCount + shift*subCount + int(v>>uint(shift)) - subCount
}

// bucketHigh returns the largest value in µs that falls in bucket i.
func bucketHigh(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	shift := (i - subCount) / subCount
	sub := uint64(i-subCount-shift*subCount) + subCount
	return (sub+1)<<uint(shift) - 1
}

// Record adds one duration; negative ones count as 0.
func (h *Histogram) Record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.counts[bucketOf(uint64(us))].Add(1)
	h.n.Add(1)
	h.sum.Add(us)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			break
		}
	}
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Max is the largest recorded value.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

// Mean is the average recorded value.
func (h *Histogram) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load()/int64(n)) * time.Microsecond
}

// Percentile returns the value below or at which p percent (0..100) of the
// recorded values lie, as the highest value of its bucket (never more than
// Max). It reads a consistent picture only once recording has stopped.
func (h *Histogram) Percentile(p float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(p / 100 * float64(n))
	if float64(rank) < p/100*float64(n) {
		rank++ // ceil
	}
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			if i == numBuckets-1 {
				return h.Max()
			}
			v := time.Duration(bucketHigh(i)) * time.Microsecond
			return min(v, h.Max())
		}
	}
	return h.Max()
}

// Merge adds o's values to h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sum.Add(o.sum.Load())
	for {
		m, om := h.max.Load(), o.max.Load()
		if om <= m || h.max.CompareAndSwap(m, om) {
			break
		}
	}
}

// Print writes the usual percentiles on one line each.
func (h *Histogram) Print(w io.Writer) {
	fmt.Fprintf(w, "  count %d  mean %s\n", h.Count(), fmtDur(h.Mean()))
	for _, p := range []float64{50, 90, 99, 99.9} {
		fmt.Fprintf(w, "  p%-5s %s\n", trimFloat(p), fmtDur(h.Percentile(p)))
	}
	fmt.Fprintf(w, "  max    %s\n", fmtDur(h.Max()))
}

func trimFloat(p float64) string { return fmt.Sprintf("%g", p) }

// fmtDur prints a latency with three significant digits in ms.
func fmtDur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f ms", ms)
	}
}

// histJSON is a Histogram on the wire: the non-empty buckets as
// [index, count] pairs, so that processes can merge what they measured.
type histJSON struct {
	Buckets [][2]uint64 `json:"buckets"`
	N       uint64      `json:"n"`
	SumUs   int64       `json:"sumUs"`
	MaxUs   int64       `json:"maxUs"`
}

// MarshalJSON writes the histogram in a form UnmarshalJSON reads back.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	j := histJSON{Buckets: [][2]uint64{}, N: h.n.Load(), SumUs: h.sum.Load(), MaxUs: h.max.Load()}
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			j.Buckets = append(j.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON adds what MarshalJSON wrote to h (an empty h becomes a
// copy).
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	for _, bc := range j.Buckets {
		if bc[0] >= numBuckets {
			return fmt.Errorf("histogram: bucket %d out of range", bc[0])
		}
		h.counts[bc[0]].Add(bc[1])
	}
	h.n.Add(j.N)
	h.sum.Add(j.SumUs)
	for {
		m := h.max.Load()
		if j.MaxUs <= m || h.max.CompareAndSwap(m, j.MaxUs) {
			break
		}
	}
	return nil
}
