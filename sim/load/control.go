package load

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Command is one line on the control input of Control (JSON). Cmd is
//
//   - "status": the fleet's counters now;
//   - "send": a load phase of Rate msgs/s of Mix for DurationMs (answered
//     when it ends, with its Result; other commands are answered
//     meanwhile);
//   - "cancel": end the sends in progress early (each still answers, with
//     what it measured);
//   - "drop": cut every connection at once; the answer's MarkNs is the
//     time just before;
//   - "boots": for each charger, ns from MarkNs to its first boot at or
//     after it (-1: none yet);
//   - "quit": close every connection and end.
type Command struct {
	ID         int64   `json:"id"`
	Cmd        string  `json:"cmd"`
	Rate       float64 `json:"rate,omitempty"`
	DurationMs int64   `json:"durationMs,omitempty"`
	Mix        string  `json:"mix,omitempty"`
	MarkNs     int64   `json:"markNs,omitempty"`
}

// Reply is one line of Control's output. Event is set on the lines that
// answer no command: "connected" once every charger has connected and
// booted (or given up), "closed" at the end.
type Reply struct {
	ID         int64        `json:"id,omitempty"`
	Event      string       `json:"event,omitempty"`
	Error      string       `json:"error,omitempty"`
	Status     *FleetStatus `json:"status,omitempty"`
	BootTimeNs int64        `json:"bootTimeNs,omitempty"`
	Result     *Result      `json:"result,omitempty"`
	MarkNs     int64        `json:"markNs,omitempty"`
	BootsAfter []int64      `json:"bootsAfterNs,omitempty"`
	TxPending  int          `json:"txPending,omitempty"`
	Errors     []string     `json:"errors,omitempty"`
}

// Control runs a fleet driven by commands, one JSON Command per line on
// in, answered with one JSON Reply per line on out: the form in which an
// orchestrator (internal/cmd/scalebench) drives several load processes at
// once. It ends when in ends, on "quit", or when ctx ends.
func Control(ctx context.Context, cfg Config, in io.Reader, out io.Writer) error {
	cfg.Out = nil
	f, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	var (
		outMu sync.Mutex
		enc   = json.NewEncoder(out)
		wg    sync.WaitGroup

		sendMu     sync.Mutex
		sendCancel []context.CancelFunc
	)
	reply := func(r Reply) {
		outMu.Lock()
		defer outMu.Unlock()
		_ = enc.Encode(r)
	}
	wg.Go(func() {
		f.WaitConnected(ctx)
		if ctx.Err() == nil {
			s := f.Status()
			reply(Reply{Event: "connected", Status: &s, BootTimeNs: f.bootTime.Load(), Errors: f.errors()})
		}
	})
	lines := make(chan []byte)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- append([]byte(nil), sc.Bytes()...):
			case <-f.ctx.Done():
				return
			}
		}
	}()
loop:
	for {
		var line []byte
		select {
		case <-ctx.Done():
			break loop
		case l, ok := <-lines:
			if !ok {
				break loop
			}
			line = l
		}
		var c Command
		if err := json.Unmarshal(line, &c); err != nil {
			reply(Reply{Error: fmt.Sprintf("bad command %q: %v", line, err)})
			continue
		}
		switch c.Cmd {
		case "status":
			s := f.Status()
			reply(Reply{ID: c.ID, Status: &s, TxPending: f.TxPending()})
		case "send":
			mix := DefaultMix
			if c.Mix != "" {
				if mix, err = ParseMix(c.Mix); err != nil {
					reply(Reply{ID: c.ID, Error: err.Error()})
					continue
				}
			}
			if c.Rate <= 0 || c.DurationMs <= 0 {
				reply(Reply{ID: c.ID, Error: "send needs a positive rate and durationMs"})
				continue
			}
			sctx, cancel := context.WithCancel(ctx)
			sendMu.Lock()
			sendCancel = append(sendCancel, cancel)
			sendMu.Unlock()
			wg.Go(func() {
				defer cancel()
				res := f.Send(sctx, c.Rate, time.Duration(c.DurationMs)*time.Millisecond, mix)
				reply(Reply{ID: c.ID, Result: res})
			})
		case "cancel":
			sendMu.Lock()
			for _, cancel := range sendCancel {
				cancel()
			}
			sendCancel = nil
			sendMu.Unlock()
			reply(Reply{ID: c.ID})
		case "drop":
			at := f.Drop()
			reply(Reply{ID: c.ID, MarkNs: at.UnixNano()})
		case "boots":
			ds := f.FirstBootsAfter(time.Unix(0, c.MarkNs))
			ns := make([]int64, len(ds))
			for i, d := range ds {
				ns[i] = int64(d)
			}
			reply(Reply{ID: c.ID, MarkNs: c.MarkNs, BootsAfter: ns, TxPending: f.TxPending()})
		case "quit":
			break loop
		default:
			reply(Reply{ID: c.ID, Error: fmt.Sprintf("unknown command %q", c.Cmd)})
		}
	}
	f.Close()
	wg.Wait()
	s := f.Status()
	reply(Reply{Event: "closed", Status: &s, TxPending: f.TxPending(), Errors: f.errors()})
	return nil
}

func (f *Fleet) errors() []string {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	return append([]string(nil), f.firstErrs...)
}
