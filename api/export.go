package api

import (
	"bufio"
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	"github.com/wattson-csms/wattson/store"
)

// maxExportRows caps one CSV export.
const maxExportRows = 100_000

// exportPage is how many transactions one store read of an export fetches.
const exportPage = 1000

var csvHeader = []string{"id", "chargerId", "connectorId", "idTag", "startedAt", "stoppedAt",
	"meterStart", "meterStop", "energyWh", "stopReason"}

// exportTransactions is GET /transactions.csv: the transactions the same
// filters as GET /transactions select, newest first, as CSV, streamed page
// by page, at most maxExportRows (limit= lowers it).
func (a *API) exportTransactions(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := txFilter(q)
	limit := maxExportRows
	if v := q.str("limit", 10); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxExportRows {
			q.fail("limit", "limit must be an integer from 1 to %d", maxExportRows)
		}
		limit = n
	}
	if q.err != nil {
		return q.err
	}
	f.Limit = min(exportPage, limit)
	// The first page is read before the answer starts, so that an error
	// is still a problem document.
	txs, err := a.st.ListTransactions(r.Context(), f)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="transactions.csv"`)
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	cw := csv.NewWriter(bw)
	_ = cw.Write(csvHeader)
	written := 0
	row := make([]string, len(csvHeader))
	for {
		for _, t := range txs {
			if written == limit {
				break
			}
			_ = cw.Write(csvRow(row, t))
			written++
		}
		if written == limit || len(txs) < f.Limit {
			break
		}
		cw.Flush()
		if cw.Error() != nil {
			return nil // the client went away
		}
		f.Before = txs[len(txs)-1].ID
		f.Limit = min(exportPage, limit-written)
		if txs, err = a.st.ListTransactions(r.Context(), f); err != nil {
			// Too late for a problem: the CSV ends short, the log says why.
			a.log.Error("transactions export cut short", "rows", written, "err", err)
			break
		}
	}
	cw.Flush()
	_ = bw.Flush()
	return nil
}

func csvRow(row []string, t store.Transaction) []string {
	row[0] = strconv.FormatInt(t.ID, 10)
	row[1] = csvText(t.ChargerID)
	row[2] = strconv.Itoa(t.ConnectorID)
	row[3] = csvText(t.IDTag)
	row[4] = t.StartedAt.UTC().Format(time.RFC3339)
	row[5], row[7], row[8] = "", "", ""
	if t.StoppedAt != nil {
		row[5] = t.StoppedAt.UTC().Format(time.RFC3339)
	}
	row[6] = strconv.FormatInt(t.MeterStart, 10)
	if t.MeterStop != nil {
		row[7] = strconv.FormatInt(*t.MeterStop, 10)
		row[8] = strconv.FormatInt(t.EnergyWh(), 10)
	}
	row[9] = csvText(t.StopReason)
	return row
}

// csvText defuses CSV injection: a spreadsheet runs a cell that starts
// with = + - @ (or a tab or carriage return) as a formula, so such a cell
// gets a leading apostrophe. Only text from chargers and users needs it.
func csvText(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
