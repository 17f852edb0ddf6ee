package ocpp

// Conn is one OCPP-J connection (being written; placeholder so that the
// package builds).
type Conn struct {
	id string
}

// ID returns the charger id of the connection.
func (c *Conn) ID() string { return c.id }
