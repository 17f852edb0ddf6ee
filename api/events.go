package api

import (
	"bufio"
	"encoding/json"
	"net/http"
	"time"
)

// streamEvents is GET /events: live events as Server-Sent Events, one
// charger's with ?chargerId=. Each event is "event: <type>" and "data: <the
// event as JSON>"; a comment line every EventPingInterval keeps idle
// streams open through proxies. A client that reads too slowly loses
// events rather than holding up the chargers. The stream ends when the
// client goes away or at Close.
func (a *API) streamEvents(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	chargerID := q.str("chargerId", 48)
	if q.err != nil {
		return q.err
	}
	rc := http.NewResponseController(w)
	// The stream outlives any write timeout the server has.
	_ = rc.SetWriteDeadline(time.Time{})
	sub := a.svc.Events().Subscribe(chargerID, 256)
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	flush := func() bool {
		return bw.Flush() == nil && rc.Flush() == nil
	}
	// The first comment tells the client the subscription is live.
	_, _ = bw.WriteString(": subscribed\n\n")
	if !flush() {
		return nil
	}
	ping := time.NewTicker(a.cfg.EventPingInterval)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-a.closing:
			return nil
		case <-ping.C:
			_, _ = bw.WriteString(": ping\n\n")
		case e, ok := <-sub.C:
			if !ok {
				return nil
			}
			data, err := json.Marshal(e) // one line: Marshal compacts
			if err != nil {
				a.log.Error("encoding an event", "type", e.Type, "err", err)
				continue
			}
			_, _ = bw.WriteString("event: ")
			_, _ = bw.WriteString(e.Type)
			_, _ = bw.WriteString("\ndata: ")
			_, _ = bw.Write(data)
			_, _ = bw.WriteString("\n\n")
		}
		if !flush() {
			return nil
		}
	}
}
