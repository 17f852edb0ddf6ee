package chargepoint

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// qItem is a transaction-related message waiting to be delivered:
// StartTransaction, StopTransaction or MeterValues.
type qItem struct {
	Seq     uint64          `json:"seq"`
	Action  string          `json:"action"`
	Tx      int             `json:"tx"` // transaction it refers to: a provisional (negative) or real id
	Payload json.RawMessage `json:"payload"`

	attempts  int       // CALLERRORs so far (not persisted)
	notBefore time.Time // retry wait after a CALLERROR
}

// txQueue is the offline queue: a FIFO of transaction messages, kept in an
// append-only log when it has a file. Each record is one JSON line, written
// and fsynced before the append returns: {"add":item} or {"done":seq}.
// Opening replays the log, drops a torn last line (a crash while writing)
// and rewrites the log with only what is still queued, so the file stays
// small. When the queue empties the log is truncated.
//
// Its methods are called with the charge point's lock held.
type txQueue struct {
	path  string // "" keeps the queue in memory only
	items []*qItem
	seq   uint64
	size  int64 // bytes in the log
}

type qRecord struct {
	Add  *qItem `json:"add,omitempty"`
	Done uint64 `json:"done,omitempty"`
}

// compactSize is the log size above which a done record triggers a rewrite.
const compactSize = 1 << 20

func openQueue(path string) (*txQueue, error) {
	q := &txQueue{path: path}
	if path == "" {
		return q, nil
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("chargepoint: reading the queue: %w", err)
	}
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r qRecord
		if err := json.Unmarshal(line, &r); err != nil {
			// Only the last line can be torn; anything unreadable is
			// skipped rather than losing the rest.
			continue
		}
		switch {
		case r.Add != nil:
			q.items = append(q.items, r.Add)
			q.seq = max(q.seq, r.Add.Seq)
		case r.Done != 0:
			for i, it := range q.items {
				if it.Seq == r.Done {
					q.items = append(q.items[:i], q.items[i+1:]...)
					break
				}
			}
		}
	}
	if err := q.rewrite(); err != nil {
		return nil, err
	}
	return q, nil
}

// rewrite replaces the log with the items still queued.
func (q *txQueue) rewrite() error {
	if q.path == "" {
		return nil
	}
	var buf bytes.Buffer
	for _, it := range q.items {
		line, err := json.Marshal(qRecord{Add: it})
		if err != nil {
			return err
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := writeFileAtomic(q.path, buf.Bytes()); err != nil {
		return fmt.Errorf("chargepoint: rewriting the queue: %w", err)
	}
	q.size = int64(buf.Len())
	return nil
}

// appendRecord appends one line and fsyncs it. The file is opened per
// append, so no descriptor outlives a call (a ChargePoint has no Close).
func (q *txQueue) appendRecord(r qRecord) error {
	if q.path == "" {
		return nil
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	f, err := os.OpenFile(q.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("chargepoint: opening the queue: %w", err)
	}
	_, err = f.Write(line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("chargepoint: writing the queue: %w", err)
	}
	q.size += int64(len(line))
	return nil
}

// push appends a message; it is durable when push returns nil.
func (q *txQueue) push(action string, tx int, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	it := &qItem{Seq: q.seq + 1, Action: action, Tx: tx, Payload: raw}
	if err := q.appendRecord(qRecord{Add: it}); err != nil {
		return err
	}
	q.seq++
	q.items = append(q.items, it)
	return nil
}

func (q *txQueue) head() *qItem {
	if len(q.items) == 0 {
		return nil
	}
	return q.items[0]
}

// pop removes the head if it is still seq.
func (q *txQueue) pop(seq uint64) error {
	if len(q.items) == 0 || q.items[0].Seq != seq {
		return nil
	}
	q.items = q.items[1:]
	if len(q.items) == 0 && q.path != "" {
		// Empty: start the log afresh instead of recording the removal.
		if err := os.Truncate(q.path, 0); err != nil {
			return fmt.Errorf("chargepoint: truncating the queue: %w", err)
		}
		q.size = 0
		return nil
	}
	if err := q.appendRecord(qRecord{Done: seq}); err != nil {
		return err
	}
	if q.size > compactSize {
		return q.rewrite()
	}
	return nil
}

// hasStart reports whether a StartTransaction for transaction ref is queued.
func (q *txQueue) hasStart(ref int) bool {
	for _, it := range q.items {
		if it.Action == "StartTransaction" && it.Tx == ref {
			return true
		}
	}
	return false
}

// writeFileAtomic writes data to path through a synced temporary file and
// a rename, so a crash leaves either the old or the new content.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

func writeJSONFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

// readJSONFile reads path into v; found is false when it does not exist.
func readJSONFile(path string, v any) (found bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := json.NewDecoder(bufio.NewReader(f)).Decode(v); err != nil {
		return false, fmt.Errorf("chargepoint: %s: %w", path, err)
	}
	return true, nil
}
