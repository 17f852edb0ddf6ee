package chargepoint

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/ocpp/v16"
)

// keyKind says how a configuration value is checked.
type keyKind int

const (
	kindBool keyKind = iota + 1
	kindInt
	kindString
	kindMeasurands // comma-separated Measurand list
)

// keyDef is one configuration key the charge point knows.
type keyDef struct {
	name     string
	kind     keyKind
	readonly bool
	reboot   bool // a change takes effect only after a reboot (new connection)
	maxLen   string
	min      int
	def      func(cp *ChargePoint) string
}

func constant(v string) func(*ChargePoint) string { return func(*ChargePoint) string { return v } }

// supportedMeasurands are those the charge point can sample.
var supportedMeasurands = []v16.Measurand{
	v16.MeasurandEnergyActiveImportRegister, v16.MeasurandCurrentImport, v16.MeasurandVoltage,
	v16.MeasurandPowerActiveImport, v16.MeasurandCurrentOffered, v16.MeasurandPowerOffered,
	v16.MeasurandSoC, v16.MeasurandTemperature,
}

// Configuration key names used in code.
const (
	keyAllowOfflineTxForUnknownID      = "AllowOfflineTxForUnknownId"
	keyAuthorizationCacheEnabled       = "AuthorizationCacheEnabled"
	keyAuthorizeRemoteTxRequests       = "AuthorizeRemoteTxRequests"
	keyClockAlignedDataInterval        = "ClockAlignedDataInterval"
	keyConnectionTimeOut               = "ConnectionTimeOut"
	keyGetConfigurationMaxKeys         = "GetConfigurationMaxKeys"
	keyHeartbeatInterval               = "HeartbeatInterval"
	keyLocalAuthorizeOffline           = "LocalAuthorizeOffline"
	keyLocalPreAuthorize               = "LocalPreAuthorize"
	keyMeterValuesAlignedData          = "MeterValuesAlignedData"
	keyMeterValuesSampledData          = "MeterValuesSampledData"
	keyMeterValueSampleInterval        = "MeterValueSampleInterval"
	keyStopTransactionOnEVSideDisc     = "StopTransactionOnEVSideDisconnect"
	keyStopTransactionOnInvalidID      = "StopTransactionOnInvalidId"
	keyStopTxnAlignedData              = "StopTxnAlignedData"
	keyStopTxnSampledData              = "StopTxnSampledData"
	keyTransactionMessageAttempts      = "TransactionMessageAttempts"
	keyTransactionMessageRetryInterval = "TransactionMessageRetryInterval"
	keyUnlockConnectorOnEVSideDisc     = "UnlockConnectorOnEVSideDisconnect"
	keyWebSocketPingInterval           = "WebSocketPingInterval"
	keyLocalAuthListEnabled            = "LocalAuthListEnabled"
	keyLocalAuthListMaxLength          = "LocalAuthListMaxLength"
	keySendLocalListMaxLength          = "SendLocalListMaxLength"
	keyChargeProfileMaxStackLevel      = "ChargeProfileMaxStackLevel"
	keyChargingScheduleAllowedUnit     = "ChargingScheduleAllowedChargingRateUnit"
	keyChargingScheduleMaxPeriods      = "ChargingScheduleMaxPeriods"
	keyMaxChargingProfilesInstalled    = "MaxChargingProfilesInstalled"
	keyReserveConnectorZeroSupported   = "ReserveConnectorZeroSupported"
)

// keyDefs are the Core, Local Auth List Management, Reservation and Smart
// Charging keys of OCPP 1.6, in the order GetConfiguration lists them.
var keyDefs = []keyDef{
	{name: keyAllowOfflineTxForUnknownID, kind: kindBool, def: constant("false")},
	{name: keyAuthorizationCacheEnabled, kind: kindBool, def: constant("true")},
	{name: keyAuthorizeRemoteTxRequests, kind: kindBool, def: constant("false")},
	{name: "BlinkRepeat", kind: kindInt, def: constant("3")},
	{name: keyClockAlignedDataInterval, kind: kindInt, def: constant("0")},
	{name: keyConnectionTimeOut, kind: kindInt, min: 1, def: constant("60")},
	{name: "ConnectorPhaseRotation", kind: kindString, def: func(cp *ChargePoint) string {
		parts := []string{"0.RST"}
		for i := range cp.cfg.Connectors {
			parts = append(parts, strconv.Itoa(i+1)+".RST")
		}
		return strings.Join(parts, ",")
	}},
	{name: "ConnectorPhaseRotationMaxLength", kind: kindInt, readonly: true, def: constant("10")},
	{name: keyGetConfigurationMaxKeys, kind: kindInt, readonly: true, def: constant("100")},
	{name: keyHeartbeatInterval, kind: kindInt, def: constant("300")},
	{name: "LightIntensity", kind: kindInt, def: constant("100")},
	{name: keyLocalAuthorizeOffline, kind: kindBool, def: constant("true")},
	{name: keyLocalPreAuthorize, kind: kindBool, def: constant("false")},
	{name: "MaxEnergyOnInvalidId", kind: kindInt, def: constant("0")},
	{name: keyMeterValuesAlignedData, kind: kindMeasurands, maxLen: "MeterValuesAlignedDataMaxLength", def: constant("Energy.Active.Import.Register")},
	{name: "MeterValuesAlignedDataMaxLength", kind: kindInt, readonly: true, def: constant("10")},
	{name: keyMeterValuesSampledData, kind: kindMeasurands, maxLen: "MeterValuesSampledDataMaxLength", def: constant("Energy.Active.Import.Register,Current.Import,Voltage,Power.Active.Import,Current.Offered,SoC")},
	{name: "MeterValuesSampledDataMaxLength", kind: kindInt, readonly: true, def: constant("10")},
	{name: keyMeterValueSampleInterval, kind: kindInt, def: constant("60")},
	{name: "MinimumStatusDuration", kind: kindInt, def: constant("0")},
	{name: "NumberOfConnectors", kind: kindInt, readonly: true, def: func(cp *ChargePoint) string { return strconv.Itoa(len(cp.cfg.Connectors)) }},
	{name: "ResetRetries", kind: kindInt, def: constant("3")},
	{name: keyStopTransactionOnEVSideDisc, kind: kindBool, def: constant("true")},
	{name: keyStopTransactionOnInvalidID, kind: kindBool, def: constant("true")},
	{name: keyStopTxnAlignedData, kind: kindMeasurands, maxLen: "StopTxnAlignedDataMaxLength", def: constant("")},
	{name: "StopTxnAlignedDataMaxLength", kind: kindInt, readonly: true, def: constant("10")},
	{name: keyStopTxnSampledData, kind: kindMeasurands, maxLen: "StopTxnSampledDataMaxLength", def: constant("Energy.Active.Import.Register")},
	{name: "StopTxnSampledDataMaxLength", kind: kindInt, readonly: true, def: constant("10")},
	{name: "SupportedFeatureProfiles", kind: kindString, readonly: true, def: constant("Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger")},
	{name: "SupportedFeatureProfilesMaxLength", kind: kindInt, readonly: true, def: constant("6")},
	{name: keyTransactionMessageAttempts, kind: kindInt, min: 1, def: constant("3")},
	{name: keyTransactionMessageRetryInterval, kind: kindInt, def: constant("60")},
	{name: keyUnlockConnectorOnEVSideDisc, kind: kindBool, def: constant("true")},
	{name: keyWebSocketPingInterval, kind: kindInt, reboot: true, def: constant("30")},
	{name: keyLocalAuthListEnabled, kind: kindBool, def: constant("true")},
	{name: keyLocalAuthListMaxLength, kind: kindInt, readonly: true, def: constant("1000")},
	{name: keySendLocalListMaxLength, kind: kindInt, readonly: true, def: constant("100")},
	{name: keyReserveConnectorZeroSupported, kind: kindBool, readonly: true, def: constant("true")},
	{name: keyChargeProfileMaxStackLevel, kind: kindInt, readonly: true, def: constant("10")},
	{name: keyChargingScheduleAllowedUnit, kind: kindString, readonly: true, def: constant("Current,Power")},
	{name: keyChargingScheduleMaxPeriods, kind: kindInt, readonly: true, def: constant("24")},
	{name: "ConnectorSwitch3to1PhaseSupported", kind: kindBool, readonly: true, def: constant("false")},
	{name: keyMaxChargingProfilesInstalled, kind: kindInt, readonly: true, def: constant("20")},
}

func findKey(name string) *keyDef {
	for i := range keyDefs {
		if strings.EqualFold(keyDefs[i].name, name) {
			return &keyDefs[i]
		}
	}
	return nil
}

// defaultConfig returns every key's default value.
func defaultConfig(cp *ChargePoint) map[string]string {
	m := make(map[string]string, len(keyDefs))
	for _, k := range keyDefs {
		m[k.name] = k.def(cp)
	}
	return m
}

// checkValue validates v for k and returns it normalised, or ok false.
func (cp *ChargePoint) checkValue(k *keyDef, v string) (string, bool) {
	switch k.kind {
	case kindBool:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			return "true", true
		case "false":
			return "false", true
		}
		return "", false
	case kindInt:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < k.min || n > 1<<30 {
			return "", false
		}
		return strconv.Itoa(n), true
	case kindMeasurands:
		list := splitList(v)
		if k.maxLen != "" && len(list) > cp.confIntLocked(k.maxLen) {
			return "", false
		}
		for _, m := range list {
			if !slices.Contains(supportedMeasurands, v16.Measurand(m)) {
				return "", false
			}
		}
		return strings.Join(list, ","), true
	}
	return v, true
}

func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// confLocked returns a key's value; cp.mu is held.
func (cp *ChargePoint) confLocked(key string) string { return cp.conf[key] }

func (cp *ChargePoint) confIntLocked(key string) int {
	n, _ := strconv.Atoi(cp.conf[key])
	return n
}

func (cp *ChargePoint) confBoolLocked(key string) bool { return cp.conf[key] == "true" }

// getConfiguration answers GetConfiguration.
func (cp *ChargePoint) getConfiguration(keys []string) *v16.GetConfigurationResponse {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	resp := &v16.GetConfigurationResponse{}
	kv := func(k *keyDef) v16.KeyValue {
		return v16.KeyValue{Key: k.name, Readonly: k.readonly, Value: cp.conf[k.name]}
	}
	if len(keys) == 0 {
		for i := range keyDefs {
			resp.ConfigurationKey = append(resp.ConfigurationKey, kv(&keyDefs[i]))
		}
		return resp
	}
	for _, name := range keys {
		if k := findKey(name); k != nil {
			resp.ConfigurationKey = append(resp.ConfigurationKey, kv(k))
		} else {
			resp.UnknownKey = append(resp.UnknownKey, name)
		}
	}
	return resp
}

// changeConfiguration answers ChangeConfiguration and applies the change.
func (cp *ChargePoint) changeConfiguration(key, value string) v16.ConfigurationStatus {
	cp.lock()
	defer cp.unlock()
	k := findKey(key)
	if k == nil {
		return v16.ConfigurationStatusNotSupported
	}
	if k.readonly {
		return v16.ConfigurationStatusRejected
	}
	v, ok := cp.checkValue(k, value)
	if !ok {
		return v16.ConfigurationStatusRejected
	}
	old, wasSet := cp.conf[k.name], cp.confSet[k.name]
	cp.conf[k.name] = v
	cp.confSet[k.name] = true
	if err := cp.saveConfigLocked(); err != nil {
		cp.conf[k.name] = old
		cp.confSet[k.name] = wasSet
		cp.log.Error("saving configuration", "err", err)
		return v16.ConfigurationStatusRejected
	}
	cp.journalLocked("configuration %s = %q", k.name, v)
	cp.configChangedLocked(k.name)
	if k.reboot {
		return v16.ConfigurationStatusRebootRequired
	}
	return v16.ConfigurationStatusAccepted
}

// configChangedLocked makes a change take effect.
func (cp *ChargePoint) configChangedLocked(name string) {
	switch name {
	case keyHeartbeatInterval:
		cp.pokeHeartbeat()
	case keyMeterValueSampleInterval:
		now := cp.clock.Now()
		for _, c := range cp.conns[1:] {
			c.nextSample = time.Time{}
			if c.tx != nil {
				c.nextSample = cp.nextSampleAfter(now)
			}
		}
		cp.pokeHousekeeper()
	case keyClockAlignedDataInterval:
		cp.nextAligned = time.Time{}
		cp.pokeHousekeeper()
	case keyLocalAuthListEnabled, keyAuthorizationCacheEnabled:
	}
}

// saveConfigLocked persists the keys the central system set (the others
// follow Config and the defaults).
func (cp *ChargePoint) saveConfigLocked() error {
	if cp.cfg.DataDir == "" {
		return nil
	}
	out := map[string]string{}
	for name := range cp.confSet {
		out[name] = cp.conf[name]
	}
	return writeJSONFile(cp.path("config.json"), out)
}

// loadConfig reads persisted keys over the defaults, ignoring what is no
// longer valid.
func (cp *ChargePoint) loadConfig() error {
	cp.conf = defaultConfig(cp)
	cp.confSet = map[string]bool{}
	for name, v := range cp.cfg.Configuration {
		k := findKey(name)
		if k == nil {
			return fmt.Errorf("chargepoint: unknown configuration key %q", name)
		}
		nv, ok := cp.checkValue(k, v)
		if !ok {
			return fmt.Errorf("chargepoint: invalid value %q for configuration key %s", v, k.name)
		}
		cp.conf[k.name] = nv
	}
	if cp.cfg.DataDir == "" {
		return nil
	}
	var saved map[string]string
	found, err := readJSONFile(cp.path("config.json"), &saved)
	if err != nil || !found {
		return err
	}
	for name, v := range saved {
		k := findKey(name)
		if k == nil || k.readonly {
			continue
		}
		if nv, ok := cp.checkValue(k, v); ok {
			cp.conf[k.name] = nv
			cp.confSet[k.name] = true
		}
	}
	return nil
}
