package events

// ReservationUpdated is published whenever a reservation is created or
// changes status (accepted, refused, cancelled, expired, used); its data is
// the reservation as the API shows it.
const ReservationUpdated = "reservation.updated"
