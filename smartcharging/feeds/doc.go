// Package feeds brings the outside data smart charging needs into the
// central system: the energy price schedule for low-cost charging and the
// site's surplus power for solar charging. It does the I/O and the parsing;
// the decisions stay in package smartcharging.
//
// Prices come from a file or an HTTP(S) URL as JSON or CSV (ParsePrices
// says which shapes), fetched by a PriceSource and refreshed by a PriceFeed:
// at once, then every Every, sooner after a failure. Only whole schedules
// are applied: one with a single bad slot is not applied at all. Prices
// are per kWh in whatever currency the source uses; a source that says its
// unit is per MWh is converted.
//
// The site meter publishes over MQTT, as JSON, the surplus power in W the
// site exports to the grid: positive while exporting (the sun makes more
// than the site uses), negative while importing. A meter that reports grid
// import as positive, as most do, is read with Negate set. The value is the
// site's total, cars included: smartcharging adds back what the solar
// connectors draw. Retained messages are ignored, since their age is
// unknown; a meter publishes every few seconds anyway, and the time of
// arrival is the time a reading is taken to be from.
package feeds
