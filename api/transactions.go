package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/store"
)

// TransactionDetailJSON is one transaction with all its meter samples.
type TransactionDetailJSON struct {
	csms.TransactionJSON
	MeterValues []csms.SampleJSON `json:"meterValues"`
}

func (a *API) listTransactions(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := txFilter(q)
	f.Limit = q.limit()
	if q.err != nil {
		return q.err
	}
	limit := f.Limit
	f.Limit = fetchLimit(limit)
	txs, err := a.st.ListTransactions(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]csms.TransactionJSON, len(txs))
	for i, tx := range txs {
		out[i] = csms.TransactionToJSON(tx)
	}
	return writeJSON(w, http.StatusOK, page(out, limit, func(t csms.TransactionJSON) string { return strconv.FormatInt(t.ID, 10) }))
}

func (a *API) getTransaction(w http.ResponseWriter, r *http.Request) error {
	id, err := intPath(r, "id", 1, 1<<63-1)
	if err != nil {
		return err
	}
	tx, err := a.st.GetTransaction(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no transaction %d", id)
	}
	if err != nil {
		return err
	}
	ms, err := a.st.TransactionMeterValues(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, TransactionDetailJSON{TransactionJSON: csms.TransactionToJSON(tx), MeterValues: samplesJSON(ms)})
}

// txFilter reads the filters GET /transactions and its CSV export share;
// errors are left in q.
func txFilter(q *query) store.TxFilter {
	f := store.TxFilter{
		ChargerID: q.str("chargerId", 48),
		IDTag:     q.str("idTag", maxIDTag),
		Active:    q.boolean("active"),
		From:      q.time("from"),
		To:        q.time("to"),
		Before:    q.id("before"),
	}
	if q.err == nil && f.From != nil && f.To != nil && f.To.Before(*f.From) {
		q.fail("to", "to is before from")
	}
	return f
}
