"""Everything that speaks Clockwork's REST API: the contract, the client, its HTTP transport with one deadline per request, and its domain errors."""
