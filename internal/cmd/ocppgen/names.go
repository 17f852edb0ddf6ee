package main

// The tables below hold what the schema files do not say: who sends each
// action, and the names the specifications give to types the schemas
// declare inline. A new schema file adds rows here; the generator stops with
// an error when an action has no initiator or two types get one name.

// initiators maps an action to the side that sends its request.
var initiators = map[string]string{
	// OCPP 1.6 core profiles.
	"Authorize":                     "ChargePoint",
	"BootNotification":              "ChargePoint",
	"DataTransfer":                  "Both",
	"DiagnosticsStatusNotification": "ChargePoint",
	"FirmwareStatusNotification":    "ChargePoint",
	"Heartbeat":                     "ChargePoint",
	"MeterValues":                   "ChargePoint",
	"StartTransaction":              "ChargePoint",
	"StatusNotification":            "ChargePoint",
	"StopTransaction":               "ChargePoint",
	"CancelReservation":             "CentralSystem",
	"ChangeAvailability":            "CentralSystem",
	"ChangeConfiguration":           "CentralSystem",
	"ClearCache":                    "CentralSystem",
	"ClearChargingProfile":          "CentralSystem",
	"GetCompositeSchedule":          "CentralSystem",
	"GetConfiguration":              "CentralSystem",
	"GetDiagnostics":                "CentralSystem",
	"GetLocalListVersion":           "CentralSystem",
	"RemoteStartTransaction":        "CentralSystem",
	"RemoteStopTransaction":         "CentralSystem",
	"ReserveNow":                    "CentralSystem",
	"Reset":                         "CentralSystem",
	"SendLocalList":                 "CentralSystem",
	"SetChargingProfile":            "CentralSystem",
	"TriggerMessage":                "CentralSystem",
	"UnlockConnector":               "CentralSystem",
	"UpdateFirmware":                "CentralSystem",
	// OCPP 1.6 security extension.
	"LogStatusNotification":            "ChargePoint",
	"SecurityEventNotification":        "ChargePoint",
	"SignCertificate":                  "ChargePoint",
	"SignedFirmwareStatusNotification": "ChargePoint",
	"CertificateSigned":                "CentralSystem",
	"DeleteCertificate":                "CentralSystem",
	"ExtendedTriggerMessage":           "CentralSystem",
	"GetInstalledCertificateIds":       "CentralSystem",
	"GetLog":                           "CentralSystem",
	"InstallCertificate":               "CentralSystem",
	"SignedUpdateFirmware":             "CentralSystem",
}

// renames maps a name candidate (the property name, or owner + "Status" /
// "Type" for the ubiquitous status and type properties, or a definition
// name without "EnumType"/"Type") to the specification's name. A key
// "<Action>.req:<candidate>" applies to one message only.
var renames = map[string]string{
	// Objects.
	"CsChargingProfiles":     "ChargingProfile",
	"ConfigurationKey":       "KeyValue",
	"LocalAuthorizationList": "AuthorizationData",
	"TransactionData":        "MeterValue",
	// Enums, named as in the OCPP 1.6 specification.
	"IdTagInfoStatus":                     "AuthorizationStatus",
	"BootNotificationStatus":              "RegistrationStatus",
	"ChangeAvailabilityType":              "AvailabilityType",
	"ChangeAvailabilityStatus":            "AvailabilityStatus",
	"ChangeConfigurationStatus":           "ConfigurationStatus",
	"DiagnosticsStatusNotificationStatus": "DiagnosticsStatus",
	"FirmwareStatusNotificationStatus":    "FirmwareStatus",
	"RequestedMessage":                    "MessageTrigger",
	"Context":                             "ReadingContext",
	"Format":                              "ValueFormat",
	"Unit":                                "UnitOfMeasure",
	"ErrorCode":                           "ChargePointErrorCode",
	"StatusNotificationStatus":            "ChargePointStatus",
	"ReserveNowStatus":                    "ReservationStatus",
	"SendLocalListStatus":                 "UpdateStatus",
	"SetChargingProfileStatus":            "ChargingProfileStatus",
	"UnlockConnectorStatus":               "UnlockStatus",
	"Log":                                 "LogType",
	// The security extension reuses names of the core for other value sets.
	"SignedFirmwareStatusNotification.req:FirmwareStatus": "SignedFirmwareStatus",
	"ExtendedTriggerMessage.req:MessageTrigger":           "ExtendedMessageTrigger",
}

// enumValueNames names enums by their sorted value set, for sets that many
// messages share under different names.
var enumValueNames = map[string]string{
	"Accepted,Rejected": "GenericStatus",
}
