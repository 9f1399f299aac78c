// Package api holds the OpenAPI 3 document of the public HTTP API: every route
// of auth-service, account-service and transaction-service, and the Actuator
// endpoints every service serves. Its test fails when the document and the
// routes the services register disagree.
package api

import _ "embed"

// OpenAPI is api/openapi.yaml, the OpenAPI 3.0.3 document describing exactly
// what is served.
//
//go:embed openapi.yaml
var OpenAPI []byte
