package events

import (
	"encoding/json"
	"testing"
)

func TestPublishFiltersAndDrops(t *testing.T) {
	var b Bus
	all := b.Subscribe("", 4)
	one := b.Subscribe("CP1", 1)
	b.Publish(ConnectorStatus, "CP1", map[string]any{"status": "Charging"})
	b.Publish(ConnectorStatus, "CP2", json.RawMessage(`{"status":"Available"}`))
	b.Publish(ChargerConnected, "CP1", nil) // one's buffer is full: dropped for it

	if e := <-one.C; e.ChargerID != "CP1" || string(e.Data) != `{"status":"Charging"}` {
		t.Fatalf("CP1 subscriber got %+v", e)
	}
	if len(one.C) != 0 {
		t.Fatalf("CP1 subscriber got another charger's event")
	}
	if got := b.Dropped.Load(); got != 1 {
		t.Fatalf("Dropped = %d, want 1", got)
	}
	for _, want := range []string{"CP1", "CP2", "CP1"} {
		if e := <-all.C; e.ChargerID != want {
			t.Fatalf("got %s, want %s", e.ChargerID, want)
		}
	}
	all.Close()
	all.Close()
	if _, ok := <-all.C; ok {
		t.Fatal("channel open after Close")
	}
	b.Publish(ChargerConnected, "CP1", nil) // no panic on a closed subscriber
}
