package v16

//go:generate go run ../../internal/cmd/ocppgen -schema ../../../shared/ocpp/schemas/ocpp1.6.json -out messages_gen.go -package v16
