// Package weatherd carries the files embedded into the weatherd binary.
package weatherd

import _ "embed"

// DefaultConfig is config.yaml, the fully commented embedded default
// configuration every other configuration is merged over.
//
//go:embed config.yaml
var DefaultConfig []byte
