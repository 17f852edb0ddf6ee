package rules

import (
	"encoding/json"

	"github.com/wattson-csms/wattson/store"
)

// ConfigSnapshot checks a snapshot and returns its keys and unknown keys
// as JSON arrays (never null).
func ConfigSnapshot(s store.ConfigSnapshot) (keys, unknown []byte, err error) {
	if err := ChargerID(s.ChargerID); err != nil {
		return nil, nil, err
	}
	for _, k := range s.Keys {
		if k.Key == "" {
			return nil, nil, invalid("configuration key without a name")
		}
	}
	ks, us := s.Keys, s.UnknownKeys
	if ks == nil {
		ks = []store.ConfigKey{}
	}
	if us == nil {
		us = []string{}
	}
	if keys, err = json.Marshal(ks); err != nil {
		return nil, nil, err
	}
	if unknown, err = json.Marshal(us); err != nil {
		return nil, nil, err
	}
	return keys, unknown, nil
}

// DecodeConfigSnapshot fills the keys of a snapshot from their JSON.
func DecodeConfigSnapshot(s *store.ConfigSnapshot, keys, unknown []byte) error {
	s.Keys, s.UnknownKeys = []store.ConfigKey{}, []string{}
	if err := json.Unmarshal(keys, &s.Keys); err != nil {
		return err
	}
	if err := json.Unmarshal(unknown, &s.UnknownKeys); err != nil {
		return err
	}
	if s.Keys == nil {
		s.Keys = []store.ConfigKey{}
	}
	if s.UnknownKeys == nil {
		s.UnknownKeys = []string{}
	}
	return nil
}
