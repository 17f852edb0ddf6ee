package api

import (
	"net/http"
	"sort"
	"strings"
)

// standardKey is a configuration key OCPP 1.6 defines (chapter 9, and the
// security extension's AuthorizationKey and SecurityProfile).
type standardKey struct {
	Key     string
	Profile string
	Access  string // R, RW or W
	Type    string // boolean, integer, CSL, string
	Unit    string
}

var standardKeys = []standardKey{
	{"AllowOfflineTxForUnknownId", "Core", "RW", "boolean", ""},
	{"AuthorizationCacheEnabled", "Core", "RW", "boolean", ""},
	{"AuthorizeRemoteTxRequests", "Core", "RW", "boolean", ""},
	{"BlinkRepeat", "Core", "RW", "integer", "times"},
	{"ClockAlignedDataInterval", "Core", "RW", "integer", "seconds"},
	{"ConnectionTimeOut", "Core", "RW", "integer", "seconds"},
	{"ConnectorPhaseRotation", "Core", "RW", "CSL", ""},
	{"ConnectorPhaseRotationMaxLength", "Core", "R", "integer", ""},
	{"GetConfigurationMaxKeys", "Core", "R", "integer", ""},
	{"HeartbeatInterval", "Core", "RW", "integer", "seconds"},
	{"LightIntensity", "Core", "RW", "integer", "%"},
	{"LocalAuthorizeOffline", "Core", "RW", "boolean", ""},
	{"LocalPreAuthorize", "Core", "RW", "boolean", ""},
	{"MaxEnergyOnInvalidId", "Core", "RW", "integer", "Wh"},
	{"MeterValuesAlignedData", "Core", "RW", "CSL", ""},
	{"MeterValuesAlignedDataMaxLength", "Core", "R", "integer", ""},
	{"MeterValuesSampledData", "Core", "RW", "CSL", ""},
	{"MeterValuesSampledDataMaxLength", "Core", "R", "integer", ""},
	{"MeterValueSampleInterval", "Core", "RW", "integer", "seconds"},
	{"MinimumStatusDuration", "Core", "RW", "integer", "seconds"},
	{"NumberOfConnectors", "Core", "R", "integer", ""},
	{"ResetRetries", "Core", "RW", "integer", "times"},
	{"StopTransactionOnEVSideDisconnect", "Core", "RW", "boolean", ""},
	{"StopTransactionOnInvalidId", "Core", "RW", "boolean", ""},
	{"StopTxnAlignedData", "Core", "RW", "CSL", ""},
	{"StopTxnAlignedDataMaxLength", "Core", "R", "integer", ""},
	{"StopTxnSampledData", "Core", "RW", "CSL", ""},
	{"StopTxnSampledDataMaxLength", "Core", "R", "integer", ""},
	{"SupportedFeatureProfiles", "Core", "R", "CSL", ""},
	{"SupportedFeatureProfilesMaxLength", "Core", "R", "integer", ""},
	{"TransactionMessageAttempts", "Core", "RW", "integer", "times"},
	{"TransactionMessageRetryInterval", "Core", "RW", "integer", "seconds"},
	{"UnlockConnectorOnEVSideDisconnect", "Core", "RW", "boolean", ""},
	{"WebSocketPingInterval", "Core", "RW", "integer", "seconds"},
	{"LocalAuthListEnabled", "LocalAuthListManagement", "RW", "boolean", ""},
	{"LocalAuthListMaxLength", "LocalAuthListManagement", "R", "integer", ""},
	{"SendLocalListMaxLength", "LocalAuthListManagement", "R", "integer", ""},
	{"ReserveConnectorZeroSupported", "Reservation", "R", "boolean", ""},
	{"ChargeProfileMaxStackLevel", "SmartCharging", "R", "integer", ""},
	{"ChargingScheduleAllowedChargingRateUnit", "SmartCharging", "R", "CSL", ""},
	{"ChargingScheduleMaxPeriods", "SmartCharging", "R", "integer", ""},
	{"ConnectorSwitch3to1PhaseSupported", "SmartCharging", "R", "boolean", ""},
	{"MaxChargingProfilesInstalled", "SmartCharging", "R", "integer", ""},
	{"AuthorizationKey", "Security", "W", "string", ""},
	{"SecurityProfile", "Security", "RW", "integer", ""},
}

// ConfigKeyNameJSON is a key to suggest: a standard one, one seen in a
// snapshot, or both.
type ConfigKeyNameJSON struct {
	Key      string `json:"key"`
	Readonly bool   `json:"readonly"`
	Standard bool   `json:"standard"`
	Seen     bool   `json:"seen"`
	Profile  string `json:"profile,omitempty"`
	Type     string `json:"type,omitempty"`
	Unit     string `json:"unit,omitempty"`
}

// configKeys is GET /configuration/keys: the standard keys of OCPP 1.6
// and the keys seen in any snapshot, by name.
func (a *API) configKeys(w http.ResponseWriter, r *http.Request) error {
	seen, err := a.st.ConfigKeyNames(r.Context())
	if err != nil {
		return err
	}
	byFold := make(map[string]*ConfigKeyNameJSON, len(standardKeys)+len(seen))
	for _, k := range standardKeys {
		byFold[strings.ToLower(k.Key)] = &ConfigKeyNameJSON{Key: k.Key, Readonly: k.Access == "R", Standard: true,
			Profile: k.Profile, Type: k.Type, Unit: k.Unit}
	}
	for _, k := range seen {
		f := strings.ToLower(k.Key)
		if j := byFold[f]; j != nil {
			// What chargers report wins over the standard's access: some
			// make a RW key read-only.
			j.Seen, j.Readonly = true, k.Readonly
			continue
		}
		byFold[f] = &ConfigKeyNameJSON{Key: k.Key, Readonly: k.Readonly, Seen: true}
	}
	out := make([]ConfigKeyNameJSON, 0, len(byFold))
	for _, j := range byFold {
		out = append(out, *j)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Key) < strings.ToLower(out[j].Key) })
	return writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}
