package csms

import (
	"context"
	"errors"

	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// authorize decides an id tag's IdTagInfo: unknown → Invalid, blocked →
// Blocked, past its expiry → Expired, and, when checkConcurrent is set and
// concurrent transactions are not allowed, a tag that already runs a
// transaction other than exceptTx → ConcurrentTx.
func (s *Service) authorize(ctx context.Context, idTag string, checkConcurrent bool, exceptTx int64) (v16.IDTagInfo, error) {
	tag, err := s.st.GetIDTag(ctx, idTag)
	if errors.Is(err, store.ErrNotFound) {
		return v16.IDTagInfo{Status: v16.AuthorizationStatusInvalid}, nil
	}
	if err != nil {
		return v16.IDTagInfo{}, err
	}
	info := v16.IDTagInfo{ParentIDTag: tag.ParentIDTag, ExpiryDate: tag.ExpiryDate}
	switch tag.Status {
	case store.IDTagBlocked:
		info.Status = v16.AuthorizationStatusBlocked
	case store.IDTagExpired:
		info.Status = v16.AuthorizationStatusExpired
	case store.IDTagAccepted:
		info.Status = v16.AuthorizationStatusAccepted
		if tag.ExpiryDate != nil && !tag.ExpiryDate.After(s.now()) {
			info.Status = v16.AuthorizationStatusExpired
		}
	default:
		info.Status = v16.AuthorizationStatusInvalid
	}
	if info.Status != v16.AuthorizationStatusAccepted || !checkConcurrent || s.cfg.AllowConcurrentTx {
		return info, nil
	}
	active := true
	txs, err := s.st.ListTransactions(ctx, store.TxFilter{IDTag: idTag, Active: &active, Limit: 2})
	if err != nil {
		return v16.IDTagInfo{}, err
	}
	for _, tx := range txs {
		if tx.ID != exceptTx {
			info.Status = v16.AuthorizationStatusConcurrentTx
			break
		}
	}
	return info, nil
}
