package kcl

import fenced "github.com/weatherd/weatherd/pkg/lease"

// state is the processor state of l, unpacked: it is stored gzipped
// (lease.PackBlob), since every renewal of the item pays for it again.
func (l lease) state() []byte {
	if len(l.State) == 0 {
		return nil
	}
	return fenced.UnpackBlob(l.State)
}
